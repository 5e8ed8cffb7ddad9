#include "tracer-svc/api/svc_api.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_server.h"
#include "common/strings.h"
#include "tracer-svc/api/stream_proxy.h"

namespace ct::svc {

namespace json = boost::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;

namespace {

constexpr size_t kMaxRememberedOwners = 100000;  // ids are hints; past this we start afresh

std::string target_for_id(const std::string& id) { return "/v1/trace-session/" + id; }

}  // namespace

Result<std::optional<std::string>> check_session_id(const std::string& text) {
    if (text == "all") return std::optional<std::string>();
    if (!parse_u64(text))
        return fail(Errc::kInvalidArgument,
                    fmt::format("invalid trace session id \"{}\": expected a decimal unsigned 64-bit number or \"all\"", text));
    return std::optional<std::string>(text);
}

Status check_run_body(const std::string& body) {
    auto obj = http::parse_json_object(body);
    if (!obj) return std::unexpected(obj.error());
    auto* run = obj->if_contains("Run");
    if (!run) return fail(Errc::kInvalidArgument, "request body must have \"Run\": true or false");
    if (!run->is_bool())
        return fail(Errc::kInvalidArgument, fmt::format("\"Run\" must be true or false, not {}", json::serialize(*run)));
    return {};
}

Status check_session_spec(const std::string& body) {
    auto obj = http::parse_json_object(body);
    if (!obj) return std::unexpected(obj.error());
    return {};
}

SvcApi::SvcApi(NodeDirectory& directory, FanoutClient& fanout, SvcApiOptions options)
    : directory_(directory), fanout_(fanout), options_(options) {}

http::Router SvcApi::router() {
    http::Router r;
    r.add("GET", "/v1/pods", [this](const Request&, const http::PathParams&) {
        return fan({"GET", "/v1/pods", ""}, *directory_.nodes(), true, MergeDepth::kNested, false);
    });
    r.add("GET", "/v1/trace-hooks", [this](const Request&, const http::PathParams&) {
        return fan({"GET", "/v1/trace-hooks", ""}, *directory_.nodes(), true, MergeDepth::kNested, false);
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
    r.add("GET", "/v1/trace-session/{id}/stats",
          [this](const Request&, const http::PathParams& p) { return session_statistics(p.at("id")); });
    r.add("GET", "/healthz", [](const Request&, const http::PathParams&) {
        return json_response(json::object{{"status", "ok"}});
    });
    r.add("GET", "/readyz", [this](const Request&, const http::PathParams&) {
        if (directory_.ready())
            return json_response(json::object{{"status", "ready"}, {"nodes", directory_.nodes()->size()}});
        auto why = directory_.last_error();
        return error_response(503, fmt::format("not ready: the node directory ({}) has not been listed yet{}{}",
                                               directory_.describe(), why.empty() ? "" : ": ", why));
    });
    r.add("GET", "/metrics", [this](const Request&, const http::PathParams&) { return metrics(); });
    return r;
}

Response SvcApi::fan(const Call& call, const std::vector<NodeAddress>& nodes, bool maps, MergeDepth depth,
                     bool remember_owners) {
    return fan_merged(
        call, nodes, [&](const std::vector<NodeReply>& r) { return maps ? merge_maps(r, depth) : merge_empty(r); },
        remember_owners);
}

Response SvcApi::fan_merged(const Call& call, const std::vector<NodeAddress>& nodes,
                            const std::function<Merged(const std::vector<NodeReply>&)>& merge, bool remember_owners) {
    if (!directory_.ready())
        return error_response(503, fmt::format("no node directory yet ({}): {}", directory_.describe(),
                                               directory_.last_error()));
    auto replies = fanout_.send(nodes, call);
    auto merged = merge(replies);
    std::string failed_keys;
    {
        std::lock_guard lock(mu_);
        for (const auto& r : replies) {
            if (!r.failed()) continue;
            failed_keys += (failed_keys.empty() ? "" : ", ") + r.node;
            node_failures_[r.node]++;
        }
        if (remember_owners) {
            if (owners_.size() > kMaxRememberedOwners) owners_.clear();
            for (const auto& [id, node] : merged.owners) owners_[id] = node;
        }
    }
    if (!merged.failed.empty()) {
        std::string reasons;
        for (const auto& f : merged.failed) reasons += (reasons.empty() ? "" : "; ") + f;
        spdlog::warn("{} {}: {} of {} nodes failed: {}", call.method, call.target, merged.failed.size(), nodes.size(),
                     reasons);
    }
    if (!failed_keys.empty()) merged.response.headers.emplace_back(kFailedNodesHeader, failed_keys);
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
    return fan({"GET", target_for_id(text), ""}, *directory_.nodes(), true, MergeDepth::kTopLevel, true);
}

// The owning node's live stream, relayed. The owner is learnt from earlier answers, or by asking
// every node for the session first.
Response SvcApi::stream_session(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "streaming needs one trace session id, not \"all\"");
    if (owner_of(text).empty()) {
        auto found = get_session(text);
        if (found.status != 200) return found;  // 404 (no node has it) or the nodes' failure
    }
    auto nodes = directory_.nodes();
    auto targets = targets_for(text, *nodes);
    if (targets.size() != 1)
        return error_response(404, fmt::format("trace session {} is not on any node of the directory", text));
    const auto& fo = fanout_.options();
    return open_stream_proxy(targets.front(), target_for_id(text) + "/trace",
                             {.header_timeout = fo.timeout,
                              .headers = fanout_.node_headers(),
                              .tls = fo.tls ? fo.tls->current() : nullptr,
                              .tls_server_name = fo.tls_server_name});
}

// A statistics session's counts (docs/api.md "Statistics"): the nodes that have the id answer,
// their counts are summed per pod, container and syscall. The owner is learnt first, so that its
// 409 (a session without statistics) is not outvoted by other nodes' 404.
Response SvcApi::session_statistics(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "statistics need one trace session id, not \"all\"");
    if (owner_of(text).empty()) {
        auto found = get_session(text);
        if (found.status != 200) return found;
    }
    auto nodes = directory_.nodes();
    return fan_merged({"GET", target_for_id(text) + "/stats", ""}, targets_for(text, *nodes), merge_stats, false);
}

Response SvcApi::post_session(const Request& request) {
    if (auto ok = check_session_spec(request.body); !ok) return error_response(ok.error());
    return fan({"POST", "/v1/trace-session", request.body}, *directory_.nodes(), true, MergeDepth::kTopLevel, true);
}

Response SvcApi::put_session(const std::string& text, const Request& request) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "PUT needs one trace session id, not \"all\"");
    if (auto ok = check_run_body(request.body); !ok) return error_response(ok.error());
    auto nodes = directory_.nodes();
    return fan({"PUT", target_for_id(text), request.body, options_.session_change_timeout}, targets_for(text, *nodes),
               false, MergeDepth::kTopLevel, false);
}

