// Pure merging of the nodes' answers into one API answer (no I/O; unit-tested). The rules are
// docs/tracer-svc.md's "Merging".
// A node's reply is a transport failure, a 5xx, 1xx or 3xx (all "failed": named in
// X-Tracer-Failed-Nodes), a 4xx (an ordinary "not here" answer, e.g. no matching containers on
// that node) or a 2xx.
// Status: any 2xx with a usable body -> 200 with the merged maps; otherwise every 4xx -> that
// status with the nodes' reasons; otherwise (everything failed, including 2xx answers whose body
// is not a JSON object) -> 502 with the reasons.
// Nothing a node answered is lost or mixed with another node's: entries from different nodes
// (or namespaces) are never merged into one, they get distinct keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>

#include "common/http.h"

namespace ct::svc {

struct NodeReply {
    std::string node;               // "host:port", the directory key
    std::optional<std::string> failure;  // transport error or timeout, "" never; set -> status/body unused
    int status = 0;
    std::string body;

    bool ok() const { return !failure && status >= 200 && status < 300; }
    bool refused() const { return !failure && status >= 400 && status < 500; }
    // Neither an answer nor a refusal: transport error, 5xx, and what a node never sends (1xx, 3xx).
    bool failed() const { return !ok() && !refused(); }
};

// Which answer is merged, and so how same-named entries of different nodes are kept apart.
enum class MergeKind {
    kPods,      // GET /v1/pods: pod entries keyed <pod>, <namespace>/<pod>, then ...@<node>
    kHooks,     // GET /v1/trace-hooks: directories and their "Tracers" unioned, "Variants" when they differ
    kSessions,  // session maps (GET, POST): keyed by random ids; the first node's entry wins a clash
};

struct Merged {
    http::Response response;
    std::vector<std::string> failed;        // "node: reason" for each failed node
    std::vector<std::string> failed_nodes;  // the same nodes' keys, for X-Tracer-Failed-Nodes
    // For session answers: which node answered each top-level key (the session id).
    std::vector<std::pair<std::string, std::string>> owners;  // (key, node)
};

// Merges one fan-out's map answers as they come: add() parses a reply at once, so the parsing
// overlaps with waiting for the slower nodes; finish() builds the answer. The result depends
// only on the replies and their indexes, never on the order they were added in.
// Not thread-safe: used by one thread at a time (add() may run on the fan-out's I/O thread while
// the caller waits for the fan-out, finish() on the caller afterwards).
class MapMerge {
public:
    // `in_place` false: every body is parsed into a tree (tests compare both ways).
    MapMerge(MergeKind kind, size_t nodes, bool in_place = true);
    MapMerge(const MapMerge&) = delete;
    MapMerge& operator=(const MapMerge&) = delete;

    // The reply of the node at `index` (< nodes), once per index.
    void add(size_t index, NodeReply reply);
    // Once, after every index was added.
    Merged finish();

private:
    // One pod entry read in place from a node's body (no JSON tree): what the keys are made of,
    // and where the value's containers that lack "Node" end (the name goes in before their '}').
    struct RawPod {
        std::string_view key;
        size_t begin = 0, end = 0;      // the value: body[begin, end)
        std::string_view pod, ns, node; // from the first container; pod = key, ns = "", node = null if not said
        std::vector<std::pair<size_t, bool>> add_node;  // '}' of a container without "Node", container empty
        bool first_container = true;    // while scanning: no container object seen yet
    };
    struct Slot {
        NodeReply reply;
        bool added = false;
        bool usable = false;                      // a 2xx whose body is a JSON object
        std::optional<boost::json::object> map;   // parsed into arena_ (hooks, sessions, unusual pods)
        size_t first_pod = 0, pods = 0;           // read in place from reply.body: pods_[first_pod, +pods)
    };
    void parse(Slot& slot);
    // Appends the pods of a body, read in place; false when the body needs a real parse (it may
    // still be good; what was appended is then to be dropped).
    static bool scan_pods(std::string_view body, std::vector<RawPod>& pods);
    std::string merge_pods();
    boost::json::value merge_hooks();
    boost::json::value merge_sessions(Merged& merged);

    MergeKind kind_;
    bool in_place_;
    boost::json::monotonic_resource arena_;  // every parsed body and the answer: moved, never copied
    boost::json::parser parser_;
    std::vector<Slot> slots_;
    std::vector<RawPod> pods_;  // of every slot, in the order they were added
};

// Every reply at once: MapMerge over replies[i] at index i.
Merged merge_maps(std::vector<NodeReply> replies, MergeKind kind);
// PUT/DELETE: any 2xx -> 200 {}; otherwise as merge_maps.
Merged merge_empty(const std::vector<NodeReply>& replies);
// GET /v1/trace-session/<id>/stats: the 2xx answers' counts summed per pod, container and
// syscall (common/syscall_stats.h); otherwise as merge_maps. A 2xx body that is not a stats
// answer counts as failed.
Merged merge_stats(const std::vector<NodeReply>& replies);

// The reason a reply failed or was refused: the transport error, the node's {"error": ...}
// text, or the raw body cut short.
std::string reply_reason(const NodeReply& reply);

}  // namespace ct::svc
