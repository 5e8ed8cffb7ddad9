// SvcApi: tracer-svc's REST API (the same /v1 as tracer-node, docs/api.md) over the fan-out.
// Validates what is cheap locally (ids, JSON bodies) before asking any node, sends each request to
// every node of the directory (PUT/DELETE of an id only to its owner when known), merges the
// answers (merge.h) and names failed nodes in X-Tracer-Failed-Nodes and the log. A session's live
// stream is relayed from its owning node, one node stream per session fanned out to every reader
// (stream_proxy.h); its recording (trace.dat, trace.json) is relayed per download
// (export_proxy.h); the cluster's trace.json merges every node's (trace_merge.h). /readyz answers
// from the cached Reachability, which fan-outs and probe() (the node directory's poll) keep fresh.
// Handlers run on the HTTP server's pool threads, concurrently; all state here is guarded.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/router.h"
#include "tracer-svc/api/export_proxy.h"
#include "tracer-svc/api/svc_metrics.h"
#include "tracer-svc/api/stream_proxy.h"
#include "tracer-svc/fanout/fanout_client.h"
#include "tracer-svc/fanout/reachability.h"
#include "tracer-svc/nodes/node_directory.h"

namespace ct::svc {

inline constexpr const char* kFailedNodesHeader = "X-Tracer-Failed-Nodes";
inline constexpr const char* kAskedNodesHeader = "X-Tracer-Nodes";

// Pure request validation with tracer-node's own parsers (common/request_body.h).
// "all" -> nullopt; a canonical decimal u64 -> that text; else kInvalidArgument naming the value.
Result<std::optional<std::string>> check_session_id(const std::string& text);
// {"Run": true|false}, keys without regard to case -> ok; else kInvalidArgument naming what is wrong.
Status check_run_body(const std::string& body);
// A valid POST /v1/trace-session body -> ok; else kInvalidArgument naming the bad field.
Status check_session_spec(const std::string& body);

struct SvcApiOptions {
    // Per node, for PUT and DELETE of sessions: they start and stop trace hooks, and a node may
    // take up to its --hook-start-timeout, or its --stop-grace plus --drain-limit, to answer.
    // Everything else has the fan-out's own (short) timeout.
    std::chrono::milliseconds session_change_timeout{60000};
    // Live streams (header_timeout is the fan-out's timeout, set by the constructor).
    StreamRelayOptions streams;
};

class SvcApi {
public:
    SvcApi(NodeDirectory& directory, FanoutClient& fanout, SvcApiOptions options = {});

    http::Router router();
    void observe(const std::string& route, const std::string& method, int status);
    // Asks every node's /readyz unless a fan-out to the whole directory ended within the poll
    // interval, so /readyz stays fresh while nobody calls. Blocks up to the fan-out's timeout;
    // for the node directory's poll thread (NodeDirectory::set_on_poll).
    void probe();

    // The node that owns a session id, "" when unknown (for tests and logs).
    std::string owner_of(const std::string& id) const;

private:
    // `maps` unset: the nodes answer {} (PUT, DELETE).
    http::Response fan(const Call& call, const std::vector<NodeAddress>& nodes, std::optional<MergeKind> maps,
                       bool remember_owners);
    // The same with any merge of the replies (merge.h), once all are in.
    http::Response fan_merged(const Call& call, const std::vector<NodeAddress>& nodes,
                              const std::function<Merged(const std::vector<NodeReply>&)>& merge, bool remember_owners);
    http::Response answer(const Call& call, const std::vector<NodeAddress>& nodes, Merged merged, bool remember_owners);
    http::Response no_directory() const;
    http::Response get_session(const std::string& id);
    http::Response post_session(const http::Request& request);
    http::Response put_session(const std::string& id, const http::Request& request);
    http::Response delete_session(const std::string& id);
    http::Response stream_session(const std::string& id);
    http::Response export_dat(const std::string& id);
    http::Response export_json(const std::string& id, const std::string& query);
    std::expected<NodeAddress, http::Response> owner_node(const std::string& id);
    http::Response relay_from_owner(const std::string& id, const std::string& suffix);
    ExportProxyOptions proxy_options() const;
    http::Response session_statistics(const std::string& id);
    // Flight-recorder dumps (docs/flight-recorder.md): asked of / relayed from the owning node.
    http::Response post_dump(const std::string& id, const http::Request& request);
    http::Response relay_dumps(const std::string& id, const std::string& suffix);
    http::Response metrics();
    http::Response readyz() const;
    // The owner when known and still in the directory, else every node.
    std::vector<NodeAddress> targets_for(const std::string& id, const std::vector<NodeAddress>& nodes) const;

    NodeDirectory& directory_;
    FanoutClient& fanout_;
    SvcApiOptions options_;
    SvcMetrics metrics_;
    Reachability reachability_;
    StreamRelay streams_;

    mutable std::mutex mu_;  // guards owners_
    std::unordered_map<std::string, std::string> owners_;  // session id -> node key
};

}  // namespace ct::svc
