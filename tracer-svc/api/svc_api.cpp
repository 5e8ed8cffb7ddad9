#include "tracer-svc/api/svc_api.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/http_server.h"
#include "common/request_body.h"
#include "common/strings.h"
#include "tracer-svc/api/stream_proxy.h"
#include "tracer-svc/api/trace_merge.h"

namespace ct::svc {

namespace json = boost::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;

namespace {

constexpr size_t kMaxRememberedOwners = 100000;  // ids are hints; past this we start afresh
constexpr size_t kReasonsShown = 3;               // of the failed nodes, in /readyz

// The first few reasons, and how many more there were.
std::string summary(const std::vector<std::string>& reasons) {
    std::string out;
    for (size_t i = 0; i < reasons.size() && i < kReasonsShown; ++i) out += (i ? "; " : "") + reasons[i];
    if (reasons.size() > kReasonsShown) out += fmt::format(" (and {} more)", reasons.size() - kReasonsShown);
    return out;
}

std::string target_for_id(const std::string& id) { return "/v1/trace-session/" + id; }

}  // namespace

// The same parsers as tracer-node's (common/request_body.h), so a body tracer-svc accepts is
// one every node accepts, and a bad one is refused once here instead of by every node.
Result<std::optional<std::string>> check_session_id(const std::string& text) {
    auto id = api::parse_session_id(text);
    if (!id) return std::unexpected(id.error());
    if (!*id) return std::optional<std::string>();
    return std::optional<std::string>(text);
}

Status check_run_body(const std::string& body) {
    if (auto run = api::parse_run_request(body); !run) return std::unexpected(run.error());
    return {};
}

Status check_session_spec(const std::string& body) {
    if (auto spec = api::parse_session_spec(body); !spec) return std::unexpected(spec.error());
    return {};
}

namespace {

StreamRelayOptions with_timeout(StreamRelayOptions o, std::chrono::milliseconds timeout) {
    o.header_timeout = timeout;
    return o;
}

}  // namespace

SvcApi::SvcApi(NodeDirectory& directory, FanoutClient& fanout, SvcApiOptions options)
    : directory_(directory),
      fanout_(fanout),
      options_(options),
      reachability_(directory.poll()),
      streams_(with_timeout(options.streams, fanout.options().timeout)) {}

http::Router SvcApi::router() {
    http::Router r;
    r.add("GET", "/v1/pods", [this](const Request&, const http::PathParams&) {
        return fan({"GET", "/v1/pods", ""}, *directory_.nodes(), MergeKind::kPods, false);
    });
    r.add("GET", "/v1/trace-hooks", [this](const Request&, const http::PathParams&) {
        return fan({"GET", "/v1/trace-hooks", ""}, *directory_.nodes(), MergeKind::kHooks, false);
    });
    r.add("POST", "/v1/trace-session", [this](const Request& q, const http::PathParams&) { return post_session(q); });
    r.add("GET", "/v1/trace-session/{id}",
          [this](const Request&, const http::PathParams& p) { return get_session(p.at("id")); });
    r.add("PUT", "/v1/trace-session/{id}",
          [this](const Request& q, const http::PathParams& p) { return put_session(p.at("id"), q); });
    r.add("DELETE", "/v1/trace-session/{id}",
          [this](const Request&, const http::PathParams& p) { return delete_session(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace",
          [this](const Request&, const http::PathParams& p) { return stream_session(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace.dat",
          [this](const Request&, const http::PathParams& p) { return export_dat(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace.json",
          [this](const Request& q, const http::PathParams& p) { return export_json(p.at("id"), q.query); });
    r.add("GET", "/v1/trace-session/{id}/stats",
          [this](const Request&, const http::PathParams& p) { return session_statistics(p.at("id")); });
    r.add("POST", "/v1/trace-session/{id}/dump",
          [this](const Request& q, const http::PathParams& p) { return post_dump(p.at("id"), q); });
    r.add("GET", "/v1/trace-session/{id}/dumps",
          [this](const Request&, const http::PathParams& p) { return relay_dumps(p.at("id"), "/dumps"); });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}", [this](const Request& q, const http::PathParams& p) {
        return relay_dumps(p.at("id"), "/dumps/" + p.at("dump") + (q.query.empty() ? "" : "?" + q.query));
    });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}/trace.dat", [this](const Request&, const http::PathParams& p) {
        return relay_dumps(p.at("id"), "/dumps/" + p.at("dump") + "/trace.dat");
    });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}/trace.json", [this](const Request& q, const http::PathParams& p) {
        return relay_dumps(p.at("id"), "/dumps/" + p.at("dump") + "/trace.json" + (q.query.empty() ? "" : "?" + q.query));
    });
    // /healthz and /readyz are answered on the HTTP server's I/O thread (ServerOptions::inline_paths),
    // also past its connection limits: they must never block (no node requests here).
    r.add("GET", "/healthz", [](const Request&, const http::PathParams&) {
        return json_response(json::object{{"status", "ok"}});
    });
    r.add("GET", "/readyz", [this](const Request&, const http::PathParams&) { return readyz(); });
    r.add("GET", "/metrics", [this](const Request&, const http::PathParams&) { return metrics(); });
    return r;
}

