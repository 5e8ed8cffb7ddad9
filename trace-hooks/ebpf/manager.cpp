// The eBPF hook manager (protocol: docs/hooks.md): --get-all, --describe, --clear and
// --run syscall_stats --args --pid ... . A run counts in the kernel (syscall_stats.bpf.c) and
// writes a statistics snapshot (common/syscall_stats.h) every --interval and once more after
// SIGINT/SIGTERM; its first stdout line is the snapshot's path.
// Exit codes: 0 ok, 1 BPF unavailable or failing, 2 bad command line/arguments.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/syscall_stats.h"
#include "trace-hooks/common/hook_cli.h"
#include "trace-hooks/common/manager_process.h"
#include "trace-hooks/ebpf/bpf_counter.h"
#include "trace-hooks/ebpf/hook_args.h"
#include "trace-hooks/ebpf/snapshot_dir.h"
#include "trace-hooks/ebpf/syscall_names.h"

namespace ct::hooks::ebpf {
namespace {

// Bounds the kernel maps: (group, syscall) pairs and (group, syscall, errno) triples.
constexpr uint64_t kMaxKeys = 65536;

int report(const Error& error, int code) {
    fmt::print(stderr, "{}\n", error.message);
    return code;
}

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

// Where the kernel's BTF is: under TRACER_SYSFS_PATH (tracer-node passes it) or /sys.
std::string btf_path() { return env_or("TRACER_SYSFS_PATH", "/sys") + "/kernel/btf/vmlinux"; }

std::string instance_prefix() { return env_or("TRACER_INSTANCE_PREFIX", "ctrace_"); }

uint64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

Status write_snapshot(const BpfCounter& counter, const SnapshotDir& dir) {
    auto raw = counter.read();
    if (!raw) return std::unexpected(raw.error());
    return dir.write(stats::to_json_text(to_snapshot(*raw, realtime_ns())));
}

// True when a stop signal arrived, false when `ms` passed.
bool wait_for_stop(uint64_t ms, const sigset_t& stop_signals) {
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
    while (true) {
        if (::sigtimedwait(&stop_signals, nullptr, &ts) >= 0) return true;
        if (errno == EAGAIN) return false;
        // EINTR: another signal; waiting the whole interval again only delays one snapshot.
    }
}

int run_stats(const std::vector<std::string>& hook_args, const sigset_t& stop_signals) {
    auto args = parse_stats_args(hook_args);
    if (!args) return report(args.error(), kExitUsage);
    std::vector<uint32_t> nrs;
    for (const auto& name : args->syscalls) {
        auto found = counted_nrs(name);
        if (found.empty()) return report(Error{Errc::kNotFound, fmt::format("unknown syscall \"{}\"", name)}, kExitUsage);
        nrs.insert(nrs.end(), found.begin(), found.end());
    }

    std::string btf = btf_path();
    if (auto ok = bpf_available(btf); !ok) return report(ok.error(), kExitFailure);
    auto dir = SnapshotDir::create(snapshot_base(), instance_prefix());
    if (!dir) return report(dir.error(), kExitFailure);

    BpfCounter::Options options;
    options.tids = args->pids;
    options.counted_nrs = nrs;
    // libbpf reads /sys/kernel/btf/vmlinux by itself; another sysfs root brings its own BTF.
    if (btf != "/sys/kernel/btf/vmlinux") options.btf_path = btf;
    // Groups are the given threads' processes at most, so this bounds the pairs exactly.
    uint64_t per_group = nrs.empty() ? CT_COUNTED_NRS : nrs.size();
    options.max_keys = static_cast<uint32_t>(std::min<uint64_t>(kMaxKeys, args->pids.size() * per_group));
    auto counter = BpfCounter::start(options);
    if (!counter) return report(counter.error(), kExitFailure);

    // The file exists before its path is announced.
    if (auto ok = write_snapshot(**counter, *dir); !ok) return report(ok.error(), kExitFailure);
    fmt::print("{}\n", dir->file().string());
    std::fflush(stdout);
    dir->release();

    while (!wait_for_stop(args->interval_ms, stop_signals))
        if (auto ok = write_snapshot(**counter, *dir); !ok) report(ok.error(), 0);  // the next one may work
    // Detached first: the final snapshot is complete and stays as it is.
    (*counter)->detach();
    if (auto ok = write_snapshot(**counter, *dir); !ok) return report(ok.error(), kExitFailure);
    return kExitOk;
}

int run(const std::vector<std::string>& argv, const sigset_t& stop_signals) {
    auto command = parse_command(argv, {kHookStats});
    if (!command) return report(command.error(), kExitUsage);
    switch (command->mode) {
        case Mode::kGetAll:
            fmt::print("{}\n", kHookStats);
            return kExitOk;
        case Mode::kDescribe: {
            auto available = bpf_available(btf_path());
            for (const auto& line : describe(available ? "" : available.error().message)) fmt::print("{}\n", line);
            return kExitOk;
        }
        case Mode::kClear: {
            auto removed = clear_stale(snapshot_base(), instance_prefix());
            if (!removed) return report(removed.error(), kExitFailure);
            return kExitOk;
        }
        case Mode::kRun:
            return run_stats(command->hook_args, stop_signals);
    }
    return kExitUsage;
}

}  // namespace
}  // namespace ct::hooks::ebpf

int main(int argc, char** argv) {
    auto stop_signals = ct::hooks::start_manager_process();
    std::vector<std::string> args(argv + 1, argv + argc);
    return ct::hooks::ebpf::run(args, stop_signals);
}
