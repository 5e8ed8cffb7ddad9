// Pure event selection for the trace_events hook (docs/hooks.md, "trace_events"): which of the
// kernel's tracepoints (its available_events) the -e patterns name, how each one is scoped to
// the session's processes, and the hook's description. No I/O; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "trace-hooks/ftrace/hook_args.h"

namespace ct::hooks::ftrace {

struct EventName {
    std::string system;
    std::string name;
    auto operator<=>(const EventName&) const = default;
};

// The events an available_events text lists ("sched:sched_switch" lines), sorted, unique.
// Lines that are not "system:event" are skipped.
std::vector<EventName> parse_available_events(std::string_view text);

// How an event is kept to the session's processes.
enum class EventScope {
    // Written by the task it is about: the instance's set_event_pid (with event-fork) keeps the
    // session's tasks and their children. Most events; also sched_process_exit (written by the
    // exiting task itself) and the wakeup/switch events, which the kernel's pid filter checks
    // against the woken/switched task.
    kTask,
    // Written by another task (the sender of a signal, the OOM killer): scoped by the pid field
    // target_field() names, in a companion instance without set_event_pid.
    kTarget,
};

// The field naming the task a target-scoped event is about ("pid"); nullopt for task-scoped
// events. The table is common/target_events.h, shared with tracer-node's capture.
std::optional<std::string_view> target_field(const EventName& event);

// Lifecycle events the reader relies on (tracer-node/capture): sched_process_fork attributes
// children to their container, so a user's filter on it is refused.
inline constexpr std::string_view kForkEvent = "sched_process_fork";

struct SelectedEvent {
    EventName event;
    std::string filter;  // the user's normalised filter; "" for none
    EventScope scope = EventScope::kTask;
};

// The events the requests select from `available`, sorted. A pattern is "system:event" with
// shell globs in either part. kInvalidArgument naming the request: an unknown event (with the
// closest known name when there is one), a glob that matches nothing, a pattern without ':',
// one event selected twice with different filters, a filter on sched:sched_process_fork.
Result<std::vector<SelectedEvent>> select_events(const std::vector<EventRequest>& requests,
                                                 const std::vector<EventName>& available);

// The trace_events hook's --describe lines: its usage, then every system of `available` with its
// event count and names ("sched (26): sched_kthread_stop, ..."; systems of more than
// kListedPerSystem events show that many and how to take them all). `available` empty: a line
// saying no events could be listed.
inline constexpr std::size_t kListedPerSystem = 40;
std::vector<std::string> describe_events(const std::vector<EventName>& available);

}  // namespace ct::hooks::ftrace
