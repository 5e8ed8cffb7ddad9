#include "tracer-node/export/trace_event.h"

#include <charconv>

#include <boost/json/serialize.hpp>

namespace ct::node {

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

// `member` is the literal key text, e.g. R"(,"task":)" (keys need no escaping).
void append_member(std::string& out, std::string_view member, std::string_view value) {
    out += member;
    append_string(out, value);
}

template <typename Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_value(std::string& out, const boost::json::value& v);

void append_object(std::string& out, const boost::json::object& o) {
    out += '{';
    bool first = true;
    for (const auto& kv : o) {
        if (!first) out += ',';
        append_string(out, kv.key());
        out += ':';
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

void EventJsonWriter::append_memo(std::string& out, Memo& memo, std::string_view member, std::string_view value) {
    if (!memo.set || memo.value != value) {
        memo.value.assign(value);
        memo.json.clear();
        append_member(memo.json, member, value);
        memo.set = true;
    }
    out += memo.json;
}

EventJsonWriter::EventJsonWriter(const EventContext& c) {
    append_member(prefix_, R"({"node":)", c.node);
    append_member(prefix_, R"(,"session":)", c.session_id);
    append_member(prefix_, R"(,"hook":)", c.hook);
    append_member(prefix_, R"(,"context":)", c.user_context);
}

void EventJsonWriter::append(std::string& out, const TraceEvent& e, const EventOwner* owner) {
    out += prefix_;
    if (owner) {
        append_memo(out, pod_, R"(,"pod":)", owner->pod);
        if (!owner->pod_namespace.empty()) append_memo(out, namespace_, R"(,"namespace":)", owner->pod_namespace);
        append_memo(out, container_, R"(,"container":)", owner->container);
    } else {
        out += R"(,"pod":null,"container":null)";
    }
    append_memo(out, task_, R"(,"task":)", e.comm);
    out += R"(,"pid":)";
    append_int(out, static_cast<std::int64_t>(e.pid));
    out += R"(,"cpu":)";
    append_int(out, static_cast<std::int64_t>(e.cpu));
    // Seconds as ftrace prints them, as text: a double would lose nanoseconds and print "1.8E3".
    out += R"(,"timestamp":")";
    append_int(out, e.timestamp_ns / 1'000'000'000ULL);
    char frac[10] = {'.', '0', '0', '0', '0', '0', '0', '0', '0', '0'};  // ".%09u"
    auto ns = e.timestamp_ns % 1'000'000'000ULL;
    for (int i = 9; ns; --i, ns /= 10) frac[i] = static_cast<char>('0' + ns % 10);
    out.append(frac, sizeof frac);
    out += R"(","timestamp_ns":)";
    append_int(out, e.timestamp_ns);
    Memo& event = events_[0].value == e.event ? events_[0]
                  : events_[1].value == e.event ? events_[1]
                                                : events_[next_event_++ & 1];
    append_memo(out, event, R"(,"event":)", e.event);
    append_member(out, R"(,"details":)", e.details);
    if (!e.fields.empty()) {
        out += R"(,"fields":)";
        append_object(out, e.fields);
    }
    out += '}';
}

}  // namespace ct::node
