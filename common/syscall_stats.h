// Syscall statistics as statistics hooks produce them (docs/hooks.md "Statistics hooks"): the
// model, the snapshot file's JSON (written by trace-hooks/ebpf, read by tracer-node) and the
// per-container answer of GET /v1/trace-session/<id>/stats (tracer-node answers it, tracer-svc
// sums nodes' answers). Pure: no I/O, no globals; every function may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "common/result.h"

namespace ct::stats {

inline constexpr std::string_view kSnapshotSuffix = ".stats.json";
inline constexpr uint64_t kSnapshotVersion = 1;

struct SyscallCounts {
    uint64_t count = 0;
    uint64_t errors = 0;    // calls that returned -4095..-1
    uint64_t total_ns = 0;  // summed duration, entry to exit
    std::map<std::string, uint64_t> errno_counts;  // "ENOENT" -> calls
    // Upper bound in ns (inclusive) -> calls with a duration in (previous bound, bound].
    std::map<uint64_t, uint64_t> histogram;

    void add(const SyscallCounts& other);
    bool operator==(const SyscallCounts&) const = default;
};

// Syscall name -> its counts.
using SyscallTable = std::map<std::string, SyscallCounts>;

// What a statistics hook's snapshot file holds: counts since the hook started, per group (the
// tgid among the hook's --pid arguments that the counting task descends from).
struct Snapshot {
    uint64_t time_ns = 0;  // CLOCK_REALTIME when taken
    std::map<uint32_t, SyscallTable> groups;
    uint64_t dropped = 0;  // calls the hook saw but could not count (its maps were full)

    bool operator==(const Snapshot&) const = default;
};

// Pod name -> container name -> table: the /stats answer.
using PodStats = std::map<std::string, std::map<std::string, SyscallTable>>;

// True for a hook's first stdout line that names a snapshot file (ends in ".stats.json").
bool is_snapshot_path(std::string_view line);

// {"Version":1,"TimeNs":...,"Dropped":...,"Groups":{"<tgid>":{"<syscall>":{...}}}}
std::string to_json_text(const Snapshot& snapshot);
// The inverse. kInvalidArgument naming the first bad key or value; unknown keys are ignored.
Result<Snapshot> parse_snapshot(std::string_view text);

// {"<syscall>": {"Count":n,"Errors":e,"ErrnoCounts":{...},"TotalNs":t,"Histogram":{"<ns>":c}}}
boost::json::object to_json(const SyscallTable& table);
boost::json::object to_json(const PodStats& stats);
// The inverse of to_json(PodStats), for tracer-svc summing nodes' answers.
Result<PodStats> parse_pod_stats(const boost::json::value& value);

// The coarser histogram metrics systems get (Prometheus, OTLP): upper bounds 256 ns to 2^34 ns
// (17.2 s), each 4x the previous. Powers of two, so the hooks' log2 buckets fold in exactly.
std::vector<uint64_t> metric_bounds_ns();
// `counts`' calls per bucket of `bounds_ns` (ascending): bounds_ns.size() + 1 entries, the last
// for calls longer than the last bound. Sums to counts.count when the histogram is complete.
std::vector<uint64_t> rebucket(const SyscallCounts& counts, const std::vector<uint64_t>& bounds_ns);

void merge_into(SyscallTable& into, const SyscallTable& from);
void merge_into(PodStats& into, const PodStats& from);

}  // namespace ct::stats
