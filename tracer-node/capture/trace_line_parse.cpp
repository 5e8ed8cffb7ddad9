#include "tracer-node/capture/trace_line_parse.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/strings.h"

namespace ct::node {
namespace {

template <class T>
bool to_number(std::string_view s, T& out, int base = 10) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc{} && p == s.data() + s.size();
}

// "1234.567890" -> ns
std::optional<std::uint64_t> parse_timestamp(std::string_view s) {
    auto dot = s.find('.');
    std::uint64_t secs = 0, frac = 0;
    if (dot == std::string_view::npos) {
        if (!to_number(s, secs)) return std::nullopt;
        return secs * 1'000'000'000ULL;
    }
    auto frac_text = s.substr(dot + 1);
    if (frac_text.empty() || frac_text.size() > 9 || !to_number(s.substr(0, dot), secs) || !to_number(frac_text, frac))
        return std::nullopt;
    for (size_t i = frac_text.size(); i < 9; ++i) frac *= 10;
    return secs * 1'000'000'000ULL + frac;
}

// "dfd: ffffff9c, filename: 7ffd, flags: 0" -> (name, text) pairs; values stay text. A name
// given twice keeps its first place and its last value.
std::vector<std::pair<std::string_view, std::string_view>> parse_args(std::string_view text) {
    std::vector<std::pair<std::string_view, std::string_view>> args;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t comma = text.find(", ", pos);
        if (comma == std::string_view::npos) comma = text.size();
        auto item = text.substr(pos, comma - pos);
        auto colon = item.find(": ");
        if (colon != std::string_view::npos) {
            auto name = trim(item.substr(0, colon));
            auto value = trim(item.substr(colon + 2));
            auto same = std::ranges::find(args, name, &std::pair<std::string_view, std::string_view>::first);
            if (same != args.end()) same->second = value;
            else args.emplace_back(name, value);
        }
        pos = comma + 2;
    }
    return args;
}

// Fills e's type and values; false when the type table is full.
bool classify_syscall(TraceEvent& e, std::string_view body, TextEventTypes& types) {
    std::vector<EventField> fields;
    // Exit: "sys_getppid -> 0x4d2"
    auto arrow = body.find(" -> ");
    if (arrow != std::string_view::npos && body.find('(') == std::string_view::npos) {
        auto name = "sys_exit_" + std::string(body.substr(4, arrow - 4));
        auto ret = body.substr(arrow + 4);
        // The kernel prints the return register in hex; negative errnos wrap (0xfffffffffffffff2 = -14).
        unsigned long long bits = 0;
        long long value = 0;
        std::optional<long long> parsed;
        if (ret.starts_with("0x") && to_number(ret.substr(2), bits, 16)) parsed = static_cast<long long>(bits);
        else if (to_number(ret, value)) parsed = value;
        if (parsed) fields.push_back({"ret", FieldKind::kSigned, false});
        e.type = types.get(name, fields);
        e.values.add_string(ret);
        if (parsed) e.values.add_int(static_cast<std::uint64_t>(*parsed));
        return e.type != nullptr;
    }
    // Enter: "sys_openat(dfd: ffffff9c, ...)"
    auto paren = body.find('(');
    auto name = "sys_enter_" + std::string(body.substr(4, paren - 4));
    auto close = body.rfind(')');
    auto text = close != std::string_view::npos && close > paren ? body.substr(paren + 1, close - paren - 1)
                                                                  : body.substr(paren + 1);
    auto args = parse_args(text);
    for (const auto& [arg, value] : args) fields.push_back({std::string(arg), FieldKind::kString, true});
    e.type = types.get(name, fields);
    e.values.add_string(text);
    for (const auto& [arg, value] : args) e.values.add_string(value);
    return e.type != nullptr;
}

bool is_syscall_body(std::string_view body) {
    if (!body.starts_with("sys_")) return false;
    size_t end = 4;
    while (end < body.size() && (std::isalnum(static_cast<unsigned char>(body[end])) || body[end] == '_')) ++end;
    if (end == 4) return false;
    auto rest = body.substr(end);
    return rest.starts_with("(") || rest.starts_with(" -> ");
}

}  // namespace

const EventType* TextEventTypes::get(std::string_view name, const std::vector<EventField>& fields) {
    key_.assign(name);
    for (const auto& f : fields) {
        key_ += '\0';
        key_ += f.name;
    }
    if (auto it = types_.find(key_); it != types_.end()) return it->second.get();
    if (types_.size() >= kMaxTypes) return nullptr;
    auto type = std::make_unique<EventType>(std::string(name), fields, EventType::Details::kStored);
    return types_.emplace(key_, std::move(type)).first->second.get();
}

