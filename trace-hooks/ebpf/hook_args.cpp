#include "trace-hooks/ebpf/hook_args.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/strings.h"
#include "trace-hooks/common/hook_cli.h"

namespace ct::hooks::ebpf {
namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

bool valid_syscall_name(std::string_view name) {
    return !name.empty() && std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string_view normalize_syscall(std::string_view name) {
    for (std::string_view prefix : {"sys_enter_", "sys_exit_"})
        if (name.starts_with(prefix)) return name.substr(prefix.size());
    return name;
}

}  // namespace

Result<StatsArgs> parse_stats_args(const std::vector<std::string>& args) {
    static const std::vector<OptionSpec> kSpecs = {
        {{"--pid"}, true},
        {{"--syscall", "-s", "--syscalls"}, true},
        {{"--interval", "-i"}, false},
    };
    auto options = parse_options(args, kSpecs);
    if (!options) return std::unexpected(options.error());
    auto pids = take_pids(*options);
    if (!pids) return std::unexpected(pids.error());

    StatsArgs out;
    out.pids = std::move(*pids);
    for (const auto& option : *options) {
        if (option.name == "--syscall") {
            if (option.values.empty()) return bad(fmt::format("{} needs a syscall name", option.spelled));
            for (const auto& value : option.values)
                for (const auto& piece : split_any(value, ",")) {
                    std::string_view name = normalize_syscall(piece);
                    if (!valid_syscall_name(name)) return bad(fmt::format("invalid syscall name \"{}\"", piece));
                    out.syscalls.emplace_back(name);
                }
        } else if (option.name == "--interval") {
            auto ms = parse_u64(option.values[0]);
            if (!ms || *ms < kMinIntervalMs || *ms > kMaxIntervalMs)
                return bad(fmt::format("invalid interval \"{}\": expected {}-{} milliseconds", option.values[0],
                                       kMinIntervalMs, kMaxIntervalMs));
            out.interval_ms = *ms;
        }
    }
    std::ranges::sort(out.syscalls);
    auto dup = std::ranges::unique(out.syscalls);
    out.syscalls.erase(dup.begin(), dup.end());
    return out;
}

std::vector<std::string> describe(std::string_view unavailable) {
    std::vector<std::string> lines = {
        "Count system calls of given container in the kernel (eBPF): calls, errors per errno, time, latency histogram",
        "-s, --syscall NAME[,NAME] : only these system calls, optional argument (default: all)",
        fmt::format("-i, --interval MS : snapshot interval in milliseconds, {}-{}, optional argument (default {})",
                    kMinIntervalMs, kMaxIntervalMs, kDefaultIntervalMs),
        "Produces statistics (GET /v1/trace-session/<id>/stats), not events",
    };
    if (!unavailable.empty()) lines.push_back(fmt::format("Unavailable on this node: {}", unavailable));
    return lines;
}

}  // namespace ct::hooks::ebpf
