#include "tracer-node/record/scope_scrub.h"

#include <algorithm>
#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "tracer-node/capture/page_reader.h"

namespace ct::node::record {

namespace json = boost::json;

std::string encode_excluded(const ExcludedSpan& span) {
    return fmt::format(R"({{"Tid":{},"From":{},"To":{}}})", span.tid, span.from_ns, span.to_ns);
}

Result<ExcludedSpan> decode_excluded(std::string_view line) {
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    const auto* o = ec ? nullptr : value.if_object();
    if (!o) return fail(Errc::kInvalidArgument, "not a JSON object");
    auto number = [&](const char* key) -> std::optional<std::uint64_t> {
        const auto* v = o->if_contains(key);
        if (!v) return std::nullopt;
        if (const auto* u = v->if_uint64()) return *u;
        if (const auto* i = v->if_int64(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
        return std::nullopt;
    };
    auto tid = number("Tid"), from = number("From"), to = number("To");
    if (!tid || !from || !to || *tid == 0 || *tid > INT32_MAX || *from > *to)
        return fail(Errc::kInvalidArgument, "needs Tid (a task id), From and To (From <= To)");
    return ExcludedSpan{static_cast<pid_t>(*tid), *from, *to};
}

std::size_t ExcludedSpanBuilder::out_of_scope(pid_t tid, std::uint64_t ts) {
    auto [open, added] = open_.emplace(tid, spans_.size());
    if (added) spans_.push_back({tid, ts, ts});
    auto& span = spans_[open->second];
    span.from_ns = std::min(span.from_ns, ts);
    span.to_ns = std::max(span.to_ns, ts);
    return open->second;
}

ExcludedEvents::ExcludedEvents(const std::vector<ExcludedSpan>& spans) {
    for (const auto& s : spans) by_tid_[s.tid].emplace_back(s.from_ns, s.to_ns);
    for (auto& [tid, list] : by_tid_) {
        std::ranges::sort(list);
        std::vector<std::pair<std::uint64_t, std::uint64_t>> merged;
        for (const auto& span : list) {
            if (!merged.empty() && span.first <= merged.back().second) merged.back().second = std::max(merged.back().second, span.second);
            else merged.push_back(span);
        }
        list = std::move(merged);
    }
}

bool ExcludedEvents::contains(pid_t tid, std::uint64_t ts) const {
    auto it = by_tid_.find(tid);
    if (it == by_tid_.end()) return false;
    const auto& list = it->second;
    // The last span starting at or before ts.
    auto after = std::upper_bound(list.begin(), list.end(), ts, [](std::uint64_t t, const auto& s) { return t < s.first; });
    return after != list.begin() && ts <= std::prev(after)->second;
}

namespace {

void write_header(char* at, unsigned type_len, std::uint32_t delta) {
    const std::uint32_t header = (delta << 5) | type_len;
    std::memcpy(at, &header, 4);
}

}  // namespace

std::size_t scrub_page(char* page, std::size_t size, int commit_bytes, int pid_offset, const ExcludedEvents& excluded) {
    if (excluded.empty() || pid_offset < 0) return 0;
    PageReader reader(page, size, commit_bytes);
    if (!reader.data()) return 0;
    char* pos = page + (reader.data() - page);
    char* const end = page + (reader.end() - page);
    std::uint64_t ts = reader.page_timestamp();  // as the kernel wrote the page
    std::uint64_t late = 0;  // ns the rewritten page is ahead of the original at this point
    std::size_t rewritten = 0;
    RingRecord r;
    while (read_ring_record(pos, end, r)) {
        const std::uint64_t after = ring_time_after(r, ts);
        const bool hide = r.data() && r.length >= static_cast<std::size_t>(pid_offset) + 4 &&
                          excluded.contains(static_cast<pid_t>(read_unsigned(r.body + pid_offset, 4)), after);
        if (hide) {
            // A discarded record: padding type, its length word = the bytes after the header.
            const std::uint32_t delta = std::max<std::uint64_t>(1, r.delta > late ? r.delta - late : 0);
            late = late + delta - r.delta;
            write_header(pos, kRingPadding, delta);
            const auto word = static_cast<std::uint32_t>(r.size - 4);
            std::memcpy(pos + 4, &word, 4);
            std::memset(pos + 8, 0, r.size - 8);
            ++rewritten;
        } else if (late > 0 && r.type_len != kRingTimeStamp) {
            // Give back what a discarded record's minimum delta took, from the next deltas.
            if (r.type_len == kRingTimeExtend) {
                std::uint64_t extend = r.delta + (std::uint64_t{r.word} << kRingTsShift);
                const std::uint64_t taken = std::min(extend, late);
                extend -= taken;
                late -= taken;
                write_header(pos, kRingTimeExtend, static_cast<std::uint32_t>(extend & ((1u << kRingTsShift) - 1)));
                const auto upper = static_cast<std::uint32_t>(extend >> kRingTsShift);
                std::memcpy(pos + 4, &upper, 4);
            } else {
                const std::uint32_t floor = r.type_len == kRingPadding ? 1 : 0;
                const std::uint32_t taken = r.delta > floor ? static_cast<std::uint32_t>(std::min<std::uint64_t>(r.delta - floor, late)) : 0;
                late -= taken;
                write_header(pos, r.type_len, r.delta - taken);
            }
        } else if (r.type_len == kRingTimeStamp) {
            late = 0;  // absolute from here
        }
        ts = after;
        pos += r.size;
    }
    return rewritten;
}

int commit_bytes_of(std::string_view header_page) {
    // "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;"
    auto at = header_page.find(" commit;");
    auto size = at == std::string_view::npos ? at : header_page.find("size:", at);
    return size != std::string_view::npos && header_page.substr(size + 5).starts_with("4;") ? 4 : 8;
}

int common_pid_offset(const std::vector<std::string>& format_texts) {
    int found = -1;
    for (const auto& text : format_texts) {
        // "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;"
        auto at = text.find(" common_pid;");
        if (at == std::string::npos) return -1;
        auto off = text.find("offset:", at);
        if (off == std::string::npos) return -1;
        auto stop = text.find(';', off);
        auto value = parse_u64(std::string_view(text).substr(off + 7, stop - off - 7));
        if (!value || *value > 1024) return -1;
        if (found >= 0 && found != static_cast<int>(*value)) return -1;
        found = static_cast<int>(*value);
    }
    return found;
}

}  // namespace ct::node::record
