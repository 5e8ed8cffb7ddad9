#include "tracer-node/capture/trace_line_parse.h"

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

// "dfd: ffffff9c, filename: 7ffd, flags: 0" -> {"dfd": "ffffff9c", ...}; values stay text (hex).
boost::json::object parse_args(std::string_view text) {
    boost::json::object args;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t comma = text.find(", ", pos);
        if (comma == std::string_view::npos) comma = text.size();
        auto item = text.substr(pos, comma - pos);
        auto colon = item.find(": ");
        if (colon != std::string_view::npos) args[trim(item.substr(0, colon))] = trim(item.substr(colon + 2));
        pos = comma + 2;
    }
    return args;
}

void classify_syscall(TraceEvent& e, std::string_view body) {
    // Exit: "sys_getppid -> 0x4d2"
    auto arrow = body.find(" -> ");
    if (arrow != std::string_view::npos && body.find('(') == std::string_view::npos) {
        auto name = body.substr(4, arrow - 4);
        e.event = "sys_exit_" + std::string(name);
        e.details = std::string(body.substr(arrow + 4));
        std::string_view ret = e.details;
        // The kernel prints the return register in hex; negative errnos wrap (0xfffffffffffffff2 = -14).
        unsigned long long bits = 0;
        long long value = 0;
        if (ret.starts_with("0x") && to_number(ret.substr(2), bits, 16))
            e.fields["ret"] = static_cast<long long>(bits);
        else if (to_number(ret, value))
            e.fields["ret"] = value;
        return;
    }
    // Enter: "sys_openat(dfd: ffffff9c, ...)"
    auto paren = body.find('(');
    e.event = "sys_enter_" + std::string(body.substr(4, paren - 4));
    auto close = body.rfind(')');
    auto args = close != std::string_view::npos && close > paren ? body.substr(paren + 1, close - paren - 1)
                                                                  : body.substr(paren + 1);
    e.details = std::string(args);
    if (!args.empty()) e.fields["args"] = parse_args(args);
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

std::optional<TraceEvent> parse_trace_line(std::string_view line) {
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
        classify_syscall(e, body);
        return e;
    }
    // Generic "<event>: <details>".
    auto sep = body.find(": ");
    if (sep == std::string_view::npos) {
        e.event = std::string(body.ends_with(':') ? body.substr(0, body.size() - 1) : body);
    } else {
        e.event = std::string(body.substr(0, sep));
        e.details = std::string(body.substr(sep + 2));
    }
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
    // string_view compares lengths first: this runs on every event, nearly all of them neither.
    std::string_view event = e.event;
    if (event == "sched_process_fork") {
        pid_t child = 0;
        if (!to_number(kv_value(e.details, "child_pid"), child) || child <= 0) return std::nullopt;
        return ProcessChange{ProcessChange::kFork, child, std::string(kv_value(e.details, "child_comm"))};
    }
    if (event == "sched_process_exec") {
        auto file = kv_value(e.details, "filename");
        if (file.empty()) return std::nullopt;
        auto base = file.substr(file.rfind('/') + 1);
        return ProcessChange{ProcessChange::kExec, e.pid, std::string(base.substr(0, kCommLen))};
    }
    return std::nullopt;
}

}  // namespace ct::node
