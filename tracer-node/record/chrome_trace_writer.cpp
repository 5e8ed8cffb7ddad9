#include "tracer-node/record/chrome_trace_writer.h"

#include <charconv>
#include <cstring>

namespace ct::node::record {

namespace {

constexpr std::string_view kEnter = "sys_enter_";
constexpr std::string_view kExit = "sys_exit_";

// A JSON string literal: quotes, backslashes and control characters escaped; other bytes as they
// are (TraceEvent strings are valid UTF-8).
void append_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
}

template <typename Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Nanoseconds as microseconds with three decimals: exact, and no exponent notation.
void append_us(std::string& out, std::int64_t ns) {
    if (ns < 0) {
        out += '-';
        ns = -ns;
    }
    append_int(out, ns / 1000);
    char frac[4] = {'.', static_cast<char>('0' + ns % 1000 / 100), static_cast<char>('0' + ns % 100 / 10),
                    static_cast<char>('0' + ns % 10)};
    out.append(frac, 4);
}

// One field's value as JSON, as the event JSON writer exports it (docs/api.md "Exported events").
void append_value(std::string& out, const FieldValue& v) {
    auto append_array = [&](bool is_signed) {
        out += '[';
        for (std::size_t i = 0; i + 8 <= v.array.size(); i += 8) {
            std::uint64_t x;
            std::memcpy(&x, v.array.data() + i, 8);
            if (i) out += ',';
            if (is_signed) append_int(out, static_cast<std::int64_t>(x));
            else append_int(out, x);
        }
        out += ']';
    };
    switch (v.field->kind) {
        case FieldKind::kSigned: append_int(out, v.as_signed()); break;
        case FieldKind::kUnsigned: append_int(out, v.integer); break;
        case FieldKind::kHex: {
            char buf[20];
            auto r = std::to_chars(buf, buf + sizeof buf, v.integer, 16);
            out += "\"0x";
            out.append(buf, r.ptr);
            out += '"';
            break;
        }
        case FieldKind::kString: append_string(out, v.text); break;
        case FieldKind::kSignedArray: append_array(true); break;
        case FieldKind::kUnsignedArray: append_array(false); break;
    }
}

// The members (no braces) of an event's args: a syscall enter's arguments, an exit's "ret",
// any other event's fields (and its text when it has no fields).
std::string args_of(const TraceEvent& e) {
    std::string out;
    const bool enter = e.name().starts_with(kEnter);
    visit_fields(e, [&](const FieldValue& v) {
        if (enter && !v.field->arg) return;
        if (!out.empty()) out += ',';
        append_string(out, v.field->name);
        out += ':';
        append_value(out, v);
    });
    if (!enter && e.type && e.type->fields().empty()) {
        if (auto details = e.details(); !details.empty()) {
            out += "\"details\":";
            append_string(out, details);
        }
    }
    return out;
}

}  // namespace

ChromeTraceWriter::ChromeTraceWriter(ChromeTraceOptions options) : options_(std::move(options)) {}

void ChromeTraceWriter::open_document(std::string& out) { out += R"({"traceEvents":[)"; }

void ChromeTraceWriter::close_document(std::string& out, const std::vector<std::pair<std::string, std::string>>& other) {
    out += R"(
],"displayTimeUnit":"ns","otherData":{"events":")";
    append_int(out, events_);
    out += '"';
    for (const auto& [key, value] : other) {
        out += ',';
        append_string(out, key);
        out += ':';
        append_string(out, value);
    }
    out += "}}\n";
}

void ChromeTraceWriter::begin_event(std::string& out) {
    out += first_ ? "\n" : ",\n";
    first_ = false;
}

