// TraceEvent: one event captured by a hook, in the one model both capture paths produce
// (text trace lines and raw per-CPU buffers). Enriched with its session and owner before export.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>


namespace ct::node {

struct TraceEvent {
    std::uint64_t timestamp_ns = 0;  // kernel trace clock, nanoseconds
    int cpu = -1;
    pid_t pid = 0;                   // thread id, as ftrace reports it
    std::string comm;                // task name
    std::string event;               // "sys_enter_getppid", "sys_exit_getppid", "sched_switch", ...
    std::string details;             // the event's own text (args), as ftrace prints it
    boost::json::object fields;      // structured fields when known: syscall args, "ret", "nr"
};

// Who the event is about and which session captured it; filled by the pipeline.
struct EventContext {
    std::string node;
    std::string session_id;  // decimal u64
    std::string hook;
    std::string user_context;
};

// The pod/container an event's task belongs to. Export's own copy of discovery's answer
// (discovery/pod_db.h Owner): exporters know nothing of how it was found.
struct EventOwner {
    std::string pod;
    std::string pod_namespace;  // "" when unknown (procfs discovery)
    std::string container;
    std::string container_id;   // the runtime's id of the container; "" when none
    bool operator==(const EventOwner&) const = default;
};

// Writes events as JSON lines, one object per event (docs/api.md "Exported events"): the
// session's members come first and are escaped once per writer, not once per event — the hot
// path of the text exporters (an event costs a few appends, no allocation once `out` has grown).
// The owner, task and event name repeat from event to event: each keeps its last escaped text and
// reuses it while the value is the same. Strings are written as they are: TraceEvent strings are
// valid UTF-8 (the decoders repair them).
// Pure; build one per batch of a session's events and use it on one thread.
class EventJsonWriter {
public:
    explicit EventJsonWriter(const EventContext& context);
    // Appends the event's object (no newline) to `out`.
    void append(std::string& out, const TraceEvent& event, const EventOwner* owner);

private:
    // One member's last value and its escaped `"key":"value"` text.
    struct Memo {
        bool set = false;
        std::string value;
        std::string json;
    };
    // Appends member + value escaped, through `memo` when it holds that value already.
    static void append_memo(std::string& out, Memo& memo, std::string_view member, std::string_view value);
    std::string prefix_;  // {"node":..,"session":..,"hook":..,"context":..
    Memo pod_, namespace_, container_, task_;
    Memo events_[2];      // syscall enter and exit names alternate
    unsigned next_event_ = 0;
};

}  // namespace ct::node
