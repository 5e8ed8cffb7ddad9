#include "tracer-node/hooks/hook_process.h"

#include <poll.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"

namespace ct::node {

using Clock = std::chrono::steady_clock;

namespace {
constexpr std::chrono::milliseconds kDrainAfterExit{1000};
}  // namespace

std::vector<std::string> HookProcess::command_line(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                   const std::vector<std::string>& args) {
    std::vector<std::string> argv{hook.manager, "--run", hook.name, "--args", "--pid"};
    for (pid_t t : tids) argv.push_back(std::to_string(t));
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

void HookProcess::add_line(std::deque<std::string>& lines, std::string line) {
    if (line.size() > 4096) line.resize(4096);
    lines.push_back(std::move(line));
    while (lines.size() > options_.max_lines) lines.pop_front();
}

void HookProcess::take_lines(std::string& buffer, std::deque<std::string>& lines, bool flush) {
    size_t start = 0, nl;
    while ((nl = buffer.find('\n', start)) != std::string::npos) {
        add_line(lines, buffer.substr(start, nl - start));
        start = nl + 1;
    }
    buffer.erase(0, start);
    if (flush && !buffer.empty()) add_line(lines, std::exchange(buffer, {}));
    if (buffer.size() > 65536) add_line(lines, std::exchange(buffer, {}));  // a flood without newlines
}

Result<std::unique_ptr<HookProcess>> HookProcess::start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                        const std::vector<std::string>& args,
                                                        const std::vector<std::string>& env, HookStartOptions options) {
    auto spawned = Subprocess::spawn({.argv = command_line(hook, tids, args), .extra_env = env});
    if (!spawned) return std::unexpected(Error::wrap(spawned.error(), fmt::format("starting trace hook {}", hook.name)));
    if (spawned->pidfd() < 0) {
        spawned->stop(std::chrono::milliseconds(0), SIGKILL);
        return fail(Errc::kInternal, fmt::format("starting trace hook {}: pidfd_open failed (Linux 5.3 or later is "
                                                 "needed)", hook.name));
    }
    std::unique_ptr<HookProcess> hp(new HookProcess());
    hp->process_ = std::move(*spawned);
    hp->pid_ = hp->process_.pid();
    hp->pidfd_ = hp->process_.pidfd();
    hp->options_ = std::move(options);
    hp->watcher_ = std::thread([p = hp.get()] { p->watch(); });

    // The first stdout line (the trace path), the exit, or the deadline.
    auto deadline = Clock::now() + hp->options_.start_timeout;
    std::unique_lock lock(hp->mutex_);
    hp->changed_cv_.wait_until(lock, deadline, [&] { return !hp->out_lines_.empty() || hp->exit_; });
    std::string path = hp->out_lines_.empty() ? "" : std::string(trim(hp->out_lines_.front()));
    if (!path.empty()) {
        hp->trace_path_ = std::move(path);
        return hp;
    }
    bool timed_out = !hp->exit_;
    // The watcher cleans up after it before reaping (an empty first line is no start either).
    hp->abandoned_ = true;
    lock.unlock();
    auto status = hp->stop(hp->options_.stop_grace);
    std::string why;
    for (const auto& l : hp->error_lines()) why += (why.empty() ? "" : "; ") + l;
    if (timed_out)
        return fail(Errc::kTimeout, fmt::format("trace hook {} printed no trace path within {} ms{}{}", hook.name,
                                                hp->options_.start_timeout.count(), why.empty() ? "" : ": ", why));
    return fail(status.code == 2 ? Errc::kInvalidArgument : Errc::kInternal,
                fmt::format("trace hook {} failed to start ({}){}{}", hook.name, status.describe(),
                            why.empty() ? "" : ": ", why));
}

void HookProcess::watch() {
    int out = process_.stdout_fd(), err = process_.stderr_fd();
    bool out_open = out >= 0, err_open = err >= 0;
    bool exited = false;
    Clock::time_point drain_until;  // after the exit, what is left in the pipes is read until then
    while (true) {
        pollfd fds[3] = {{out_open ? out : -1, POLLIN, 0}, {err_open ? err : -1, POLLIN, 0}, {pidfd_, POLLIN, 0}};
        ::poll(fds, 3, exited ? 100 : -1);
        if (!exited && fds[2].revents) {
            exited = true;
            drain_until = Clock::now() + kDrainAfterExit;
        }
        {
            std::lock_guard lock(mutex_);
            if (fds[0].revents && !read_available(out, out_partial_, 1 << 20)) out_open = false;
            take_lines(out_partial_, out_lines_, !out_open);
            if (fds[1].revents && !read_available(err, err_partial_, 1 << 20)) err_open = false;
            take_lines(err_partial_, err_lines_, !err_open);
        }
        changed_cv_.notify_all();
        // Exited, but a grandchild may hold the pipes: once they are quiet (or still busy after
        // kDrainAfterExit), stop waiting on them.
        if (exited && (!(fds[0].revents | fds[1].revents) || Clock::now() >= drain_until)) out_open = err_open = false;
        if (exited && !out_open && !err_open) break;
    }
    // Exited and drained. Clean up after a failed start while the PID is still the hook's
    // (unreaped), then reap.
    bool failed;
    {
        std::lock_guard lock(mutex_);
        failed = abandoned_ || out_lines_.empty();
    }
    if (failed && options_.clean_up_failed) options_.clean_up_failed(pid_);
    auto status = process_.wait();
    {
        std::lock_guard lock(mutex_);
        exit_ = status;
    }
    changed_cv_.notify_all();
    spdlog::info("trace hook pid {} {}", pid_, status.describe());
    if (!failed && options_.on_exit) options_.on_exit(status);
}

HookProcess::~HookProcess() {
    stop(options_.stop_grace);
    if (watcher_.joinable()) watcher_.join();
}

ExitStatus HookProcess::stop(std::chrono::milliseconds grace) {
    std::unique_lock lock(mutex_);
    if (exit_) return *exit_;
    lock.unlock();
    signal_pidfd(pidfd_, SIGINT);
    lock.lock();
    if (changed_cv_.wait_for(lock, grace, [this] { return exit_.has_value(); })) return *exit_;
    // Still running after the grace, or exited and being cleaned up / reaped by the watcher.
    if (!pidfd_exited(pidfd_)) {
        spdlog::warn("trace hook pid {} ignored SIGINT for {} ms: killed", pid_, grace.count());
        signal_pidfd(pidfd_, SIGKILL);
    }
    changed_cv_.wait(lock, [this] { return exit_.has_value(); });
    return *exit_;
}

std::vector<std::string> HookProcess::output_lines() const {
    std::lock_guard lock(mutex_);
    return {out_lines_.begin(), out_lines_.end()};
}

std::vector<std::string> HookProcess::error_lines() const {
    std::lock_guard lock(mutex_);
    return {err_lines_.begin(), err_lines_.end()};
}

std::optional<ExitStatus> HookProcess::exit_status() const {
    std::lock_guard lock(mutex_);
    return exit_;
}

}  // namespace ct::node
