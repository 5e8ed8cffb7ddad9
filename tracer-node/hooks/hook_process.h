// HookProcess: one running `manager --run NAME --args --pid <tids...> <session args...>`
// (no shell). start() waits for the manager to print its trace file path; afterwards a watcher
// thread keeps draining its stdout/stderr into bounded line buffers and notices its exit.
// Owned by a session run. The destructor stops the manager (SIGINT, SIGKILL after a bound).
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
    size_t max_lines = 200;                          // kept per stream; older lines are dropped
    std::function<void(ExitStatus)> on_exit;         // from the watcher thread; must not block
};

class HookProcess {
public:
    // Spawns and waits for the trace path. Errors name the hook and carry its stderr:
    // kInvalidArgument when the manager rejected the arguments (exit code 2), kTimeout when it
    // printed no path in time (it is killed), kInternal otherwise.
    static Result<std::unique_ptr<HookProcess>> start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                      const std::vector<std::string>& args,
                                                      const std::vector<std::string>& env, HookStartOptions options);
    ~HookProcess();

    const std::string& trace_path() const { return trace_path_; }
    pid_t pid() const { return pid_; }
    std::vector<std::string> output_lines() const;
    std::vector<std::string> error_lines() const;
    std::optional<ExitStatus> exit_status() const;
    // SIGINT, then SIGKILL after `grace`; waits for the exit. Safe to call more than once.
    ExitStatus stop(std::chrono::milliseconds grace);

    // Pure: the manager's argv.
    static std::vector<std::string> command_line(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                 const std::vector<std::string>& args);

private:
    HookProcess() = default;
    void watch();
    void add_line(std::deque<std::string>& lines, std::string line);
    void take_lines(std::string& buffer, std::deque<std::string>& lines, bool flush);

    Subprocess process_;
    pid_t pid_ = -1;
    std::string trace_path_;
    HookStartOptions options_;
    mutable std::mutex mutex_;
    std::condition_variable exited_cv_;
    std::deque<std::string> out_lines_, err_lines_;
    std::string out_partial_, err_partial_;
    std::optional<ExitStatus> exit_;
    FD wake_;  // eventfd: tells the watcher to stop
    std::thread watcher_;
};

}  // namespace ct::node
