// ftrace_instance: everything tracer-node knows about ftrace instances, in one module
// (docs/architecture.md, "ftrace instances"). Hook managers create the instances; tracer-node
// reads their per-CPU buffers, follows new processes into their pid filter, counts their losses,
// and removes what its own hooks left behind — never an instance of anyone else.
//
// Ownership by name: tracer-node hands every hook manager TRACER_INSTANCE_PREFIX, "ctrace_<tag>_"
// with <tag> this agent's identity (kept in its state directory), and managers name each instance
// "<prefix><manager pid>_<hex>". Removal functions take the prefix, so a node only ever removes
// instances whose names say they are its own.
//
// Functions marked pure touch no files. The others read or write tracefs and are stateless:
// callable from any thread. Errors name the path and the errno text.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "tracer-node/capture/raw_decode.h"

namespace ct::node::ftrace {

// What every name of an instance created by a container-tracer hook starts with.
inline constexpr std::string_view kNameBase = "ctrace_";

// Pure: "ctrace_<tag>_" for an agent tag of 1-16 lowercase hex digits; kInvalidArgument otherwise.
Result<std::string> instance_prefix(std::string_view tag);
// Pure: "<prefix><pid>_", what the names of one manager process's instances start with.
std::string manager_prefix(std::string_view prefix, pid_t manager_pid);

// Pure: ".../instances/<name>" when `trace_path` is ".../instances/<name>/trace_pipe", else "".
std::string instance_dir_of(const std::string& trace_path);
// Pure: the tracing directory of an instance directory (".../tracing/instances/x" -> ".../tracing").
std::string tracing_dir_of(const std::string& instance_dir);
// Pure: <sysfs_root>/kernel/tracing.
std::string tracing_dir_under(const std::string& sysfs_root);

// Pure: the (system, event) pairs an instance's set_event text lists ("syscalls:sys_enter_read"
// lines, one per enabled event), in its order; empty when no event is listed. Names that could
// leave events/ as a path are skipped.
std::vector<std::pair<std::string, std::string>> enabled_events(std::string_view set_event);

// The format texts (events/<system>/<event>/format under the instance's tracing directory) of the
// events the instance's set_event lists, plus every event of the kernel's own "ftrace" system (its
// records, e.g. markers, may appear in any buffer); sorted by (system, name), one per event. Empty
// when set_event lists nothing. kIo naming the file or directory that cannot be read.
Result<std::vector<EventFormat>> read_enabled_formats(const std::string& instance_dir);

// One CPU's ring buffer in an instance.
struct CpuBuffer {
    int cpu = 0;
    std::string raw_path;    // per_cpu/cpuN/trace_pipe_raw
    std::string stats_path;  // per_cpu/cpuN/stats
};
// The instance's per-CPU buffers, sorted by CPU. kIo when per_cpu cannot be listed or is empty.
Result<std::vector<CpuBuffer>> cpu_buffers(const std::string& instance_dir);

// The counters of one CPU's stats file (or their sum over CPUs).
struct BufferStats {
    std::optional<std::uint64_t> entries;  // unread events; nullopt when the text has no such line
    std::uint64_t overrun = 0;             // overwritten before they were read
    std::uint64_t dropped = 0;             // "dropped events": the buffer was full (no overwrite)
};
// Pure: the counters in one per_cpu/cpuN/stats text.
BufferStats parse_cpu_stats(std::string_view text);
// One CPU's counters now; all-empty when the file is unreadable (instance gone).
BufferStats read_cpu_stats(const CpuBuffer& cpu);
// Overrun and dropped summed over every CPU now (entries left unset); zero when gone.
BufferStats read_loss(const std::string& instance_dir);

// True when the instance's tracing_on reads "0" (its hook is finishing) or it is gone.
bool finishing(const std::string& instance_dir);

// Bytes of one ring-buffer sub-buffer (what one read of trace_pipe_raw returns at most): the
// instance's buffer_subbuf_size_kb, or a page when the kernel has no such file (before 6.8).
std::size_t subbuf_size(const std::string& instance_dir);
// Sets the instance's buffer_percent: a reader waiting (poll/read) on trace_pipe_raw is woken
// when a CPU's buffer is that full (0 = on every event, 1-100). Changes no memory and no event.
// kInvalidArgument for a percent above 100; kIo naming the file otherwise.
Status set_wake_percent(const std::string& instance_dir, int percent);

// The pids in the instance's event pid filter (set_event_pid); empty when unreadable.
std::set<pid_t> read_event_pids(const std::string& instance_dir);
// Appends threads to the event pid filter (appending keeps the existing ones). A thread that
// exited meanwhile is skipped. kIo naming the file otherwise. Only the main instance's: a
// trace_events hook rewrites its companion's pid filters from this list within ~100 ms
// (docs/hooks.md, "trace_events").
Status add_event_pids(const std::string& instance_dir, const std::vector<pid_t>& tids);

// A hook run's instances: `instance_dir` and, when it exists, its companion
// (`<instance_dir>` + kCompanionSuffix, common/target_events.h): trace_events keeps events about
// another task (a signal's target) there, without set_event_pid (docs/hooks.md, "trace_events").
// The companion shares the main instance's prefix and goes with it. The main instance first.
// A manager creates the companion before it announces the main instance, so a reader that asks
// once it has the announced path sees every instance the run will have.
std::vector<std::string> run_instances(const std::string& instance_dir);

// Turns tracing off and rmdirs the instance, retrying while the kernel answers EBUSY (a reader
// still holds a pipe open) for up to `patience`; its companion (`<instance_dir>_t`) first when
// there is one. Gone counts as removed. kIo naming the instance that stayed otherwise.
Status remove(const std::string& instance_dir, std::chrono::milliseconds patience);

// Names of the instances under `tracing_dir` starting with `name_prefix`, sorted; empty when none.
// kIo when the instances directory cannot be listed.
Result<std::vector<std::string>> list(const std::string& tracing_dir, std::string_view name_prefix);
// Removes every instance under `tracing_dir` whose name starts with `name_prefix`, which must
// start with kNameBase and be longer (kInvalidArgument otherwise: never "all of ctrace_").
// Returns how many were removed; the error lists the ones that could not be.
Result<std::size_t> remove_all(const std::string& tracing_dir, std::string_view name_prefix,
                               std::chrono::milliseconds patience);

}  // namespace ct::node::ftrace
