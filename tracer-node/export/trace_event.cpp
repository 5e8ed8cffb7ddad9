#include "tracer-node/export/trace_event.h"

#include <boost/json/serialize.hpp>
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

namespace {

// A JSON string literal as boost::json::serialize writes it: \" \\ and the short escapes,
// other control characters as \u00xx, every other byte as is.
void append_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    size_t plain = 0;  // start of the run of bytes that need no escape
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xf];
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

void append_key(std::string& out, std::string_view key, bool first = false) {
    if (!first) out += ',';
    append_string(out, key);
    out += ':';
}

template <typename Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = fmt::format_to_n(buf, sizeof buf, "{}", v);
    out.append(buf, r.size);
}

void append_value(std::string& out, const boost::json::value& v);

void append_object(std::string& out, const boost::json::object& o) {
    out += '{';
    bool first = true;
    for (const auto& kv : o) {
        append_key(out, kv.key(), first);
        append_value(out, kv.value());
        first = false;
    }
    out += '}';
}

void append_value(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::string: append_string(out, v.get_string()); break;
        case boost::json::kind::int64: append_int(out, v.get_int64()); break;
        case boost::json::kind::uint64: append_int(out, v.get_uint64()); break;
        case boost::json::kind::object: append_object(out, v.get_object()); break;
        default: out += boost::json::serialize(v);  // arrays, doubles, bools, null: rare here
    }
}

}  // namespace

void append_event_json(std::string& out, const TraceEvent& e, const EventContext& c, const EventOwner* owner) {
    out += '{';
    append_key(out, "node", true);
    append_string(out, c.node);
    append_key(out, "session");
    append_string(out, c.session_id);
    append_key(out, "hook");
    append_string(out, c.hook);
    append_key(out, "context");
    append_string(out, c.user_context);
    if (owner) {
        append_key(out, "pod");
        append_string(out, owner->pod);
        if (!owner->pod_namespace.empty()) {
            append_key(out, "namespace");
            append_string(out, owner->pod_namespace);
        }
        append_key(out, "container");
        append_string(out, owner->container);
    } else {
        out += R"(,"pod":null,"container":null)";
    }
    append_key(out, "task");
    append_string(out, e.comm);
    append_key(out, "pid");
    append_int(out, static_cast<std::int64_t>(e.pid));
    append_key(out, "cpu");
    append_int(out, static_cast<std::int64_t>(e.cpu));
    append_key(out, "timestamp");
    char ts[48];
    auto r = fmt::format_to_n(ts, sizeof ts, "\"{}.{:09}\"", e.timestamp_ns / 1'000'000'000ULL,
                              e.timestamp_ns % 1'000'000'000ULL);
    out.append(ts, r.size);
    append_key(out, "timestamp_ns");
    append_int(out, e.timestamp_ns);
    append_key(out, "event");
    append_string(out, e.event);
    append_key(out, "details");
    append_string(out, e.details);
    if (!e.fields.empty()) {
        append_key(out, "fields");
        append_object(out, e.fields);
    }
    out += '}';
}

}  // namespace ct::node
