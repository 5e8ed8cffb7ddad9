// The ftrace hook manager (protocol: docs/hooks.md): --get-all, --describe,
// --clear, --run trace_syscalls|trace_events --args --pid ... . A run owns its ftrace instances
// (one; trace_events adds a companion for target-scoped events) for its whole life and removes
// them on every way out but SIGKILL (tracer-node's --clear covers that).
// Exit codes: 0 ok, 1 tracefs failure or instance not removable, 2 bad command line/arguments.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/target_events.h"
#include "trace-hooks/ftrace/trace_filter.h"
#include "trace-hooks/ftrace/event_select.h"
#include "trace-hooks/common/manager_process.h"
#include "trace-hooks/ftrace/hook_args.h"
#include "trace-hooks/ftrace/trace_instance.h"

namespace ct::hooks::ftrace {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kDrainTimeout = 2000ms;   // how long readers get to empty the ring buffers
constexpr auto kRemovePatience = 5000ms; // how long a reader may keep a pipe open after that
constexpr auto kPollStep = 20ms;
// How often a trace_events run brings its companion's pid filter up to the main instance's pid
// list: the window in which a new child's target-scoped events are missed (docs/hooks.md).
constexpr auto kCompanionRefresh = 100ms;
// The companion holds only target-scoped events (signals, OOM victims): rare, so a small buffer.
constexpr uint64_t kCompanionBufferKb = 1024;

int report(const Error& error, int code) {
    fmt::print(stderr, "{}\n", error.message);
    return code;
}

// Where tracefs lives: TRACER_SYSFS_PATH (tracer-node passes it) or /sys.
std::string sysfs_root() {
    const char* env = std::getenv("TRACER_SYSFS_PATH");
    return env && *env ? env : "/sys";
}

// Blocks until SIGINT/SIGTERM (already blocked in main) or until `limit` (0 = none) passes;
// calls `tick` every `tick_every` meanwhile when one is given.
void wait_for_stop(std::chrono::milliseconds limit, const sigset_t& stop_signals,
                   std::chrono::milliseconds tick_every = {}, const std::function<void()>& tick = {}) {
    const auto deadline = limit.count() ? Clock::now() + limit : Clock::time_point::max();
    auto next_tick = tick ? Clock::now() + tick_every : Clock::time_point::max();
    while (true) {
        if (limit.count() == 0 && !tick) {
            if (::sigwaitinfo(&stop_signals, nullptr) >= 0) return;
            continue;  // EINTR
        }
        auto now = Clock::now();
        if (now >= deadline) return;
        if (now >= next_tick) {
            tick();
            next_tick = now + tick_every;
        }
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(std::min(deadline, next_tick) - Clock::now());
        if (left.count() < 0) left = {};
        timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
        if (::sigtimedwait(&stop_signals, nullptr, &ts) >= 0) return;
        // EAGAIN: limit or tick reached (checked above on the next turn); EINTR: keep waiting.
    }
}

// Readers see tracing_on == 0, drain the buffers and close their pipes; then the instances go,
// the last one first (a companion before its main instance).
int finish(const std::vector<TraceInstance*>& instances) {
    for (auto* instance : instances)
        if (auto off = instance->set_tracing(false); !off) fmt::print(stderr, "{}\n", off.error().message);
    auto deadline = Clock::now() + kDrainTimeout;
    for (auto* instance : instances)
        while (Clock::now() < deadline) {
            auto empty = instance->drained();
            if (!empty || *empty) break;  // unreadable stats: don't wait on what we can't see
            std::this_thread::sleep_for(kPollStep);
        }
    int code = kExitOk;
    for (auto it = instances.rbegin(); it != instances.rend(); ++it)
        if (auto removed = (*it)->remove(kRemovePatience); !removed) code = report(removed.error(), kExitFailure);
    return code;
}

// Exit code for a failed set-up step: the user's fault (an unknown name, a refused filter) or ours.
int setup_failure(const Error& error) {
    bool users = error.code == Errc::kNotFound || error.code == Errc::kInvalidArgument;
    return report(error, users ? kExitUsage : kExitFailure);
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
    if (auto ok = setup(); !ok) return setup_failure(ok.error());
    if (auto ok = instance->set_tracing(true); !ok) return report(ok.error(), kExitFailure);

    // The one line of the protocol: where the traces appear.
    fmt::print("{}\n", instance->pipe_path());
    std::fflush(stdout);

    wait_for_stop(std::chrono::milliseconds(args->time_ms), stop_signals);
    return finish({&*instance});
}

// The companion's filter for one target-scoped event: the session's threads by the event's
// target field, ANDed with the user's filter (trace-hooks/ftrace/trace_filter.h); within the kernel's limit.
std::string companion_filter(const SelectedEvent& event, const std::vector<pid_t>& pids) {
    const auto field = target_field(event.event).value_or("pid");
    const std::size_t room = kMaxFilterBytes - event.filter.size() - std::string_view("() && ()").size();
    return combine_filters(pid_scope_filter(field, pids, room), event.filter);
}

int run_events(const std::vector<std::string>& hook_args, const std::string& prefix, const sigset_t& stop_signals) {
    auto args = parse_event_args(hook_args);
    if (!args) return report(args.error(), kExitUsage);

    auto tracing_dir = prepare_tracing_dir(sysfs_root());
    if (!tracing_dir) return report(tracing_dir.error(), kExitFailure);

    // Names and filters are checked before anything is created: a typo leaves no trace behind.
    auto available = read_tracing_file("available_events");
    if (!available) return report(available.error(), kExitFailure);
    auto selected = select_events(args->events, parse_available_events(*available));
    if (!selected) return report(selected.error(), kExitUsage);
    const bool any_target = std::ranges::any_of(*selected, [](const auto& s) { return s.scope == EventScope::kTarget; });

    auto primary = TraceInstance::create(prefix);
    if (!primary) return report(primary.error(), kExitFailure);
    std::optional<TraceInstance> companion;

    // Scope first, events last: an event is never enabled before its pid filter or its filter.
    auto setup_main = [&]() -> Status {
        if (auto ok = primary->set_buffer_kb(args->buffer_kb); !ok) return ok;
        if (auto ok = primary->set_event_pids(args->pids); !ok) return ok;
        if (auto ok = primary->enable_event_fork(); !ok) return ok;
        for (const auto& s : *selected) {
            if (s.scope != EventScope::kTask) continue;
            if (!s.filter.empty())
                if (auto ok = primary->set_filter(s.event.system, s.event.name, fmt::format("({})", s.filter)); !ok)
                    return std::unexpected(Error::wrap(ok.error(), fmt::format("-f \"{}\"", s.filter)));
            if (auto ok = primary->enable_event(s.event.system, s.event.name); !ok) return ok;
        }
        // Bookkeeping for the reader (names and owners of short-lived children); lifecycle
        // events the user asked for are already on, and enabling them twice changes nothing.
        return primary->enable_process_lifecycle();
    };
    auto setup_companion = [&](const std::vector<pid_t>& pids) -> Status {
        auto made = TraceInstance::create_named(primary->name() + std::string(ct::kCompanionSuffix));
        if (!made) return std::unexpected(made.error());
        companion = std::move(*made);
        if (auto ok = companion->set_tracing(false); !ok) return ok;
        if (auto ok = companion->set_buffer_kb(std::min(args->buffer_kb, kCompanionBufferKb)); !ok) return ok;
        for (const auto& s : *selected) {
            if (s.scope != EventScope::kTarget) continue;
            if (auto ok = companion->set_filter(s.event.system, s.event.name, companion_filter(s, pids)); !ok)
                return std::unexpected(Error::wrap(ok.error(), s.filter.empty() ? std::string("the session's pid filter")
                                                                                : fmt::format("-f \"{}\"", s.filter)));
            if (auto ok = companion->enable_event(s.event.system, s.event.name); !ok) return ok;
        }
        return {};
    };
    if (auto ok = setup_main(); !ok) return setup_failure(ok.error());
    // The threads the kernel took (one that exited meanwhile is not there) plus their children.
    auto scope = primary->event_pids();
    if (!scope) return report(scope.error(), kExitFailure);
    if (any_target)
        if (auto ok = setup_companion(*scope); !ok) return setup_failure(ok.error());
    if (companion)
        if (auto ok = companion->set_tracing(true); !ok) return report(ok.error(), kExitFailure);
    if (auto ok = primary->set_tracing(true); !ok) return report(ok.error(), kExitFailure);

    // The one line of the protocol: where the traces appear.
    fmt::print("{}\n", primary->pipe_path());
    std::fflush(stdout);

    // The companion follows the main instance's pid list: children (event-fork) and the
    // processes tracer-node adds as containers gain them; exited threads leave it.
    auto refresh_companion = [&] {
        auto now = primary->event_pids();
        if (!now || *now == *scope) return;
        *scope = std::move(*now);
        for (const auto& s : *selected)
            if (s.scope == EventScope::kTarget)
                if (auto ok = companion->set_filter(s.event.system, s.event.name, companion_filter(s, *scope)); !ok)
                    fmt::print(stderr, "updating the companion's pid filter: {}\n", ok.error().message);
    };
    if (companion) wait_for_stop(std::chrono::milliseconds(args->time_ms), stop_signals, kCompanionRefresh, refresh_companion);
    else wait_for_stop(std::chrono::milliseconds(args->time_ms), stop_signals);
    std::vector<TraceInstance*> owned = {&*primary};
    if (companion) owned.push_back(&*companion);
    return finish(owned);
}

int run(const std::vector<std::string>& argv, const sigset_t& stop_signals) {
    auto command = parse_command(argv);
    if (!command) return report(command.error(), kExitUsage);
    auto prefix = instance_prefix_from_env(std::getenv("TRACER_INSTANCE_PREFIX"));
    if (!prefix) return report(prefix.error(), kExitUsage);
    switch (command->mode) {
        case Mode::kGetAll:
            fmt::print("{} {}\n", kHookSyscalls, kHookEvents);
            return kExitOk;
        case Mode::kDescribe: {
            std::vector<std::string> lines;
            if (command->hook == kHookEvents) {
                // The kernel's events, or a description saying they could not be listed.
                auto dir = prepare_tracing_dir(sysfs_root());
                auto text = dir ? read_tracing_file("available_events") : Result<std::string>(std::unexpected(dir.error()));
                lines = describe_events(text ? parse_available_events(*text) : std::vector<EventName>{});
            } else {
                lines = describe(command->hook);
            }
            for (const auto& line : lines) fmt::print("{}\n", line);
            return kExitOk;
        }
        case Mode::kClear: {
            auto dir = prepare_tracing_dir(sysfs_root());
            if (!dir) return report(dir.error(), kExitFailure);
            auto removed = remove_instances_with_prefix(*prefix, kRemovePatience);
            if (!removed) return report(removed.error(), kExitFailure);
            return kExitOk;
        }
        case Mode::kRun:
            if (command->hook == kHookEvents) return run_events(command->hook_args, *prefix, stop_signals);
            return run_syscalls(command->hook_args, *prefix, stop_signals);
    }
    return kExitUsage;
}

}  // namespace
}  // namespace ct::hooks::ftrace

int main(int argc, char** argv) {
    auto stop_signals = ct::hooks::start_manager_process();
    std::vector<std::string> args(argv + 1, argv + argc);
    return ct::hooks::ftrace::run(args, stop_signals);
}
