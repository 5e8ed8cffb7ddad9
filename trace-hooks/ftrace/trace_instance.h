// TraceInstance: owns one ftrace instance (a directory under <tracing>/instances) and removes it
// on destruction, so no run of the manager leaves an instance behind on an error path.
// Plus the tracefs set-up the manager needs before creating one. All libtracefs use goes through
// tracefs_adapter.h. Single-threaded: the manager's main thread owns everything here.
// Errors: kUnavailable when tracefs itself is missing, kIo for failed file operations (the message
// names the file and the errno text), kNotFound for an unknown syscall.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct tracefs_instance;

namespace ct::hooks::ftrace {

// <sysfs_root>/kernel/tracing, made absolute; mounts tracefs there when it is not mounted yet and
// points libtracefs at it. Returns the tracing directory.
Result<std::string> prepare_tracing_dir(std::string_view sysfs_root);

// Syscall names that have enter tracepoints (events/syscalls/sys_enter_*), sorted.
Result<std::vector<std::string>> available_syscalls();

// A file of the tracing directory itself (e.g. "available_events"). kIo naming it.
Result<std::string> read_tracing_file(std::string_view file);

class TraceInstance {
public:
    // Creates instances/<prefix><manager pid>_<random hex>, a name nobody else uses.
    static Result<TraceInstance> create(std::string_view prefix);
    // Creates instances/<name> with exactly that name (a companion named after its main
    // instance). kConflict when it exists already.
    static Result<TraceInstance> create_named(std::string_view name);
    // Handle on an existing instance by name (for --clear); does not create it.
    static Result<TraceInstance> open_existing(std::string_view name);

    // Tracing off and one short removal attempt if remove() has not succeeded.
    ~TraceInstance();
    TraceInstance(TraceInstance&& other) noexcept;
    TraceInstance& operator=(TraceInstance&& other) noexcept;
    TraceInstance(const TraceInstance&) = delete;
    TraceInstance& operator=(const TraceInstance&) = delete;

    const std::string& name() const { return name_; }
    const std::string& dir() const { return dir_; }
    std::string pipe_path() const { return dir_ + "/trace_pipe"; }

    Status set_buffer_kb(uint64_t kb);
    // Replaces set_event_pid with all of `pids` (one write; lists may be thousands long).
    Status set_event_pids(const std::vector<pid_t>& pids);
    // The threads in set_event_pid now, sorted: the ones given plus the children event-fork
    // added, without those that exited.
    Result<std::vector<pid_t>> event_pids() const;
    Status enable_event_fork();
    // events/<system>/<event>/enable. kNotFound for an event the kernel does not have.
    Status enable_event(std::string_view system, std::string_view event);
    // events/<system>/<event>/filter. kInvalidArgument with the kernel's reason when it refuses
    // the text (an unknown field, a value of the wrong kind).
    Status set_filter(std::string_view system, std::string_view event, std::string_view filter);
    // syscalls/sys_enter_<name> and sys_exit_<name>.
    Status enable_syscall(std::string_view name);
    Status enable_all_syscalls();
    // sched_process_fork/exec of the traced tasks: lets readers name and place processes that
    // exit before they can be looked up in /proc.
    Status enable_process_lifecycle();
    // tracing_on; 0 tells readers the hook is finishing.
    Status set_tracing(bool on);
    // True when every CPU's ring buffer is empty (per_cpu/cpu*/stats "entries: 0").
    Result<bool> drained() const;
    // rmdir, retried while the kernel answers EBUSY (a reader still holds a pipe open) for up to
    // `patience`. An instance already gone counts as removed. Afterwards the object is empty.
    Status remove(std::chrono::milliseconds patience);

private:
    TraceInstance(tracefs_instance* inst, std::string name, std::string dir)
        : inst_(inst), name_(std::move(name)), dir_(std::move(dir)) {}
    Status write(std::string_view file, std::string_view data);
    void release();

    tracefs_instance* inst_ = nullptr;
    std::string name_;
    std::string dir_;
};

// Removes every instance whose name starts with `prefix` (tracing off first, so their readers
// finish). Returns how many were removed; the error lists those that could not be.
Result<size_t> remove_instances_with_prefix(std::string_view prefix, std::chrono::milliseconds patience);

}  // namespace ct::hooks::ftrace
