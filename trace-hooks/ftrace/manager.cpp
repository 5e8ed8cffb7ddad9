// The ftrace hook manager (protocol: docs/hooks.md): --get-all, --describe,
// --clear, --run trace_syscalls --args --pid ... . A run owns one ftrace instance for its whole
// life and removes it on every way out but SIGKILL (tracer-node's --clear covers that).
// Exit codes: 0 ok, 1 tracefs failure or instance not removable, 2 bad command line/arguments.
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "trace-hooks/ftrace/hook_args.h"
#include "trace-hooks/ftrace/trace_instance.h"

namespace ct::hooks::ftrace {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDrainTimeout = 2000ms;   // how long readers get to empty the ring buffers
constexpr auto kRemovePatience = 5000ms; // how long a reader may keep a pipe open after that
constexpr auto kPollStep = 20ms;

int report(const Error& error, int code) {
    fmt::print(stderr, "{}\n", error.message);
    return code;
}

// Where tracefs lives: TRACER_SYSFS_PATH (tracer-node passes it) or /sys.
std::string sysfs_root() {
    const char* env = std::getenv("TRACER_SYSFS_PATH");
    return env && *env ? env : "/sys";
}

// Blocks until SIGINT/SIGTERM (already blocked in main) or until `limit` (0 = none) passes.
void wait_for_stop(std::chrono::milliseconds limit, const sigset_t& stop_signals) {
    auto deadline = Clock::now() + limit;
    while (true) {
        if (limit.count() == 0) {
            if (::sigwaitinfo(&stop_signals, nullptr) >= 0) return;
            continue;  // EINTR
        }
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
        if (left.count() <= 0) return;
        timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
        if (::sigtimedwait(&stop_signals, nullptr, &ts) >= 0) return;
        // EAGAIN: limit reached (checked above on the next turn); EINTR: keep waiting.
    }
}

// Readers see tracing_on == 0, drain the buffers and close their pipes; then the instance goes.
int finish(TraceInstance& instance) {
    if (auto off = instance.set_tracing(false); !off) fmt::print(stderr, "{}\n", off.error().message);
    auto deadline = Clock::now() + kDrainTimeout;
    while (Clock::now() < deadline) {
        auto empty = instance.drained();
        if (!empty || *empty) break;  // unreadable stats: don't wait on what we can't see
        std::this_thread::sleep_for(kPollStep);
    }
    if (auto removed = instance.remove(kRemovePatience); !removed) return report(removed.error(), kExitFailure);
    return kExitOk;
}

int run_syscalls(const std::vector<std::string>& hook_args, const std::string& prefix, const sigset_t& stop_signals) {
    auto args = parse_syscall_args(hook_args);
    if (!args) return report(args.error(), kExitUsage);

    auto tracing_dir = prepare_tracing_dir(sysfs_root());
    if (!tracing_dir) return report(tracing_dir.error(), kExitFailure);

    // Check names before creating anything: an unknown one leaves no trace behind.
    auto known = available_syscalls();
    if (!known) return report(known.error(), kExitFailure);
    for (const auto& name : args->syscalls)
        if (!std::ranges::binary_search(*known, name))
            return report(Error{Errc::kNotFound, fmt::format("unknown syscall \"{}\"", name)}, kExitUsage);

    auto instance = TraceInstance::create(prefix);
    if (!instance) return report(instance.error(), kExitFailure);

    auto setup = [&]() -> Status {
        if (auto ok = instance->set_buffer_kb(args->buffer_kb); !ok) return ok;
        if (auto ok = instance->set_event_pids(args->pids); !ok) return ok;
        if (auto ok = instance->enable_event_fork(); !ok) return ok;
        if (auto ok = instance->enable_process_lifecycle(); !ok) return ok;
        if (args->syscalls.empty()) return instance->enable_all_syscalls();
        for (const auto& name : args->syscalls)
            if (auto ok = instance->enable_syscall(name); !ok) return ok;
        return {};
    };
    if (auto ok = setup(); !ok) return report(ok.error(), ok.error().code == Errc::kNotFound ? kExitUsage : kExitFailure);
    if (auto ok = instance->set_tracing(true); !ok) return report(ok.error(), kExitFailure);

    // The one line of the protocol: where the traces appear.
    fmt::print("{}\n", instance->pipe_path());
    std::fflush(stdout);

    wait_for_stop(std::chrono::milliseconds(args->time_ms), stop_signals);
    return finish(*instance);
}

int run(const std::vector<std::string>& argv, const sigset_t& stop_signals) {
    auto command = parse_command(argv);
    if (!command) return report(command.error(), kExitUsage);
    auto prefix = instance_prefix_from_env(std::getenv("TRACER_INSTANCE_PREFIX"));
    if (!prefix) return report(prefix.error(), kExitUsage);
    switch (command->mode) {
        case Mode::kGetAll:
            fmt::print("{}\n", kHookSyscalls);
            return kExitOk;
        case Mode::kDescribe:
            for (const auto& line : describe(command->hook)) fmt::print("{}\n", line);
            return kExitOk;
        case Mode::kClear: {
            auto dir = prepare_tracing_dir(sysfs_root());
            if (!dir) return report(dir.error(), kExitFailure);
            auto removed = remove_instances_with_prefix(*prefix, kRemovePatience);
            if (!removed) return report(removed.error(), kExitFailure);
            return kExitOk;
        }
        case Mode::kRun:
            return run_syscalls(command->hook_args, *prefix, stop_signals);
    }
    return kExitUsage;
}

}  // namespace
}  // namespace ct::hooks::ftrace

int main(int argc, char** argv) {
    // Stop signals are taken synchronously (sigwaitinfo), never by a handler: one arriving during
    // set-up stays pending and ends the run right after, through the same clean-up path.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // If our parent dies, finish cleanly (SIGTERM) instead of being killed with the instance left.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);

    std::vector<std::string> args(argv + 1, argv + argc);
    return ct::hooks::ftrace::run(args, stop_signals);
}
