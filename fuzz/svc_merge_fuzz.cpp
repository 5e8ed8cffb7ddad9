// tracer-svc's merge (merge/merge.h) of arbitrary node replies: up to 6 replies, each a transport
// failure or a status with a body (JSON-ish or not), merged as pods, hooks and sessions maps and
// as empty answers. Rules checked: the answer is valid JSON; any 2xx reply whose body is a JSON
// object gives 200; an error answer is {"error": "<text>"}; every failed node is named; nothing a
// node answered is lost (pods: one entry per node entry, every container names its node; hooks:
// every directory key; sessions: every id); adding the replies in reverse gives the same answer;
// pods read in place (MapMerge's fast path) give the answer the tree parser gives.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/strings.h"
#include "tracer-svc/merge/merge.h"

namespace {

using namespace ct::svc;

namespace json = boost::json;

// `kind` unset: merged as empty answers (PUT, DELETE).
void check(const std::vector<NodeReply>& replies, const Merged& merged, std::optional<MergeKind> kind) {
    const auto& res = merged.response;
    boost::system::error_code ec;
    auto body = json::parse(res.body, ec);
    if (ec) __builtin_trap();
    bool any_ok = false;
    size_t failed = 0, entries = 0;
    std::set<std::string> keys;  // distinct top-level keys of the usable replies
    for (const auto& r : replies) {
        failed += r.failed();
        if (!r.ok()) continue;
        boost::system::error_code pec;
        auto v = json::parse(r.body, pec);
        // Usable: an object that survives being written back (no 1e309 read as infinity).
        bool usable = !pec && v.is_object();
        if (usable) (void)json::parse(json::serialize(v), pec);
        usable = usable && !pec;
        any_ok = any_ok || !kind || usable;
        if (!usable) continue;
        entries += v.as_object().size();
        for (const auto& kv : v.as_object()) keys.emplace(kv.key());
    }
    if (any_ok != (res.status == 200)) __builtin_trap();
    if (merged.failed.size() < failed) __builtin_trap();
    if (res.status >= 400) {
        const auto* error = body.is_object() ? body.as_object().if_contains("error") : nullptr;
        if (!error || !error->is_string()) __builtin_trap();
    }
    if (!kind || res.status != 200) return;
    const auto& out = body.as_object();
    switch (*kind) {
        case MergeKind::kPods:
            if (out.size() != entries) __builtin_trap();
            for (const auto& pod : out) {
                const auto* containers = pod.value().is_object() ? pod.value().as_object().if_contains("Containers") : nullptr;
                if (!containers || !containers->is_object()) continue;
                for (const auto& c : containers->as_object())
                    if (c.value().is_object() && !c.value().as_object().contains("Node")) __builtin_trap();
            }
            break;
        case MergeKind::kHooks:
        case MergeKind::kSessions:
            for (const auto& k : keys)
                if (!out.contains(k)) __builtin_trap();
            if (*kind == MergeKind::kSessions && out.size() != keys.size()) __builtin_trap();
            break;
    }
}

void check_maps(const std::vector<NodeReply>& replies, MergeKind kind) {
    auto merged = merge_maps(replies, kind);
    check(replies, merged, kind);
    MapMerge reversed(kind, replies.size());
    for (size_t i = replies.size(); i-- > 0;) reversed.add(i, replies[i]);
    if (reversed.finish().response.body != merged.response.body) __builtin_trap();
    // Pods read in place mean what pods parsed into a tree mean.
    MapMerge tree(kind, replies.size(), false);
    for (size_t i = 0; i < replies.size(); ++i) tree.add(i, replies[i]);
    auto parsed = tree.finish();
    if (parsed.response.status != merged.response.status || parsed.failed != merged.failed) __builtin_trap();
    if (json::parse(parsed.response.body) != json::parse(merged.response.body)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Input: up to kMaxReplies records separated by '\x1e', each "<status> <body>" (status a
    // decimal number) or "fail <transport error>". Readable seeds: fuzz/corpus/svc_merge.
    constexpr size_t kMaxReplies = 6;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<NodeReply> replies;
    while (!in.empty() && replies.size() < kMaxReplies) {
        auto end = in.find('\x1e');
        std::string_view record = in.substr(0, end);
        in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
        NodeReply r;
        r.node = "10.0.0." + std::to_string(replies.size() + 1) + ":8080";
        auto space = record.find(' ');
        std::string_view head = record.substr(0, space);
        std::string_view rest = space == std::string_view::npos ? std::string_view() : record.substr(space + 1);
        if (head == "fail") {
            r.failure = rest.empty() ? std::string("connection refused") : std::string(rest);  // "" never (merge.h)
        } else {
            auto status = ct::parse_u64(head);
            if (!status || *status > 999) continue;
            r.status = static_cast<int>(*status);
            r.body = std::string(rest);
        }
        replies.push_back(std::move(r));
    }
    for (auto kind : {MergeKind::kPods, MergeKind::kHooks, MergeKind::kSessions}) check_maps(replies, kind);
    check(replies, merge_empty(replies), std::nullopt);
    return 0;
}
