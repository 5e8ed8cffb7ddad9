// Pure parser for ftrace's text output (trace / trace_pipe), default "irq-info" layout:
//   "          <comm>-<pid>     [<cpu>] <flags> <secs>.<usecs>: <event>: <details>"
// Syscall events print without an event name: "sys_getppid()" (enter, with "arg: value, ...")
// and "sys_getppid -> 0x4d2" (exit); they are normalised to sys_enter_X / sys_exit_X with
// fields {"args": {...}} or {"ret": n}.
#pragma once

#include <optional>
#include <string_view>

#include "tracer-node/export/trace_event.h"

namespace ct::node {

// nullopt for lines that are not events (comments "# ...", "CPU 1 buffer started", blanks).
// Bytes that are not valid UTF-8 (a task may name itself anything) come out as U+FFFD.
std::optional<TraceEvent> parse_trace_line(std::string_view line);

// A process appearing or changing its name, from sched_process_fork ("comm=sh pid=10
// child_comm=sh child_pid=11") or sched_process_exec ("filename=/bin/ls pid=11 old_pid=11").
struct ProcessChange {
    enum Kind { kFork, kExec } kind = kFork;
    pid_t pid = 0;      // the child (fork) or the exec'ing process
    std::string comm;   // child_comm, or the exec'd file's name cut to the kernel's 15 chars
};
// Pure; nullopt for every other event.
std::optional<ProcessChange> process_change(const TraceEvent& event);

}  // namespace ct::node