Response SvcApi::delete_session(const std::string& text) {
    auto id = check_session_id(text);
    if (!id) return error_response(id.error());
    auto nodes = directory_.nodes();
    auto targets = *id ? targets_for(text, *nodes) : *nodes;
    auto res = fan({"DELETE", target_for_id(text), "", options_.session_change_timeout}, targets, false,
                   MergeDepth::kTopLevel, false);
    if (res.status == 200) {
        std::lock_guard lock(mu_);
        if (*id) owners_.erase(text);
        else owners_.clear();
    }
    return res;
}

void SvcApi::observe(const std::string& route, const std::string& method, int status) {
    std::lock_guard lock(mu_);
    requests_[fmt::format("{}|{}|{}", route, http::metric_method(method), status)]++;
}

Response SvcApi::metrics() {
    std::string out;
    auto nodes = directory_.nodes();
    auto stats = fanout_.stats();
    out += "# HELP tracer_svc_nodes Tracer nodes in the directory\n# TYPE tracer_svc_nodes gauge\n";
    out += fmt::format("tracer_svc_nodes {}\n", nodes->size());
    out += "# HELP tracer_svc_node_connects_total TCP connections opened to nodes\n"
           "# TYPE tracer_svc_node_connects_total counter\n";
    out += fmt::format("tracer_svc_node_connects_total {}\n", stats.connects);
    out += "# HELP tracer_svc_node_reused_total Node exchanges on a kept-alive connection\n"
           "# TYPE tracer_svc_node_reused_total counter\n";
    out += fmt::format("tracer_svc_node_reused_total {}\n", stats.reused);
    std::lock_guard lock(mu_);
    out += "# HELP tracer_svc_node_failures_total Node exchanges that failed or timed out\n"
           "# TYPE tracer_svc_node_failures_total counter\n";
    for (const auto& [node, n] : node_failures_) out += fmt::format("tracer_svc_node_failures_total{{node=\"{}\"}} {}\n", node, n);
    out += "# HELP tracer_svc_http_requests_total HTTP requests served\n# TYPE tracer_svc_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        auto parts = split_any(key, "|");
        if (parts.size() != 3) continue;
        out += fmt::format("tracer_svc_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n", parts[0],
                           parts[1], parts[2], n);
    }
    // Requests the server refused by a limit (reported with route "limit:<kind>"), by limit.
    std::map<std::string, uint64_t> limits{{"body", 0}, {"header", 0}, {"connections", 0}};
    for (const auto& [key, n] : requests_) {
        if (!key.starts_with(http::kLimitRoutePrefix)) continue;
        auto start = http::kLimitRoutePrefix.size();
        limits[key.substr(start, key.find('|') - start)] += n;
    }
    out += "# HELP tracer_svc_limit_rejections_total Requests refused because a configured limit was reached\n"
           "# TYPE tracer_svc_limit_rejections_total counter\n";
    for (const auto& [kind, n] : limits) out += fmt::format("tracer_svc_limit_rejections_total{{limit=\"{}\"}} {}\n", kind, n);
    Response res;
    res.body = std::move(out);
    res.content_type = "text/plain; version=0.0.4";
    return res;
}

}  // namespace ct::svc
