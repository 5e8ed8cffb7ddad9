// clock_offset: where an ftrace instance's trace clock stands against CLOCK_REALTIME, so events of
// different nodes can be put on one timeline (trace.json of the whole cluster, docs/viewers.md).
//
// Kernel-grounded, without writing anything into the traced buffer: per_cpu/cpuN/stats prints
// "now ts: <s>.<us>", the instance's ring-buffer clock read by the kernel at the moment of the
// read (ring_buffer_time_stamp). Bracketing that read with two CLOCK_REALTIME reads bounds the
// offset to the read's duration plus the microsecond the text rounds to; the best of a few
// tries is kept. Clocks that do not count nanoseconds (counter, x86-tsc) have no offset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ct::node::record {

// Pure: the "now ts:" of a per_cpu stats text in ns; nullopt when it has none.
std::optional<std::uint64_t> parse_now_ts(std::string_view stats_text);
// Pure: the selected clock of a trace_clock text ("[local] global counter ..." -> "local").
std::string selected_clock(std::string_view trace_clock_text);
// Pure: whether a trace clock counts nanoseconds (then the offset to CLOCK_REALTIME means something).
bool clock_counts_ns(std::string_view clock);

struct ClockOffset {
    std::int64_t realtime_minus_trace_ns = 0;
    std::uint64_t uncertainty_ns = 0;  // half the best bracket plus the text's rounding
};
// Measures the offset of an instance's clock through one of its per_cpu/cpuN/stats files. kIo
// naming the file when it cannot be read; kInvalidArgument when it holds no "now ts".
Result<ClockOffset> measure_clock_offset(const std::string& stats_path);

}  // namespace ct::node::record
