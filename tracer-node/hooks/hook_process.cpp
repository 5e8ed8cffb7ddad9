#include "tracer-node/hooks/hook_process.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"

namespace ct::node {

using Clock = std::chrono::steady_clock;

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
    std::unique_ptr<HookProcess> hp(new HookProcess());
    hp->process_ = std::move(*spawned);
    hp->pid_ = hp->process_.pid();
    hp->options_ = std::move(options);

    // Read until the first stdout line (the trace path), the process exits, or the deadline.
    auto deadline = Clock::now() + hp->options_.start_timeout;
    int out = hp->process_.stdout_fd(), err = hp->process_.stderr_fd();
    bool out_open = true, err_open = true;
    while (hp->out_lines_.empty() && out_open) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) break;
        pollfd fds[2] = {{out, POLLIN, 0}, {err_open ? err : -1, POLLIN, 0}};
        ::poll(fds, 2, static_cast<int>(left));
        std::lock_guard lock(hp->mutex_);
        if (fds[1].revents && !read_available(err, hp->err_partial_, 1 << 20)) err_open = false;
        hp->take_lines(hp->err_partial_, hp->err_lines_, !err_open);
        if (fds[0].revents && !read_available(out, hp->out_partial_, 1 << 20)) out_open = false;
        hp->take_lines(hp->out_partial_, hp->out_lines_, !out_open);
    }
    std::string path = hp->out_lines_.empty() ? "" : std::string(trim(hp->out_lines_.front()));
    if (path.empty()) {
        bool timed_out = out_open;
        auto status = hp->process_.stop(std::chrono::milliseconds(1000));
        // Collect the rest of stderr: it says why.
        while (err_open && read_available(err, hp->err_partial_, 1 << 20)) {}
        hp->take_lines(hp->err_partial_, hp->err_lines_, true);
        std::string why;
        for (const auto& l : hp->err_lines_) why += (why.empty() ? "" : "; ") + l;
        if (timed_out)
            return fail(Errc::kTimeout, fmt::format("trace hook {} printed no trace path within {} ms{}{}", hook.name,
                                                    hp->options_.start_timeout.count(), why.empty() ? "" : ": ", why));
        return fail(status.code == 2 ? Errc::kInvalidArgument : Errc::kInternal,
                    fmt::format("trace hook {} failed to start ({}){}{}", hook.name, status.describe(),
                                why.empty() ? "" : ": ", why));
    }
    hp->trace_path_ = path;
    hp->wake_ = FD(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    hp->watcher_ = std::thread([p = hp.get()] { p->watch(); });
    return hp;
}

void HookProcess::watch() {
    int out = process_.stdout_fd(), err = process_.stderr_fd();
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    FD pidfd_owner(pidfd);
    bool out_open = out >= 0, err_open = err >= 0;
    while (true) {
        pollfd fds[4] = {{out_open ? out : -1, POLLIN, 0},
                         {err_open ? err : -1, POLLIN, 0},
                         {pidfd, POLLIN, 0},
                         {wake_.get(), POLLIN, 0}};
        ::poll(fds, 4, 1000);
        if (fds[3].revents) return;  // stop() owns the rest
        {
            std::lock_guard lock(mutex_);
            if (fds[0].revents && !read_available(out, out_partial_, 1 << 20)) out_open = false;
            take_lines(out_partial_, out_lines_, !out_open);
            if (fds[1].revents && !read_available(err, err_partial_, 1 << 20)) err_open = false;
            take_lines(err_partial_, err_lines_, !err_open);
        }
        // Exit is final once the process is gone and its pipes are drained.
        if ((fds[2].revents || pidfd < 0) && !out_open && !err_open) {
            auto status = process_.try_wait();
            if (!status) status = process_.wait();
            {
                std::lock_guard lock(mutex_);
                exit_ = *status;
            }
            exited_cv_.notify_all();
            spdlog::info("trace hook pid {} {}", pid_, status->describe());
            if (options_.on_exit) options_.on_exit(*status);
            return;
        }
        if (fds[2].revents && (out_open || err_open)) {
            // Exited but a grandchild may hold the pipes: don't wait on them forever.
            if (!(fds[0].revents | fds[1].revents)) out_open = err_open = false;
        }
    }
}

HookProcess::~HookProcess() { stop(Subprocess::kDefaultGrace); }

ExitStatus HookProcess::stop(std::chrono::milliseconds grace) {
    {
        std::unique_lock lock(mutex_);
        if (exit_) {
            lock.unlock();
            if (watcher_.joinable()) watcher_.join();
            return *exit_;
        }
    }
    process_.send_signal(SIGINT);
    {
        std::unique_lock lock(mutex_);
        if (exited_cv_.wait_for(lock, grace, [this] { return exit_.has_value(); })) {
            lock.unlock();
            if (watcher_.joinable()) watcher_.join();
            return *exit_;
        }
    }
    // Ignored SIGINT: take over from the watcher and kill.
    uint64_t one = 1;
    if (wake_) [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
    if (watcher_.joinable()) watcher_.join();
    auto status = process_.stop(std::chrono::milliseconds(0), SIGKILL);
    std::lock_guard lock(mutex_);
    if (!exit_) exit_ = status;
    spdlog::warn("trace hook pid {} ignored SIGINT for {} ms: killed", pid_, grace.count());
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
