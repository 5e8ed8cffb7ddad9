// Pure parsing of the syscall_stats hook arguments (after --args) and its description. No I/O.
// Errors are Errc::kInvalidArgument naming the offending value (the manager exits kExitUsage).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct::hooks::ebpf {

inline constexpr std::string_view kHookStats = "syscall_stats";

inline constexpr uint64_t kDefaultIntervalMs = 1000;
inline constexpr uint64_t kMinIntervalMs = 100;        // a map read costs ~1 ms per 1,000 keys
inline constexpr uint64_t kMaxIntervalMs = 3'600'000;  // an hour

struct StatsArgs {
    std::vector<pid_t> pids;            // --pid: every thread to count, given first by tracer-node
    std::vector<std::string> syscalls;  // -s: normalised names, sorted, unique; empty = every syscall
    uint64_t interval_ms = kDefaultIntervalMs;
};

// --pid TID... (exactly once), -s/--syscall NAME[,NAME]... (repeatable; "sys_enter_openat" is
// "openat"), -i/--interval MS (kMinIntervalMs..kMaxIntervalMs); long options also as --name=value.
// Names are checked for shape only: the manager checks that they exist.
Result<StatsArgs> parse_stats_args(const std::vector<std::string>& args);

// Description lines for --describe. `unavailable`: why the hook cannot run on this machine
// (no BTF, BPF not permitted), said in the description; empty when it can.
std::vector<std::string> describe(std::string_view unavailable);

}  // namespace ct::hooks::ebpf
