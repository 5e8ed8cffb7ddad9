#include "trace-hooks/ebpf/counts.h"

#include "trace-hooks/ebpf/syscall_names.h"

namespace ct::hooks::ebpf {

void RawCounts::add(const ct_stats_key& key, const ct_stats_value& value) {
    auto& into = stats[{key.group, key.nr}];
    into.count += value.count;
    into.errors += value.errors;
    into.total_ns += value.total_ns;
    for (unsigned k = 0; k < CT_HIST_BUCKETS; ++k) into.hist[k] += value.hist[k];
}

stats::Snapshot to_snapshot(const RawCounts& raw, uint64_t time_ns) {
    stats::Snapshot out;
    out.time_ns = time_ns;
    out.dropped = raw.dropped;
    for (const auto& [key, value] : raw.stats) {
        if (value.count == 0) continue;
        stats::SyscallCounts counts;
        counts.count = value.count;
        counts.errors = value.errors;
        counts.total_ns = value.total_ns;
        for (unsigned k = 0; k < CT_HIST_BUCKETS; ++k)
            if (value.hist[k]) counts.histogram[bucket_bound(k)] = value.hist[k];
        out.groups[key.first][syscall_name(key.second)].add(counts);
    }
    for (const auto& [key, n] : raw.errnos) {
        auto [group, nr, err] = key;
        if (n == 0) continue;
        // An errno counted for a call whose stats entry was dropped: keep it with that call.
        out.groups[group][syscall_name(nr)].errno_counts[errno_name(err)] += n;
    }
    return out;
}

}  // namespace ct::hooks::ebpf
