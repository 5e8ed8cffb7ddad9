// SvcApi: tracer-svc's REST API (the same /v1 as tracer-node, docs/api.md) over the fan-out.
// Validates what is cheap locally (ids, JSON bodies) before asking any node, sends each request to
// every node of the directory (PUT/DELETE of an id only to its owner when known), merges the
// answers (merge.h) and names failed nodes in X-Tracer-Failed-Nodes and the log. A session's live
// stream is relayed from its owning node (stream_proxy.h).
// Handlers run on the HTTP server's pool threads, concurrently; all state here is guarded.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/router.h"
#include "tracer-svc/fanout/fanout_client.h"
#include "tracer-svc/nodes/node_directory.h"

namespace ct::svc {

inline constexpr const char* kFailedNodesHeader = "X-Tracer-Failed-Nodes";
inline constexpr const char* kAskedNodesHeader = "X-Tracer-Nodes";

// Pure request validation, shared shape with tracer-node's answers.
// "all" -> nullopt; a decimal u64 -> that text; else kInvalidArgument naming the value.
Result<std::optional<std::string>> check_session_id(const std::string& text);
// {"Run": true|false} -> kInvalidArgument naming what is wrong.
Status check_run_body(const std::string& body);
// A JSON object -> ok; kInvalidArgument otherwise.
Status check_session_spec(const std::string& body);

struct SvcApiOptions {
    // Per node, for PUT and DELETE of sessions: they start and stop trace hooks, and a node may
    // take up to its --hook-start-timeout, or its --stop-grace plus --drain-limit, to answer.
    // Everything else has the fan-out's own (short) timeout.
    std::chrono::milliseconds session_change_timeout{60000};
};

class SvcApi {
public:
    SvcApi(NodeDirectory& directory, FanoutClient& fanout, SvcApiOptions options = {});

    http::Router router();
    void observe(const std::string& route, const std::string& method, int status);

    // The node that owns a session id, "" when unknown (for tests and logs).
    std::string owner_of(const std::string& id) const;

private:
    http::Response fan(const Call& call, const std::vector<NodeAddress>& nodes, bool maps, MergeDepth depth,
                       bool remember_owners);
    // The same with any merge of the replies (merge.h).
    http::Response fan_merged(const Call& call, const std::vector<NodeAddress>& nodes,
                              const std::function<Merged(const std::vector<NodeReply>&)>& merge, bool remember_owners);
    http::Response get_session(const std::string& id);
    http::Response post_session(const http::Request& request);
    http::Response put_session(const std::string& id, const http::Request& request);
    http::Response delete_session(const std::string& id);
    http::Response stream_session(const std::string& id);
    http::Response session_statistics(const std::string& id);
    http::Response metrics();
    // The owner when known and still in the directory, else every node.
    std::vector<NodeAddress> targets_for(const std::string& id, const std::vector<NodeAddress>& nodes) const;

    NodeDirectory& directory_;
    FanoutClient& fanout_;
    SvcApiOptions options_;

    mutable std::mutex mu_;  // guards owners_, requests_, node_failures_
    std::unordered_map<std::string, std::string> owners_;  // session id -> node key
    std::map<std::string, uint64_t> requests_;              // "route|method|status" -> count
    std::map<std::string, uint64_t> node_failures_;         // node key -> count
};

}  // namespace ct::svc
