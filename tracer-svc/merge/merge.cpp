#include "tracer-svc/merge/merge.h"

#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/syscall_stats.h"

namespace ct::svc {

namespace json = boost::json;

namespace {

constexpr size_t kMaxReasonBody = 200;

// Boost.JSON reads an out-of-range number (1e309) as infinity and would write it back as
// "Infinity", which is not JSON; no tracer-node answer has one.
bool all_finite(const json::value& v) {
    switch (v.kind()) {
        case json::kind::double_: return std::isfinite(v.get_double());
        case json::kind::array:
            for (const auto& e : v.get_array())
                if (!all_finite(e)) return false;
            return true;
        case json::kind::object:
            for (const auto& kv : v.get_object())
                if (!all_finite(kv.value())) return false;
            return true;
        default: return true;
    }
}

std::optional<json::object> parse_object(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object() || !all_finite(v)) return std::nullopt;
    return std::move(v.as_object());
}

// No node succeeded: a 4xx when some node refused (the most common refusal wins), else 502.
Merged merge_refusals(const std::vector<NodeReply>& replies, Merged merged) {
    // Only 4xx answers refuse; a 2xx whose body was unusable is already in merged.failed.
    std::vector<const NodeReply*> refusals;
    for (const auto& r : replies)
        if (r.refused()) refusals.push_back(&r);
    if (replies.empty()) {
        merged.response = http::error_response(404, "no tracer nodes are known");
        return merged;
    }
    if (refusals.empty()) {
        std::string reasons;
        for (const auto& f : merged.failed) reasons += (reasons.empty() ? "" : "; ") + f;
        merged.response = http::error_response(502, fmt::format("every tracer node failed: {}", reasons));
        return merged;
    }
    // One status for the answer: 400 (the request itself is bad) beats 404 beats the rest.
    int status = refusals.front()->status;
    for (const auto* r : refusals)
        if (r->status == 400 || (r->status == 404 && status != 400)) status = r->status;
    bool same = true;
    for (const auto* r : refusals) same = same && reply_reason(*r) == reply_reason(*refusals.front());
    std::string message;
    if (same && merged.failed.empty()) {
        message = reply_reason(*refusals.front());
    } else {
        for (const auto* r : refusals)
            message += fmt::format("{}{}: {}", message.empty() ? "" : "; ", r->node, reply_reason(*r));
        for (const auto& f : merged.failed) message += "; " + f;
    }
    merged.response = http::error_response(status, std::move(message));
    return merged;
}

std::vector<std::string> failures(const std::vector<NodeReply>& replies) {
    std::vector<std::string> out;
    for (const auto& r : replies)
        if (r.failed()) out.push_back(fmt::format("{}: {}", r.node, reply_reason(r)));
    return out;
}

}  // namespace

std::string reply_reason(const NodeReply& reply) {
    if (reply.failure) return *reply.failure;
    if (auto obj = parse_object(reply.body)) {
        if (auto* e = obj->if_contains("error"); e && e->is_string()) return std::string(e->as_string());
    }
    std::string body = reply.body.substr(0, kMaxReasonBody);
    return fmt::format("status {}{}{}", reply.status, body.empty() ? "" : ": ", body);
}

void union_into(json::object& into, const json::object& from, int depth) {
    for (const auto& [key, value] : from) {
        auto* have = into.if_contains(key);
        if (!have) {
            into.emplace(key, value);
        } else if (depth > 0 && have->is_object() && value.is_object()) {
            union_into(have->as_object(), value.as_object(), depth - 1);
        }
    }
}

Merged merge_maps(const std::vector<NodeReply>& replies, MergeDepth depth) {
    Merged merged;
    merged.failed = failures(replies);
    json::object all;
    bool any_ok = false;
    for (const auto& r : replies) {
        if (!r.ok()) continue;
        auto obj = parse_object(r.body);
        if (!obj) {
            merged.failed.push_back(fmt::format("{}: answered status {} with a body that is not a JSON object", r.node,
                                                r.status));
            continue;
        }
        any_ok = true;
        for (const auto& [key, _] : *obj) merged.owners.emplace_back(std::string(key), r.node);
        union_into(all, *obj, static_cast<int>(depth));
    }
    if (!any_ok) return merge_refusals(replies, std::move(merged));
    merged.response = http::json_response(all);
    return merged;
}

Merged merge_stats(const std::vector<NodeReply>& replies) {
    Merged merged;
    merged.failed = failures(replies);
    stats::PodStats all;
    bool any_ok = false;
    for (const auto& r : replies) {
        if (!r.ok()) continue;
        auto obj = parse_object(r.body);
        auto counts = obj ? stats::parse_pod_stats(*obj) : Result<stats::PodStats>(fail(Errc::kInvalidArgument, "not a JSON object"));
        if (!counts) {
            merged.failed.push_back(fmt::format("{}: answered status {} with a body that is not a stats answer: {}",
                                                r.node, r.status, counts.error().message));
            continue;
        }
        any_ok = true;
        stats::merge_into(all, *counts);
    }
    if (!any_ok) return merge_refusals(replies, std::move(merged));
    merged.response = http::json_response(stats::to_json(all));
    return merged;
}

Merged merge_empty(const std::vector<NodeReply>& replies) {
    Merged merged;
    merged.failed = failures(replies);
    for (const auto& r : replies) {
        if (r.ok()) {
            merged.response = http::json_response(json::object{});
            return merged;
        }
    }
    return merge_refusals(replies, std::move(merged));
}

}  // namespace ct::svc
