// Pure parsing of the ftrace hook manager's command line (no I/O, no globals).
// Two layers: parse_command() splits the manager protocol (--get-all / --describe / --clear /
// --run NAME --args ...), parse_syscall_args() and parse_event_args() parse the trace_syscalls
// and trace_events hook arguments that follow --args. Errors are Errc::kInvalidArgument with a
// message naming the offending value; the manager prints it on stderr and exits kExitUsage.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "trace-hooks/common/hook_cli.h"

namespace ct::hooks::ftrace {

inline constexpr std::string_view kHookSyscalls = "trace_syscalls";
inline constexpr std::string_view kHookEvents = "trace_events";
// Every instance this manager creates starts with the prefix tracer-node gives in
// TRACER_INSTANCE_PREFIX ("ctrace_<agent tag>_"), or with this one when run by hand; --clear
// removes only instances with that prefix (docs/hooks.md).
inline constexpr std::string_view kInstancePrefix = "ctrace_";
inline constexpr uint64_t kDefaultBufferKb = 8192;
// The largest -b: 64 MiB per CPU, so one run holds at most 64 MiB x CPUs of kernel memory
// (128 MiB on 2 CPUs, 4 GiB on 64), allocated by the kernel while the manager waits.
// tracer-node drains the buffers every millisecond; at the fastest rate measured (4.9M events/s
// over all CPUs, 40-80 bytes each) 64 MiB holds at least about 170 ms of one CPU's events, so a
// larger buffer only hides a reader that fell behind, which tracer-node's own bounded queue
// already counts. A bigger value once made the kernel allocate 1.4 GB past tracer-node's start
// timeout (issue 14.2; docs/hooks.md).
inline constexpr uint64_t kMaxBufferKb = 64 * 1024;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // tracefs problem, instance could not be removed
inline constexpr int kExitUsage = 2;    // bad command line or hook arguments

// The protocol's command line is every manager's (trace-hooks/common/hook_cli.h).
using ct::hooks::Command;
using ct::hooks::Mode;

// Pure: the instance name prefix from TRACER_INSTANCE_PREFIX's value (null or empty: kInstancePrefix).
// kInvalidArgument unless it is kInstancePrefix followed by lowercase letters, digits and '_'.
Result<std::string> instance_prefix_from_env(const char* value);

// argv without the program name: hook_cli's parse_command with this manager's hooks.
Result<Command> parse_command(const std::vector<std::string>& args);

struct SyscallArgs {
    std::vector<pid_t> pids;            // --pid: every thread to trace, given first by tracer-node
    std::vector<std::string> syscalls;  // normalised ("getppid"); empty = every syscall
    uint64_t time_ms = 0;               // -t: 0 = until SIGINT/SIGTERM
    uint64_t buffer_kb = kDefaultBufferKb;  // -b: per-CPU ring buffer size
};

// Hook arguments of trace_syscalls: --pid PID..., -s/--syscall NAME... (also comma-separated),
// -t/--time MS, -b/--buffer-kb KB (1..kMaxBufferKb); long options also as --name=value.
// --pid comes first and only once: tracer-node gives it, and a second one (from a session's
// arguments) would add processes outside the session's containers (docs/hooks.md).
Result<SyscallArgs> parse_syscall_args(const std::vector<std::string>& args);

// One -e of trace_events and the -f that follows it.
struct EventRequest {
    std::string pattern;  // "system:event", shell globs allowed in either part
    std::string filter;   // the user's filter, normalised (trace-hooks/ftrace/trace_filter.h); "" for none
};

struct EventArgs {
    std::vector<pid_t> pids;           // --pid: every thread to trace, given first by tracer-node
    std::vector<EventRequest> events;  // in the order given; at least one
    uint64_t time_ms = 0;              // -t: 0 = until SIGINT/SIGTERM
    uint64_t buffer_kb = kDefaultBufferKb;  // -b: per-CPU ring buffer size of the main instance
};

// Hook arguments of trace_events: --pid PID... first and once, then -e/--event SYSTEM:EVENT
// (repeatable), -f/--filter FILTER (binds to the -e right before it; at most one each),
// -t/--time MS, -b/--buffer-kb KB; long options also as --name=value.
// A filter is every token up to the next option of this list, joined by one space (tracer-node
// splits trace-arguments on whitespace), without one pair of quotes around the whole.
Result<EventArgs> parse_event_args(const std::vector<std::string>& args);

// "sys_enter_getppid", "sys_exit_getppid", "getppid" -> "getppid". Does not check existence.
std::string normalize_syscall(std::string_view name);

// Names of the syscalls a syscall tracepoint list offers: "sys_enter_openat" -> "openat";
// other names are skipped. Sorted, unique.
std::vector<std::string> syscalls_from_events(const std::vector<std::string>& events);

// Description lines for --describe; empty for an unknown hook.
std::vector<std::string> describe(std::string_view hook);

// Number after "entries:" in a per_cpu/cpuN/stats text; kInvalidArgument when absent.
Result<uint64_t> parse_stats_entries(std::string_view stats_text);

}  // namespace ct::hooks::ftrace
