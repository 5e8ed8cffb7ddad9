#include "trace-hooks/ftrace/hook_args.h"

#include <algorithm>
#include <climits>
#include <optional>

#include <fmt/format.h>

#include "common/strings.h"

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
    constexpr std::string_view kUsage =
        "expected --get-all, --describe NAME, --clear or --run NAME --args ARGS...";
    if (args.empty()) return bad(fmt::format("no command: {}", kUsage));
    const std::string& first = args[0];
    Command cmd;
    auto no_extra = [&](size_t used) -> Status {
        if (args.size() > used)
            return bad(fmt::format("unexpected argument \"{}\" after {}", args[used], first));
        return {};
    };
    auto known_hook = [&](size_t at) -> Status {
        if (args.size() <= at) return bad(fmt::format("{} needs a hook name", first));
        if (args[at] != kHookSyscalls)
            return bad(fmt::format("unknown hook \"{}\" (available: {})", args[at], kHookSyscalls));
        return {};
    };
    if (first == "--get-all") {
        cmd.mode = Mode::kGetAll;
        if (auto ok = no_extra(1); !ok) return std::unexpected(ok.error());
    } else if (first == "--clear") {
        cmd.mode = Mode::kClear;
        if (auto ok = no_extra(1); !ok) return std::unexpected(ok.error());
    } else if (first == "--describe") {
        cmd.mode = Mode::kDescribe;
        if (auto ok = known_hook(1); !ok) return std::unexpected(ok.error());
        if (auto ok = no_extra(2); !ok) return std::unexpected(ok.error());
        cmd.hook = args[1];
    } else if (first == "--run") {
        cmd.mode = Mode::kRun;
        if (auto ok = known_hook(1); !ok) return std::unexpected(ok.error());
        cmd.hook = args[1];
        if (args.size() > 2 && args[2] != "--args")
            return bad(fmt::format("unexpected argument \"{}\": hook arguments follow --args", args[2]));
        // tracer-node passes each argument as its own element; an older caller may pass them as
        // one string. No argument legitimately contains whitespace, so splitting serves both.
        for (size_t i = 3; i < args.size(); ++i)
            for (auto& token : split_whitespace(args[i])) cmd.hook_args.push_back(std::move(token));
    } else {
        return bad(fmt::format("unknown command \"{}\": {}", first, kUsage));
    }
    return cmd;
}

Result<SyscallArgs> parse_syscall_args(const std::vector<std::string>& args) {
    constexpr std::string_view kMissingPid = "missing --pid: the threads to trace come first";
    SyscallArgs out;
    bool saw_pid = false;
    size_t i = 0;
    while (i < args.size()) {
        std::string_view given = args[i++];
        std::string_view token = given;
        if (!is_option(token)) return bad(fmt::format("unexpected argument \"{}\"", token));
        // --name=value: the inline value is the option's first value.
        std::optional<std::string_view> inline_value;
        if (token.starts_with("--")) {
            if (size_t eq = token.find('='); eq != std::string_view::npos) {
                inline_value = token.substr(eq + 1);
                token = token.substr(0, eq);
            }
        }
        auto option = canonical(token);
        if (!option) return bad(fmt::format("unknown option \"{}\"", token));
        if (*option != "--pid" && !saw_pid) return bad(std::string(kMissingPid));

        // Values: the inline one plus following tokens up to the next option (a negative number
        // is the value of a single-value option, refused below as negative).
        std::vector<std::string_view> values;
        if (inline_value) values.push_back(*inline_value);
        bool many = *option == "--pid" || *option == "--syscall";
        while (i < args.size() && (many || values.empty()) && (!is_option(args[i]) || (!many && is_negative_number(args[i]))))
            values.push_back(args[i++]);

        if (*option == "--pid") {
            if (saw_pid)
                return bad(fmt::format("a second --pid option (\"{}\"): the threads to trace are given once, first, "
                                       "by tracer-node; hook arguments may not add any",
                                       given));
            saw_pid = true;
            if (values.empty()) return bad("--pid needs at least one PID");
            for (auto v : values) {
                auto pid = parse_pid(v);
                if (!pid) return std::unexpected(pid.error());
                out.pids.push_back(*pid);
            }
        } else if (*option == "--syscall") {
            // No names means "all syscalls", as in the hook's description.
            for (auto v : values)
                if (auto ok = add_syscalls(v, out.syscalls); !ok) return std::unexpected(ok.error());
        } else {
            if (values.empty()) return bad(fmt::format("{} needs a value", token));
            auto number = parse_u64(values[0]);
            bool time = *option == "--time";
            if (is_negative_number(values[0]))
                return bad(fmt::format("invalid {} \"{}\" for {}: it is negative", time ? "time" : "buffer size",
                                       values[0], token));
            if (time) {
                if (!number)
                    return bad(fmt::format("invalid time \"{}\": expected milliseconds", values[0]));
                out.time_ms = *number;
            } else {
                if (!number || *number == 0 || *number > kMaxBufferKb)
                    return bad(fmt::format("invalid buffer size \"{}\": expected 1-{} KB per CPU (at most {} MiB "
                                           "of kernel memory per CPU)",
                                           values[0], kMaxBufferKb, kMaxBufferKb / 1024));
                out.buffer_kb = *number;
            }
        }
    }
    if (!saw_pid) return bad(std::string(kMissingPid));
    std::ranges::sort(out.syscalls);
    auto dup = std::ranges::unique(out.syscalls);
    out.syscalls.erase(dup.begin(), dup.end());
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