std::optional<TraceEvent> parse_trace_line(std::string_view line, TextEventTypes& types) {
    // Task names and string arguments are whatever bytes a process chose; events become JSON.
    std::string repaired;
    if (valid_utf8_prefix(line) != line.size()) {
        repaired = to_valid_utf8(line);
        line = repaired;
    }
    line = trim(line);
    if (line.empty() || line.front() == '#') return std::nullopt;
    // The CPU field "[001]" anchors the header: comm may contain spaces and dashes.
    auto lb = line.find(" [");
    while (lb != std::string_view::npos) {
        auto rb = line.find(']', lb);
        if (rb != std::string_view::npos && rb > lb + 2) {
            int cpu = 0;
            if (to_number(line.substr(lb + 2, rb - lb - 2), cpu)) break;
        }
        lb = line.find(" [", lb + 1);
    }
    if (lb == std::string_view::npos) return std::nullopt;
    auto task = trim(line.substr(0, lb));
    auto dash = task.rfind('-');
    if (dash == std::string_view::npos) return std::nullopt;
    TraceEvent e;
    if (!to_number(task.substr(dash + 1), e.pid)) return std::nullopt;
    e.comm = std::string(task.substr(0, dash));
    auto rb = line.find(']', lb);
    to_number(line.substr(lb + 2, rb - lb - 2), e.cpu);
    // After "]": optional flags column, then "<timestamp>: ".
    auto rest = trim(line.substr(rb + 1));
    auto colon = rest.find(": ");
    if (colon == std::string_view::npos) {
        if (!rest.ends_with(':')) return std::nullopt;
        colon = rest.size() - 1;
    }
    auto stamp_and_flags = rest.substr(0, colon);
    auto space = stamp_and_flags.rfind(' ');
    auto stamp = space == std::string_view::npos ? stamp_and_flags : stamp_and_flags.substr(space + 1);
    auto ts = parse_timestamp(stamp);
    if (!ts) return std::nullopt;
    e.timestamp_ns = *ts;
    auto body = colon + 2 <= rest.size() ? rest.substr(colon + 2) : std::string_view{};
    if (is_syscall_body(body)) {
        if (!classify_syscall(e, body, types)) return std::nullopt;
        return e;
    }
    // Generic "<event>: <details>".
    auto sep = body.find(": ");
    auto name = sep == std::string_view::npos ? (body.ends_with(':') ? body.substr(0, body.size() - 1) : body)
                                              : body.substr(0, sep);
    e.type = types.get(name, {});
    if (!e.type) return std::nullopt;
    e.values.add_string(sep == std::string_view::npos ? std::string_view() : body.substr(sep + 2));
    return e;
}

namespace {

// "key=value key=value" -> value of `key`; "" when absent. Values end at the next space.
std::string_view kv_value(std::string_view text, std::string_view key) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        auto item = text.substr(pos, end - pos);
        if (item.size() > key.size() && item.starts_with(key) && item[key.size()] == '=')
            return item.substr(key.size() + 1);
        pos = end + 1;
    }
    return {};
}

}  // namespace

std::optional<ProcessChange> process_change(const TraceEvent& e) {
    constexpr size_t kCommLen = 15;  // TASK_COMM_LEN - 1
    if (!e.type || e.type->lifecycle() == EventType::Lifecycle::kNone) return std::nullopt;
    // The named fields when the event has them (raw), else "key=value" in its details (text).
    std::string details;
    auto value = [&](std::string_view key) -> std::string {
        std::string out;
        bool found = false;
        visit_fields(e, [&](const FieldValue& v) {
            if (found || v.field->name != key) return;
            found = true;
            if (v.field->kind == FieldKind::kString) out.assign(v.text);
            else out = std::to_string(v.as_signed());
        });
        if (found) return out;
        if (details.empty()) details = e.details();
        return std::string(kv_value(details, key));
    };
    switch (e.type->lifecycle()) {
        case EventType::Lifecycle::kFork: {
            pid_t child = 0;
            if (!to_number(value("child_pid"), child) || child <= 0) return std::nullopt;
            return ProcessChange{ProcessChange::kFork, child, value("child_comm")};
        }
        case EventType::Lifecycle::kExec: {
            auto file = value("filename");
            if (file.empty()) return std::nullopt;
            auto base = std::string_view(file).substr(file.rfind('/') + 1);
            return ProcessChange{ProcessChange::kExec, e.pid, std::string(base.substr(0, kCommLen))};
        }
        case EventType::Lifecycle::kExit: {
            pid_t pid = 0;
            if (!to_number(value("pid"), pid) || pid <= 0) pid = e.pid;
            return ProcessChange{ProcessChange::kExit, pid, {}};
        }
        case EventType::Lifecycle::kNone: break;
    }
    return std::nullopt;
}

}  // namespace ct::node
