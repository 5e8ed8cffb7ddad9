// TraceEvent: one event captured by a hook, in the one model both capture paths produce
// (text trace lines and raw per-CPU buffers). Enriched with its session and owner before export.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "tracer-node/discovery/pod_db.h"

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

// The pod/container an event's task belongs to (discovery's model).
using EventOwner = Owner;

// The exported JSON object for an event (one JSON line). Pure.
boost::json::object event_to_json(const TraceEvent& event, const EventContext& context, const EventOwner* owner);

// Appends exactly the text of serialize(event_to_json(...)) to `out`, without building the
// object: the hot path of the text exporters (one event costs a few appends, no allocation
// once `out` has grown). Pure.
void append_event_json(std::string& out, const TraceEvent& event, const EventContext& context, const EventOwner* owner);

}  // namespace ct::node