Response SvcApi::fan(const Call& call, const std::vector<NodeAddress>& nodes, std::optional<MergeKind> maps,
                     bool remember_owners) {
    if (!directory_.ready()) return no_directory();
    Merged merged;
    if (maps) {
        // Each reply is parsed as it arrives (on the fan-out's thread), while the others still come.
        MapMerge merge(*maps, nodes.size());
        fanout_.send(nodes, call, [&merge](size_t i, NodeReply reply) { merge.add(i, std::move(reply)); });
        merged = merge.finish();
    } else {
        merged = merge_empty(fanout_.send(nodes, call));
    }
    return answer(call, nodes, std::move(merged), remember_owners);
}

Response SvcApi::fan_merged(const Call& call, const std::vector<NodeAddress>& nodes,
                            const std::function<Merged(const std::vector<NodeReply>&)>& merge, bool remember_owners) {
    if (!directory_.ready()) return no_directory();
    return answer(call, nodes, merge(fanout_.send(nodes, call)), remember_owners);
}

Response SvcApi::no_directory() const {
    return error_response(503, fmt::format("no node directory yet ({}): {}", directory_.describe(),
                                           directory_.last_error()));
}

// A fan-out's merged answer: failed nodes counted, named in the header and the log; reachability
// and session owners learnt.
Response SvcApi::answer(const Call& call, const std::vector<NodeAddress>& nodes, Merged merged, bool remember_owners) {
    for (const auto& node : merged.failed_nodes) metrics_.count_node_failure(node);
    reachability_.record(nodes.size(), nodes.size() - merged.failed_nodes.size(),
                         nodes.size() == directory_.nodes()->size(), summary(merged.failed));
    if (remember_owners) {
        std::lock_guard lock(mu_);
        if (owners_.size() > kMaxRememberedOwners) owners_.clear();
        for (const auto& [id, node] : merged.owners) owners_[id] = node;
    }
    if (!merged.failed.empty()) {
        spdlog::warn("{} {}: {} of {} nodes failed: {}", call.method, call.target, merged.failed.size(), nodes.size(),
                     fmt::join(merged.failed, "; "));
        merged.response.headers.emplace_back(kFailedNodesHeader, fmt::format("{}", fmt::join(merged.failed_nodes, ", ")));
    }
    merged.response.headers.emplace_back(kAskedNodesHeader, std::to_string(nodes.size()));
    return std::move(merged.response);
}

std::vector<NodeAddress> SvcApi::targets_for(const std::string& id, const std::vector<NodeAddress>& nodes) const {
    std::string owner;
    {
        std::lock_guard lock(mu_);
        auto it = owners_.find(id);
        if (it != owners_.end()) owner = it->second;
    }
    if (!owner.empty()) {
        for (const auto& n : nodes)
            if (n.key == owner) return {n};
    }
    return nodes;
}

std::string SvcApi::owner_of(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = owners_.find(id);
    return it == owners_.end() ? std::string() : it->second;
}

Response SvcApi::get_session(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    // Every node: cheap, and it also finds sessions created behind our back.
    return fan({"GET", target_for_id(text), ""}, *directory_.nodes(), MergeKind::kSessions, true);
}