void ChromeTraceWriter::name_task(std::string& out, pid_t tid, const ChromeTask& task, std::uint64_t pid) {
    if (named_processes_.insert(pid).second) {
        std::string name = options_.process_prefix;
        if (task.owner) {
            if (!task.owner->pod_namespace.empty()) name += task.owner->pod_namespace + "/";
            name += task.owner->pod + "/" + task.owner->container;
        } else {
            name += "(no container)";
        }
        begin_event(out);
        out += R"({"name":"process_name","ph":"M","ts":0,"pid":)";
        append_int(out, pid);
        out += R"(,"args":{"name":)";
        append_string(out, name);
        out += "}}";
        begin_event(out);
        out += R"({"name":"process_sort_index","ph":"M","ts":0,"pid":)";
        append_int(out, pid);
        out += R"(,"args":{"sort_index":)";
        append_int(out, options_.sort_index);
        out += "}}";
    }
    auto [it, added] = thread_names_.try_emplace(tid);
    if (!added && it->second == task.comm) return;
    it->second = task.comm;  // a task renamed by exec gets its new name (the last one counts)
    begin_event(out);
    out += R"({"name":"thread_name","ph":"M","ts":0,"pid":)";
    append_int(out, pid);
    out += R"(,"tid":)";
    append_int(out, tid);
    out += R"(,"args":{"name":)";
    append_string(out, task.comm);
    out += "}}";
}

void ChromeTraceWriter::instant(std::string& out, std::string_view name, std::int64_t ts_ns, std::uint64_t pid,
                                pid_t tid, std::string_view args) {
    begin_event(out);
    out += R"({"name":)";
    append_string(out, name);
    out += name.starts_with(kEnter) || name.starts_with(kExit) ? R"(,"cat":"syscall")" : R"(,"cat":"event")";
    out += R"(,"ph":"i","s":"t","ts":)";
    append_us(out, ts_ns);
    out += R"(,"pid":)";
    append_int(out, pid);
    out += R"(,"tid":)";
    append_int(out, tid);
    out += R"(,"args":{)";
    out += args;
    out += "}}";
    ++events_;
}

void ChromeTraceWriter::add(std::string& out, const TraceEvent& e, const ChromeTask& task, std::int64_t ts_offset_ns) {
    const std::uint64_t pid = options_.pid_base + static_cast<std::uint64_t>(task.tgid);
    const std::int64_t ts = static_cast<std::int64_t>(e.timestamp_ns) + ts_offset_ns;
    name_task(out, e.pid, task, pid);
    const std::string_view event = e.name();
    if (event.starts_with(kEnter)) {
        // A second enter before an exit: the first one's exit was lost.
        if (auto it = pending_.find(e.pid); it != pending_.end()) {
            instant(out, it->second.enter_event, it->second.ts_ns, it->second.pid, e.pid, it->second.args);
            pending_.erase(it);
        }
        pending_.emplace(e.pid, Pending{ts, std::string(event.substr(kEnter.size())), args_of(e), pid, std::string(event)});
        return;
    }
    if (event.starts_with(kExit)) {
        auto name = event.substr(kExit.size());
        auto it = pending_.find(e.pid);
        std::string ret = args_of(e);
        if (it == pending_.end() || it->second.name != name) {
            if (it != pending_.end()) {
                instant(out, it->second.enter_event, it->second.ts_ns, it->second.pid, e.pid, it->second.args);
                pending_.erase(it);
            }
            instant(out, event, ts, pid, e.pid, ret);
            return;
        }
        const auto& enter = it->second;
        begin_event(out);
        out += R"({"name":)";
        append_string(out, enter.name);
        out += R"(,"cat":"syscall","ph":"X","ts":)";
        append_us(out, enter.ts_ns);
        out += R"(,"dur":)";
        append_us(out, std::max<std::int64_t>(0, ts - enter.ts_ns));
        out += R"(,"pid":)";
        append_int(out, pid);
        out += R"(,"tid":)";
        append_int(out, e.pid);
        out += R"(,"args":{)";
        out += enter.args;
        if (!enter.args.empty() && !ret.empty()) out += ',';
        out += ret;
        out += "}}";
        ++events_;
        pending_.erase(it);
        return;
    }
    instant(out, event, ts, pid, e.pid, args_of(e));
}

void ChromeTraceWriter::flush(std::string& out) {
    for (const auto& [tid, p] : pending_) instant(out, p.enter_event, p.ts_ns, p.pid, tid, p.args);
    pending_.clear();
}

}  // namespace ct::node::record
