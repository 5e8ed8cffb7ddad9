// The syscall_stats maps' contents summed over CPUs, and their snapshot (common/syscall_stats.h).
// Pure: bpf_counter.cpp fills RawCounts from the kernel, to_snapshot() names and shapes them.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <utility>

#include "common/syscall_stats.h"
#include "trace-hooks/ebpf/syscall_stats_abi.h"

namespace ct::hooks::ebpf {

struct RawCounts {
    std::map<std::pair<uint32_t, uint32_t>, ct_stats_value> stats;       // (group, counted nr)
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t> errnos;  // (group, counted nr, errno)
    uint64_t dropped = 0;

    // Adds one CPU's value of a `stats` entry.
    void add(const ct_stats_key& key, const ct_stats_value& value);
};

// Upper bound (ns, inclusive) of histogram bucket k: 2^k.
constexpr uint64_t bucket_bound(unsigned k) { return uint64_t{1} << k; }

// Groups by tgid and syscall name (native and compat calls of one name add up); empty histogram
// buckets and zero errno counts are left out.
stats::Snapshot to_snapshot(const RawCounts& raw, uint64_t time_ns);

}  // namespace ct::hooks::ebpf
