// The pure parts of `ctrace top` (docs/cli.md): per container and syscall, calls/s and errors/s
// from two snapshots of the syscall_stats hook's counters, p50/p99 latency from their log2
// histograms, sorting, and the screen: redrawn in place on a terminal (cursor home, each line
// cleared to its end, the rest of the screen cleared), plain rows otherwise.
// Counters follow the hook's statistics format (docs/hooks.md): {"Count", "Errors", "TotalNs",
// "Histogram": {"<upper bound ns>": count}}. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <boost/json/object.hpp>

#include "common/result.h"

namespace ct::cli {

// Upper bound of a bucket in ns -> calls that took at most that long (and more than the bound
// below; the first bucket's lower bound is half its upper bound: log2 buckets).
using LatencyHistogram = std::map<std::uint64_t, std::uint64_t>;

struct SyscallCounters {
    std::uint64_t count = 0;
    std::uint64_t errors = 0;
    std::uint64_t total_ns = 0;
    LatencyHistogram histogram;
};
// Errors: kInvalidArgument naming the member that is missing or not a count.
Result<SyscallCounters> parse_syscall_counters(const boost::json::object& counters);

// The latency under which `fraction` (0 < fraction <= 1) of the calls fall, interpolated
// linearly inside its bucket. 0 for an empty histogram.
double histogram_percentile(const LatencyHistogram& histogram, double fraction);
// after - before, bucket by bucket (a bucket that shrank — counters reset — counts as after's).
LatencyHistogram histogram_delta(const LatencyHistogram& before, const LatencyHistogram& after);

struct TopKey {
    std::string node, pod, container, syscall;
    auto operator<=>(const TopKey&) const = default;
};
using TopSnapshot = std::map<TopKey, SyscallCounters>;

// Adds one session's GET /v1/trace-session/<id>/stats answer ({pod: {container: {syscall:
// counters}}}, docs/api.md) to `into`, every key under `node`; counters of a key already there
// are summed. Errors: kInvalidArgument naming what is not of that shape.
Status add_stats_answer(TopSnapshot& into, const boost::json::value& answer, const std::string& node);

struct TopRow {
    TopKey key;
    double calls_per_s = 0;
    double errors_per_s = 0;
    double p50_ns = 0, p99_ns = 0;  // over the interval's calls
};

// One row per key of `after`: rates and latencies of what happened between the snapshots,
// `seconds` apart (the first refresh: `before` empty, rates over the time since the start).
std::vector<TopRow> top_rows(const TopSnapshot& before, const TopSnapshot& after, double seconds);

enum class TopSort { kCalls, kErrors, kP50, kP99, kName };
// "calls", "errors", "p50", "p99", "name". Errors: kInvalidArgument listing them.
Result<TopSort> parse_top_sort(std::string_view text);
// Largest first (name: alphabetical by pod, container, syscall); ties by name.
void sort_top_rows(std::vector<TopRow>& rows, TopSort by);

// "850ns", "12.3us", "4.10ms", "1.20s".
std::string format_latency(double ns);

// The table of the first `limit` rows (0: all). On a terminal the frame starts at the top left,
// clears each line's rest and the screen below (redrawing in place without flicker); otherwise
// plain lines and an empty line between frames.
std::string top_frame(const std::vector<TopRow>& rows, size_t limit, bool terminal);

}  // namespace ct::cli
