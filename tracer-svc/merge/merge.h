// Pure merging of the nodes' answers into one API answer (no I/O; unit-tested).
// A node's reply is a transport failure, a 5xx, 1xx or 3xx (all "failed": named in
// X-Tracer-Failed-Nodes), a 4xx (an ordinary "not here" answer, e.g. no matching containers on
// that node) or a 2xx.
// Rules: any 2xx with a usable body -> 200 with the union of the 2xx maps; otherwise every 4xx ->
// that status with the nodes' reasons; otherwise (everything failed, including 2xx answers whose
// body is not a JSON object) -> 502 with the reasons.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

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

// How deep maps from different nodes are unioned: 0 = top-level keys only (first node wins on a
// clash), 2 = also the nested maps two levels down ("pod" -> "Containers" -> container;
// "trace-hooks/ftrace" -> "Tracers" -> hook).
enum class MergeDepth { kTopLevel = 0, kNested = 2 };

struct Merged {
    http::Response response;
    std::vector<std::string> failed;   // "node: reason" for each failed node
    // For session answers: which node answered each top-level key (the session id).
    std::vector<std::pair<std::string, std::string>> owners;  // (key, node)
};

// GET /v1/pods, GET /v1/trace-hooks, GET /v1/trace-session/<id|all>, POST /v1/trace-session.
Merged merge_maps(const std::vector<NodeReply>& replies, MergeDepth depth);
// PUT/DELETE: any 2xx -> 200 {}; otherwise as merge_maps.
Merged merge_empty(const std::vector<NodeReply>& replies);
// GET /v1/trace-session/<id>/stats: the 2xx answers' counts summed per pod, container and
// syscall (common/syscall_stats.h); otherwise as merge_maps. A 2xx body that is not a stats
// answer counts as failed.
Merged merge_stats(const std::vector<NodeReply>& replies);

// Unions `from` into `into`; keys already present win unless both are objects and depth > 0.
void union_into(boost::json::object& into, const boost::json::object& from, int depth);

// The reason a reply failed or was refused: the transport error, the node's {"error": ...}
// text, or the raw body cut short.
std::string reply_reason(const NodeReply& reply);

}  // namespace ct::svc
