#include "cli/top_model.h"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/table.h"
#include "common/strings.h"

namespace ct::cli {

namespace json = boost::json;

namespace {

Result<std::uint64_t> count_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v && v->is_uint64()) return v->as_uint64();
    if (v && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
    return fail(Errc::kInvalidArgument, fmt::format("syscall counters: \"{}\" {}", key, v ? "is not a count" : "is missing"));
}

}  // namespace

Result<SyscallCounters> parse_syscall_counters(const json::object& o) {
    SyscallCounters c;
    for (auto [key, field] : {std::pair{"Count", &c.count}, {"Errors", &c.errors}, {"TotalNs", &c.total_ns}}) {
        auto n = count_member(o, key);
        if (!n) return std::unexpected(n.error());
        *field = *n;
    }
    const auto* h = o.if_contains("Histogram");
    if (!h || !h->is_object()) return fail(Errc::kInvalidArgument, "syscall counters: \"Histogram\" is not an object");
    for (const auto& [bound, count] : h->as_object()) {
        auto upper = parse_u64(bound);
        auto n = count_member(h->as_object(), bound);
        if (!upper || !n)
            return fail(Errc::kInvalidArgument, fmt::format("syscall counters: bad histogram bucket \"{}\"", std::string(bound)));
        c.histogram[*upper] += *n;
    }
    return c;
}

Status add_stats_answer(TopSnapshot& into, const json::value& answer, const std::string& node) {
    auto shape = [](const std::string& what) {
        return fail(Errc::kInvalidArgument, fmt::format("statistics answer: {} is not an object", what));
    };
    if (!answer.is_object()) return shape("the answer");
    for (const auto& [pod, containers] : answer.as_object()) {
        if (!containers.is_object()) return shape(fmt::format("pod \"{}\"", std::string(pod)));
        for (const auto& [container, syscalls] : containers.as_object()) {
            if (!syscalls.is_object()) return shape(fmt::format("container \"{}\"", std::string(container)));
            for (const auto& [syscall, counters] : syscalls.as_object()) {
                if (!counters.is_object()) return shape(fmt::format("syscall \"{}\"", std::string(syscall)));
                auto c = parse_syscall_counters(counters.as_object());
                if (!c) return std::unexpected(c.error());
                auto& to = into[TopKey{node, std::string(pod), std::string(container), std::string(syscall)}];
                to.count += c->count;
                to.errors += c->errors;
                to.total_ns += c->total_ns;
                for (const auto& [bound, n] : c->histogram) to.histogram[bound] += n;
            }
        }
    }
    return {};
}

double histogram_percentile(const LatencyHistogram& histogram, double fraction) {
    std::uint64_t total = 0;
    for (const auto& [bound, n] : histogram) total += n;
    if (total == 0) return 0;
    double target = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(total);
    double below = 0;
    std::uint64_t lower = histogram.begin()->first / 2;
    for (const auto& [upper, n] : histogram) {
        if (n > 0 && below + static_cast<double>(n) >= target) {
            double inside = (target - below) / static_cast<double>(n);
            return static_cast<double>(lower) + inside * static_cast<double>(upper - lower);
        }
        below += static_cast<double>(n);
        lower = upper;
    }
    return static_cast<double>(histogram.rbegin()->first);
}

LatencyHistogram histogram_delta(const LatencyHistogram& before, const LatencyHistogram& after) {
    LatencyHistogram out;
    for (const auto& [bound, n] : after) {
        auto it = before.find(bound);
        std::uint64_t was = it == before.end() ? 0 : it->second;
        std::uint64_t d = n >= was ? n - was : n;
        if (d) out[bound] = d;
    }
    return out;
}

std::vector<TopRow> top_rows(const TopSnapshot& before, const TopSnapshot& after, double seconds) {
    std::vector<TopRow> rows;
    double s = seconds > 0 ? seconds : 1;
    for (const auto& [key, now] : after) {
        auto it = before.find(key);
        SyscallCounters was = it == before.end() ? SyscallCounters{} : it->second;
        bool reset = now.count < was.count;  // the hook restarted: its counters began again
        if (reset) was = {};
        auto delta = histogram_delta(was.histogram, now.histogram);
        rows.push_back({.key = key,
                        .calls_per_s = static_cast<double>(now.count - was.count) / s,
                        .errors_per_s = static_cast<double>(now.errors >= was.errors ? now.errors - was.errors : now.errors) / s,
                        .p50_ns = histogram_percentile(delta, 0.50),
                        .p99_ns = histogram_percentile(delta, 0.99)});
    }
    return rows;
}

Result<TopSort> parse_top_sort(std::string_view text) {
    if (text == "calls") return TopSort::kCalls;
    if (text == "errors") return TopSort::kErrors;
    if (text == "p50") return TopSort::kP50;
    if (text == "p99") return TopSort::kP99;
    if (text == "name") return TopSort::kName;
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid sort \"{}\": expected one of calls, errors, p50, p99, name", text));
}

void sort_top_rows(std::vector<TopRow>& rows, TopSort by) {
    auto value = [by](const TopRow& r) {
        switch (by) {
            case TopSort::kCalls: return r.calls_per_s;
            case TopSort::kErrors: return r.errors_per_s;
            case TopSort::kP50: return r.p50_ns;
            case TopSort::kP99: return r.p99_ns;
            case TopSort::kName: return 0.0;
        }
        return 0.0;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const TopRow& a, const TopRow& b) {
        if (value(a) != value(b)) return value(a) > value(b);
        return a.key < b.key;
    });
}

std::string format_latency(double ns) {
    if (ns < 1000) return fmt::format("{:.0f}ns", ns);
    if (ns < 1e6) return fmt::format("{:.1f}us", ns / 1e3);
    if (ns < 1e9) return fmt::format("{:.2f}ms", ns / 1e6);
    return fmt::format("{:.2f}s", ns / 1e9);
}

std::string top_frame(const std::vector<TopRow>& rows, size_t limit, bool terminal) {
    Table t({"NODE", "POD", "CONTAINER", "SYSCALL", "CALLS/S", "ERRORS/S", "P50", "P99"});
    for (size_t i = 0; i < rows.size() && (limit == 0 || i < limit); ++i) {
        const auto& r = rows[i];
        t.add_row({r.key.node.empty() ? "-" : r.key.node, r.key.pod, r.key.container, r.key.syscall,
                   fmt::format("{:.1f}", r.calls_per_s), fmt::format("{:.1f}", r.errors_per_s), format_latency(r.p50_ns),
                   format_latency(r.p99_ns)});
    }
    std::string table = t.render();
    if (!terminal) return table + "\n";
    std::string out = "\x1b[H";
    for (size_t start = 0; start < table.size();) {
        auto end = table.find('\n', start);
        out.append(table, start, end - start);
        out += "\x1b[K\n";
        start = end + 1;
    }
    out += "\x1b[J";
    return out;
}

}  // namespace ct::cli