// The owning node's live stream, relayed: one node stream per session, fanned out to every reader
// (StreamRelay).
Response SvcApi::stream_session(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "streaming needs one trace session id, not \"all\"");
    auto owner = owner_node(text);
    if (!owner) return std::move(owner.error());
    const auto& fo = fanout_.options();
    return streams_.open(*owner, target_for_id(text) + "/trace",
                         {.headers = fanout_.node_headers(),
                          .tls = fo.tls ? fo.tls->current() : nullptr,
                          .tls_server_name = fo.tls_server_name});
}

// The node that owns session `id`, learnt from earlier answers or by asking every node for the
// session first; else the answer to give instead (404: no node has it, or the nodes' failure).
std::expected<NodeAddress, Response> SvcApi::owner_node(const std::string& id) {
    if (owner_of(id).empty()) {
        auto found = get_session(id);
        if (found.status != 200) return std::unexpected(std::move(found));
    }
    auto nodes = directory_.nodes();
    auto targets = targets_for(id, *nodes);
    if (targets.size() != 1)
        return std::unexpected(
            error_response(404, fmt::format("trace session {} is not on any node of the directory", id)));
    return targets.front();
}

// The owning node's answer to GET /v1/trace-session/<id><suffix>, relayed as it streams (one
// download, export_proxy.h).
Response SvcApi::relay_from_owner(const std::string& id, const std::string& suffix) {
    auto owner = owner_node(id);
    if (!owner) return std::move(owner.error());
    return open_export_proxy(*owner, target_for_id(id) + suffix, proxy_options());
}

ExportProxyOptions SvcApi::proxy_options() const {
    const auto& fo = fanout_.options();
    return {.header_timeout = fo.timeout,
            .headers = fanout_.node_headers(),
            .tls = fo.tls ? fo.tls->current() : nullptr,
            .tls_server_name = fo.tls_server_name};
}

// A dump by hand of a flight-recorder session, made by its node; the node's answer (the dump) as
// it is.
Response SvcApi::post_dump(const std::string& text, const Request& request) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "a dump needs one trace session id, not \"all\"");
    auto owner = owner_node(text);
    if (!owner) return std::move(owner.error());
    return fan_merged({"POST", target_for_id(text) + "/dump", request.body, options_.session_change_timeout}, {*owner},
                      [](const std::vector<NodeReply>& replies) {
                          Merged merged;
                          const auto& r = replies.front();
                          if (r.failed()) return merge_empty(replies);
                          merged.response.status = r.status;
                          merged.response.body = r.body;
                          merged.response.content_type = "application/json";
                          return merged;
                      },
                      false);
}

// A session's dump list, or one dump's JSON lines / trace.dat / trace.json, relayed from its node.
Response SvcApi::relay_dumps(const std::string& text, const std::string& suffix) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "dumps belong to one trace session id, not \"all\"");
    auto res = relay_from_owner(text, suffix);
    if (res.stream) {
        const auto path = std::string_view(suffix).substr(0, suffix.find('?'));
        res.content_type = path.ends_with("/trace.dat")    ? "application/octet-stream"
                           : path.ends_with("/trace.json") ? "application/json"
                           : path == "/dumps"              ? "application/json"
                                                           : "application/x-ndjson";  // a dump's JSON lines
    }
    return res;
}

// A session's recording as trace.dat, from its node (docs/viewers.md).
Response SvcApi::export_dat(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "trace.dat needs one trace session id, not \"all\"");
    auto res = relay_from_owner(text, "/trace.dat");
    if (res.stream) res.content_type = "application/octet-stream";
    return res;
}

// A session's recording as Chrome trace JSON from its node; "all": every node's sessions merged
// on one clock (trace_merge.h).
Response SvcApi::export_json(const std::string& text, const std::string& query) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (*id) {
        auto res = relay_from_owner(text, query.empty() ? "/trace.json" : "/trace.json?" + query);
        if (res.stream) res.content_type = "application/json";
        return res;
    }
    if (!query.empty())
        return error_response(400, "the cluster's trace.json takes no query parameters (it is always on CLOCK_REALTIME)");
    if (!directory_.ready()) return no_directory();
    auto nodes = directory_.nodes();
    Response res;
    res.content_type = "application/json";
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"cluster.json\"");
    res.headers.emplace_back(kAskedNodesHeader, std::to_string(nodes->size()));
    res.stream = merged_trace_json(*nodes, proxy_options());
    return res;
}

