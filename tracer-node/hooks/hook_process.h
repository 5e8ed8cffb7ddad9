// HookProcess: one running `manager --run NAME --args --pid <tids...> <session args...>`
// (no shell). start() waits for the manager to print its trace file path.
//
// Threads: from the spawn on, one watcher thread drains the manager's stdout/stderr into bounded
// line buffers, notices its exit through its pidfd, and is the only one that reaps it. Every
// other thread only signals, through the pidfd (never a PID that may have been reused), and
// waits for the watcher to report the exit. So a hook that exits by itself is reaped at once and
// reported as its own exit, whatever the callers do. Public methods are thread-safe.
// Owned by a session run; the destructor stops the manager (SIGINT, SIGKILL after stop_grace)
// and joins the watcher.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/subprocess.h"
#include "tracer-node/hooks/hook_registry.h"

namespace ct::node {

struct HookStartOptions {
    std::chrono::milliseconds start_timeout{10000};  // to print the trace path
    std::chrono::milliseconds stop_grace{5000};      // SIGINT -> SIGKILL, for a failed start and the destructor
    size_t max_lines = 200;                          // kept per stream; older lines are dropped
    // Once, from the watcher thread, when a hook that started exits (after it is reaped). Must
    // not block.
    std::function<void(ExitStatus)> on_exit;
    // From the watcher thread, when a hook whose start failed (it printed no trace path, or
    // start() gave up on it) has exited but is not reaped yet: its PID still names it alone, so
    // whatever is named after that PID is its own (tracer-node removes its ftrace instances
    // <prefix><pid>_*). start() returns after this has run.
    std::function<void(pid_t)> clean_up_failed;
};

// A started trace hook, as a session run sees it (HookProcess; fakes in unit tests).
// Thread-safe.
class RunningHook {
public:
    virtual ~RunningHook() = default;  // stops the hook
    virtual pid_t pid() const = 0;
    virtual const std::string& trace_path() const = 0;  // its first stdout line
    virtual std::vector<std::string> output_lines() const = 0;
    virtual std::vector<std::string> error_lines() const = 0;
    virtual std::optional<ExitStatus> exit_status() const = 0;  // nullopt while it runs
    // SIGINT, then SIGKILL after `grace`; returns once it has exited. Safe to call more than once
    // and from several threads; returns at once when it has already exited.
    virtual ExitStatus stop(std::chrono::milliseconds grace) = 0;
};

class HookProcess final : public RunningHook {
public:
    // Spawns and waits for the trace path. Errors name the hook and carry its stderr:
    // kInvalidArgument when the manager rejected the arguments (exit code 2), kTimeout when it
    // printed no path in time (it is stopped), kInternal otherwise. On any error the manager has
    // exited, options.clean_up_failed has run, and it is reaped.
    static Result<std::unique_ptr<HookProcess>> start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                      const std::vector<std::string>& args,
                                                      const std::vector<std::string>& env, HookStartOptions options);
    ~HookProcess() override;

    const std::string& trace_path() const override { return trace_path_; }
    pid_t pid() const override { return pid_; }
    std::vector<std::string> output_lines() const override;
    std::vector<std::string> error_lines() const override;
    std::optional<ExitStatus> exit_status() const override;
    ExitStatus stop(std::chrono::milliseconds grace) override;

    // Pure: the manager's argv.
    static std::vector<std::string> command_line(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                 const std::vector<std::string>& args);

private:
    HookProcess() = default;
    void watch();
    void add_line(std::deque<std::string>& lines, std::string line);
    void take_lines(std::string& buffer, std::deque<std::string>& lines, bool flush);

    Subprocess process_;  // after start: the watcher's alone (it reaps)
    pid_t pid_ = -1;
    int pidfd_ = -1;      // process_'s pidfd, for signals from any thread
    std::string trace_path_;  // set before start() returns; constant after
    HookStartOptions options_;
    mutable std::mutex mutex_;
    std::condition_variable changed_cv_;  // a stdout line arrived, or the hook exited
    std::deque<std::string> out_lines_, err_lines_;
    std::string out_partial_, err_partial_;
    bool abandoned_ = false;  // start() gave up on it: clean up after its exit even if it printed a path
    std::optional<ExitStatus> exit_;
    std::thread watcher_;
};

}  // namespace ct::node
