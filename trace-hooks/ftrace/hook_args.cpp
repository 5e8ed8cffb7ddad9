#include "trace-hooks/ftrace/hook_args.h"

#include <algorithm>
#include <climits>
#include <optional>

#include <fmt/format.h>

#include "common/strings.h"
#include "trace-hooks/ftrace/trace_filter.h"

namespace ct::hooks::ftrace {
namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

bool is_option(std::string_view token) { return token.size() >= 2 && token.front() == '-'; }

// "-5": a negative number where a value belongs, not an option.
bool is_negative_number(std::string_view token) {
    return token.size() >= 2 && token.front() == '-' &&
           std::ranges::all_of(token.substr(1), [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_syscall_name(std::string_view name) {
    return !name.empty() && std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// Canonical option name for each accepted spelling; nullopt for an unknown option.
std::optional<std::string_view> canonical(std::string_view option) {
    if (option == "--pid") return "--pid";
    if (option == "-s" || option == "--syscall" || option == "--syscalls") return "--syscall";
    if (option == "-t" || option == "--time") return "--time";
    if (option == "-b" || option == "--buffer-kb") return "--buffer-kb";
    return std::nullopt;
}

Result<pid_t> parse_pid(std::string_view text) {
    auto value = parse_u64(text);
    if (!value || *value == 0 || *value > static_cast<unsigned long long>(INT_MAX))
        return bad(fmt::format("invalid pid \"{}\": expected a positive number", text));
    return static_cast<pid_t>(*value);
}

constexpr std::string_view kMissingPid = "missing --pid: the threads to trace come first";

// One option token of a hook's arguments: "-e", "--event=sched:x" -> token "--event", value "sched:x".
struct OptionRead {
    std::string_view given;   // as written, "--filter=sig"
    std::string_view token;   // without its inline value, "--filter"
    std::string_view option;  // canonical spelling, "--filter"
    std::optional<std::string_view> inline_value;
};

// Reads the option `given` with `canonical` (the hook's spellings); everything but --pid needs
// --pid before it. kInvalidArgument naming a non-option, an unknown option, or the missing --pid.
Result<OptionRead> read_option(std::string_view given,
                               std::optional<std::string_view> (*canonical)(std::string_view), bool saw_pid) {
    if (!is_option(given)) return bad(fmt::format("unexpected argument \"{}\"", given));
    OptionRead out{.given = given, .token = given, .option = {}, .inline_value = std::nullopt};
    if (given.starts_with("--"))
        if (size_t eq = given.find('='); eq != std::string_view::npos) {
            out.inline_value = given.substr(eq + 1);
            out.token = given.substr(0, eq);
        }
    auto option = canonical(out.token);
    if (!option) return bad(fmt::format("unknown option \"{}\"", out.token));
    if (*option != "--pid" && !saw_pid) return bad(std::string(kMissingPid));
    out.option = *option;
    return out;
}

// --pid PID...: once, with at least one PID (`given` is the option as written, for the message).
Status add_pids(std::string_view given, const std::vector<std::string_view>& values, bool& saw_pid,
                std::vector<pid_t>& pids) {
    if (saw_pid)
        return bad(fmt::format("a second --pid option (\"{}\"): the threads to trace are given once, first, "
                               "by tracer-node; hook arguments may not add any",
                               given));
    saw_pid = true;
    if (values.empty()) return bad("--pid needs at least one PID");
    for (auto v : values) {
        auto pid = parse_pid(v);
        if (!pid) return std::unexpected(pid.error());
        pids.push_back(*pid);
    }
    return {};
}

// -t MS or -b KB (canonical `option`; `token` as written): the first of `values`, bounded.
Status set_time_or_buffer(std::string_view option, std::string_view token, const std::vector<std::string_view>& values,
                          uint64_t& time_ms, uint64_t& buffer_kb) {
    if (values.empty()) return bad(fmt::format("{} needs a value", token));
    auto number = parse_u64(values[0]);
    bool time = option == "--time";
    if (is_negative_number(values[0]))
        return bad(fmt::format("invalid {} \"{}\" for {}: it is negative", time ? "time" : "buffer size", values[0],
                               token));
    if (time) {
        if (!number) return bad(fmt::format("invalid time \"{}\": expected milliseconds", values[0]));
        time_ms = *number;
    } else {
        if (!number || *number == 0 || *number > kMaxBufferKb)
            return bad(fmt::format("invalid buffer size \"{}\": expected 1-{} KB per CPU (at most {} MiB "
                                   "of kernel memory per CPU)",
                                   values[0], kMaxBufferKb, kMaxBufferKb / 1024));
        buffer_kb = *number;
    }
    return {};
}

Status add_syscalls(std::string_view token, std::vector<std::string>& out) {
    for (const auto& piece : split_any(token, ",")) {
        std::string name = normalize_syscall(piece);
        if (!valid_syscall_name(name))
            return bad(fmt::format("invalid syscall name \"{}\"", piece));
        out.push_back(std::move(name));
    }
    return {};
}

}  // namespace

Result<std::string> instance_prefix_from_env(const char* value) {
    if (!value || !*value) return std::string(kInstancePrefix);
    std::string_view prefix = value;
    bool ok = prefix.starts_with(kInstancePrefix) && prefix.size() <= 64 &&
              std::ranges::all_of(prefix, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
    if (!ok)
        return bad(fmt::format("invalid TRACER_INSTANCE_PREFIX \"{}\": expected \"{}\" followed by lowercase letters, "
                               "digits and '_' (at most 64 characters)", prefix, kInstancePrefix));
    return std::string(prefix);
}

Result<Command> parse_command(const std::vector<std::string>& args) {
    return ct::hooks::parse_command(args, {kHookSyscalls, kHookEvents});
}

Result<SyscallArgs> parse_syscall_args(const std::vector<std::string>& args) {
    SyscallArgs out;
    bool saw_pid = false;
    size_t i = 0;
    while (i < args.size()) {
        auto read = read_option(args[i++], canonical, saw_pid);
        if (!read) return std::unexpected(read.error());
        const std::string_view given = read->given, token = read->token, option = read->option;
        // Values: the inline one plus following tokens up to the next option (a negative number
        // is the value of a single-value option, refused below as negative).
        std::vector<std::string_view> values;
        if (read->inline_value) values.push_back(*read->inline_value);
        bool many = option == "--pid" || option == "--syscall";
        while (i < args.size() && (many || values.empty()) && (!is_option(args[i]) || (!many && is_negative_number(args[i]))))
            values.push_back(args[i++]);

        Status ok;
        if (option == "--pid") {
            ok = add_pids(given, values, saw_pid, out.pids);
        } else if (option == "--syscall") {
            // No names means "all syscalls", as in the hook's description.
            for (auto v : values)
                if (ok = add_syscalls(v, out.syscalls); !ok) break;
        } else {
            ok = set_time_or_buffer(option, token, values, out.time_ms, out.buffer_kb);
        }
        if (!ok) return std::unexpected(ok.error());
    }
    if (!saw_pid) return bad(std::string(kMissingPid));
    std::ranges::sort(out.syscalls);
    auto dup = std::ranges::unique(out.syscalls);
    out.syscalls.erase(dup.begin(), dup.end());
    return out;
}

namespace {

// Canonical trace_events option for each accepted spelling; nullopt for anything else.
std::optional<std::string_view> canonical_event_option(std::string_view option) {
    if (option == "--pid") return "--pid";
    if (option == "-e" || option == "--event") return "--event";
    if (option == "-f" || option == "--filter") return "--filter";
    if (option == "-t" || option == "--time") return "--time";
    if (option == "-b" || option == "--buffer-kb") return "--buffer-kb";
    return std::nullopt;
}

// An option of trace_events as a token ("-e", "--filter=..."): where a filter's tokens end.
bool is_event_option(std::string_view token) {
    if (token.starts_with("--")) token = token.substr(0, token.find('='));
    return canonical_event_option(token).has_value();
}

// "'comm == \"sh\"'" -> "comm == \"sh\"": the quotes a shell user puts around a whole filter.
std::string_view strip_outer_quotes(std::string_view text) {
    if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') && text.back() == text.front() &&
        text.substr(1, text.size() - 2).find(text.front()) == std::string_view::npos)
        return text.substr(1, text.size() - 2);
    return text;
}

}  // namespace

Result<EventArgs> parse_event_args(const std::vector<std::string>& args) {
    EventArgs out;
    bool saw_pid = false;
    bool last_has_filter = false;
    size_t i = 0;
    while (i < args.size()) {
        auto read = read_option(args[i++], canonical_event_option, saw_pid);
        if (!read) return std::unexpected(read.error());
        const std::string_view given = read->given, token = read->token, option = read->option;
        std::vector<std::string_view> values;
        if (read->inline_value) values.push_back(*read->inline_value);
        if (option == "--filter") {
            // Every token up to the next option: the filter was split on whitespace on its way here.
            while (i < args.size() && !is_event_option(args[i])) values.push_back(args[i++]);
            if (out.events.empty()) return bad(fmt::format("{} before any -e: a filter belongs to the -e before it", token));
            if (last_has_filter)
                return bad(fmt::format("a second filter for -e {}: give one filter per -e (combine with && or ||)",
                                       out.events.back().pattern));
            std::string joined;
            for (auto v : values) joined += (joined.empty() ? "" : " ") + std::string(v);
            auto filter = normalize_user_filter(strip_outer_quotes(joined));
            if (!filter)
                return std::unexpected(Error::wrap(filter.error(), fmt::format("-f for -e {}", out.events.back().pattern)));
            out.events.back().filter = std::move(*filter);
            last_has_filter = true;
            continue;
        }
        // As in parse_syscall_args: --pid takes every value up to the next option, the others one.
        bool many = option == "--pid";
        while (i < args.size() && (many || values.empty()) && (!is_option(args[i]) || (!many && is_negative_number(args[i]))))
            values.push_back(args[i++]);
        Status ok;
        if (option == "--pid") {
            ok = add_pids(given, values, saw_pid, out.pids);
        } else if (option == "--event") {
            if (values.empty()) return bad(fmt::format("{} needs a value", token));
            out.events.push_back({std::string(values[0]), {}});
            last_has_filter = false;
        } else {
            ok = set_time_or_buffer(option, token, values, out.time_ms, out.buffer_kb);
        }
        if (!ok) return std::unexpected(ok.error());
    }
    if (!saw_pid) return bad(std::string(kMissingPid));
    if (out.events.empty()) return bad("no event: give at least one -e SYSTEM:EVENT (e.g. -e sched:sched_process_exec)");
    return out;
}

std::string normalize_syscall(std::string_view name) {
    for (std::string_view prefix : {"sys_enter_", "sys_exit_"})
        if (name.starts_with(prefix)) return std::string(name.substr(prefix.size()));
    return std::string(name);
}

std::vector<std::string> syscalls_from_events(const std::vector<std::string>& events) {
    std::vector<std::string> out;
    constexpr std::string_view kEnter = "sys_enter_";
    for (std::string_view e : events)
        if (e.starts_with(kEnter) && e.size() > kEnter.size()) out.emplace_back(e.substr(kEnter.size()));
    std::ranges::sort(out);
    auto dup = std::ranges::unique(out);
    out.erase(dup.begin(), dup.end());
    return out;
}

std::vector<std::string> describe(std::string_view hook) {
    if (hook != kHookSyscalls) return {};
    return {
        "Trace system calls, used by given container",
        "-s, --syscall [SYSCALL ...] : list of System call names to be traced, optional argument.",
        "If no system calls are specified, all available are traced.",
        "-t, --time TIME : Duration of the trace in milliseconds, optional argument",
    };
}

Result<uint64_t> parse_stats_entries(std::string_view stats_text) {
    constexpr std::string_view kKey = "entries:";
    size_t pos = 0;
    while (pos < stats_text.size()) {
        size_t end = stats_text.find('\n', pos);
        if (end == std::string_view::npos) end = stats_text.size();
        std::string_view line = stats_text.substr(pos, end - pos);
        if (line.starts_with(kKey)) {
            auto n = parse_u64(trim(line.substr(kKey.size())));
            if (!n) return bad(fmt::format("invalid stats line \"{}\"", line));
            return *n;
        }
        pos = end + 1;
    }
    return bad("no \"entries:\" line in ring buffer stats");
}

}  // namespace ct::hooks::ftrace
