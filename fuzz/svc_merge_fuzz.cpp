// tracer-svc's merge (merge/merge.h) of arbitrary node replies: up to 6 replies, each a transport
// failure or a status with a body (JSON-ish or not), merged as maps at both depths and as empty
// answers. Rules checked: the answer is valid JSON; any 2xx reply whose body is a JSON object
// gives 200; an error answer is {"error": "<text>"}; every failed node is named.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/strings.h"
#include "tracer-svc/merge/merge.h"

namespace {

using namespace ct::svc;

void check(const std::vector<NodeReply>& replies, const Merged& merged, bool maps) {
    const auto& res = merged.response;
    boost::system::error_code ec;
    auto body = boost::json::parse(res.body, ec);
    if (ec) __builtin_trap();
    bool any_ok = false;
    size_t failed = 0;
    for (const auto& r : replies) {
        failed += r.failed();
        if (!r.ok()) continue;
        boost::system::error_code pec;
        auto v = boost::json::parse(r.body, pec);
        // Usable: an object that survives being written back (no 1e309 read as infinity).
        bool usable = !pec && v.is_object();
        if (usable) (void)boost::json::parse(boost::json::serialize(v), pec);
        any_ok = any_ok || !maps || (usable && !pec);
    }
    if (any_ok != (res.status == 200)) __builtin_trap();
    if (merged.failed.size() < failed) __builtin_trap();
    if (res.status >= 400) {
        const auto* error = body.is_object() ? body.as_object().if_contains("error") : nullptr;
        if (!error || !error->is_string()) __builtin_trap();
    }
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
    check(replies, merge_maps(replies, MergeDepth::kNested), true);
    check(replies, merge_maps(replies, MergeDepth::kTopLevel), true);
    check(replies, merge_empty(replies), false);
    return 0;
}