// A statistics session's counts (docs/api.md "Statistics"): the nodes that have the id answer,
// their counts are summed per pod, container and syscall. The owner is learnt first, so that its
// 409 (a session without statistics) is not outvoted by other nodes' 404.
Response SvcApi::session_statistics(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "statistics need one trace session id, not \"all\"");
    auto owner = owner_node(text);
    if (!owner) return std::move(owner.error());
    return fan_merged({"GET", target_for_id(text) + "/stats", ""}, {*owner}, merge_stats, false);
}

Response SvcApi::post_session(const Request& request) {
    if (auto ok = check_session_spec(request.body); !ok) return error_response(ok.error());
    return fan({"POST", "/v1/trace-session", request.body}, *directory_.nodes(), MergeKind::kSessions, true);
}

Response SvcApi::put_session(const std::string& text, const Request& request) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "PUT needs one trace session id, not \"all\"");
    if (auto ok = check_run_body(request.body); !ok) return error_response(ok.error());
    auto nodes = directory_.nodes();
    return fan({"PUT", target_for_id(text), request.body, options_.session_change_timeout}, targets_for(text, *nodes),
               std::nullopt, false);
}

Response SvcApi::delete_session(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    auto nodes = directory_.nodes();
    auto targets = *id ? targets_for(text, *nodes) : *nodes;
    auto res = fan({"DELETE", target_for_id(text), "", options_.session_change_timeout}, targets, std::nullopt,
                   false);
    if (res.status == 200) {
        std::lock_guard lock(mu_);
        if (*id) owners_.erase(text);
        else owners_.clear();
    }
    return res;
}

void SvcApi::observe(const std::string& route, const std::string& method, int status) {
    metrics_.observe_request(route, method, status);
}

void SvcApi::probe() {
    if (!directory_.ready() || !reachability_.stale()) return;
    auto nodes = directory_.nodes();
    if (nodes->empty()) return;
    auto replies = fanout_.send(*nodes, {"GET", "/readyz", ""});
    std::vector<std::string> failed;
    for (const auto& r : replies)
        if (r.failed()) failed.push_back(fmt::format("{}: {}", r.node, reply_reason(r)));
    reachability_.record(nodes->size(), nodes->size() - failed.size(), true, summary(failed));
}

Response SvcApi::readyz() const {
    if (!directory_.ready()) {
        auto why = directory_.last_error();
        return error_response(503, fmt::format("not ready: the node directory ({}) has not been listed yet{}{}",
                                               directory_.describe(), why.empty() ? "" : ": ", why));
    }
    const size_t listed = directory_.nodes()->size();
    // Listed: the answer also says how many nodes (tests wait for the directory by it).
    auto not_ready = [listed](const std::string& why) {
        Response res;
        res.status = 503;
        res.body = json::serialize(json::object{{"error", to_valid_utf8("not ready: " + why)}, {"nodes", listed}});
        return res;
    };
    if (listed == 0) return not_ready(fmt::format("the node directory ({}) lists no tracer-node", directory_.describe()));
    auto state = reachability_.state();
    if (!state.known) return not_ready(fmt::format("none of the {} tracer-nodes has been asked yet", listed));
    if (!state.answering) {
        auto age = std::chrono::duration_cast<std::chrono::seconds>(Reachability::Clock::now() - state.at);
        return not_ready(fmt::format("none of the {} tracer-nodes asked {} s ago answered: {}", state.asked,
                                     age.count(), state.why));
    }
    return json_response(json::object{{"status", "ready"}, {"nodes", listed}});
}

Response SvcApi::metrics() {
    Response res;
    res.body = metrics_.serialize(directory_.nodes()->size(), fanout_.stats(), streams_.stats());
    res.content_type = "text/plain; version=0.0.4";
    return res;
}

}  // namespace ct::svc
