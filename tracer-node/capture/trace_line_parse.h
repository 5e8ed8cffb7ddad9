// Pure parser for ftrace's text output (trace / trace_pipe), default "irq-info" layout:
//   "          <comm>-<pid>     [<cpu>] <flags> <secs>.<usecs>: <event>: <details>"
// Syscall events print without an event name: "sys_getppid()" (enter, with "arg: value, ...")
// and "sys_getppid -> 0x4d2" (exit); they are normalised to sys_enter_X / sys_exit_X with
// fields {"args": {...}} (values as printed) or {"ret": n}.
// And process_change(): what a lifecycle event (fork, exec, exit) of either capture path says.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracer-node/export/trace_event.h"

namespace ct::node {

// The EventTypes of text events, one per event name and field list, made on first sight and
// kept for the table's life (its events point to them). Bounded: past kMaxTypes kinds, lines of
// a new kind are not parsed. One thread.
class TextEventTypes {
public:
    static constexpr std::size_t kMaxTypes = 4096;
    // The type named `name` with these fields and stored details; null when the table is full.
    const EventType* get(std::string_view name, const std::vector<EventField>& fields);

private:
    std::map<std::string, std::unique_ptr<EventType>, std::less<>> types_;
    std::string key_;  // reused: the lookup key
};

// nullopt for lines that are not events (comments "# ...", "CPU 1 buffer started", blanks).
// Bytes that are not valid UTF-8 (a task may name itself anything) come out as U+FFFD.
std::optional<TraceEvent> parse_trace_line(std::string_view line, TextEventTypes& types);

// A process appearing, changing its name or ending, from sched_process_fork ("comm=sh pid=10
// child_comm=sh child_pid=11"), sched_process_exec ("filename=/bin/ls pid=11 old_pid=11") or
// sched_process_exit ("comm=sh pid=11 prio=120 ..."): by field when the event has them (raw
// path), else from its details text.
struct ProcessChange {
    enum Kind { kFork, kExec, kExit } kind = kFork;
    pid_t pid = 0;      // the child (fork), the exec'ing process, or the thread that exits
    std::string comm;   // child_comm, or the exec'd file's name cut to the kernel's 15 chars; "" on exit
};
// Pure; nullopt for every other event.
std::optional<ProcessChange> process_change(const TraceEvent& event);

}  // namespace ct::node
