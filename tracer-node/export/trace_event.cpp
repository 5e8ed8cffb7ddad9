#include "tracer-node/export/trace_event.h"

#include <fmt/format.h>

namespace ct::node {

boost::json::object event_to_json(const TraceEvent& e, const EventContext& c, const EventOwner* owner) {
    boost::json::object o;
    o.reserve(16);
    o["node"] = c.node;
    o["session"] = c.session_id;
    o["hook"] = c.hook;
    o["context"] = c.user_context;
    if (owner) {
        o["pod"] = owner->pod;
        if (!owner->pod_namespace.empty()) o["namespace"] = owner->pod_namespace;
        o["container"] = owner->container;
    } else {
        o["pod"] = nullptr;
        o["container"] = nullptr;
    }
    o["task"] = e.comm;
    o["pid"] = e.pid;
    o["cpu"] = e.cpu;
    // Seconds as ftrace prints them, as text: a double would lose nanoseconds and print "1.8E3".
    o["timestamp"] = fmt::format("{}.{:09}", e.timestamp_ns / 1'000'000'000ULL, e.timestamp_ns % 1'000'000'000ULL);
    o["timestamp_ns"] = e.timestamp_ns;
    o["event"] = e.event;
    o["details"] = e.details;
    if (!e.fields.empty()) o["fields"] = e.fields;
    return o;
}

}  // namespace ct::node
