#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <fmt/format.h>

extern char** environ;

namespace ct {
namespace {

using Clock = std::chrono::steady_clock;

// waitid's P_PIDFD (linux/wait.h, Linux 5.4); glibc 2.36's idtype_t does not name it yet.
constexpr idtype_t kIdPidfd = static_cast<idtype_t>(3);

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

ExitStatus decode(int wstatus) {
    ExitStatus s;
    if (WIFEXITED(wstatus)) s.code = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus)) s.signal = WTERMSIG(wstatus);
    return s;
}

ExitStatus decode(const siginfo_t& info) {
    ExitStatus s;
    if (info.si_code == CLD_EXITED) s.code = info.si_status;
    else s.signal = info.si_status;  // CLD_KILLED, CLD_DUMPED
    return s;
}

// waitid on the pidfd with `flags` (WEXITED plus WNOHANG / WNOWAIT). nullopt while the child
// runs (WNOHANG); an empty status when it was reaped elsewhere or waitid failed.
std::optional<ExitStatus> wait_pidfd(int pidfd, int flags) {
    siginfo_t info{};
    while (::waitid(kIdPidfd, static_cast<id_t>(pidfd), &info, WEXITED | flags) != 0) {
        if (errno != EINTR) return ExitStatus{};
    }
    if (info.si_pid == 0) return std::nullopt;  // WNOHANG: still running
    return decode(info);
}

// PATH lookup done in the parent: the child may only make async-signal-safe calls.
std::optional<std::string> resolve_executable(const std::string& name) {
    if (name.find('/') != std::string::npos)
        return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    size_t pos = 0;
    while (pos <= dirs.size()) {
        size_t end = dirs.find(':', pos);
        if (end == std::string_view::npos) end = dirs.size();
        std::string candidate = fmt::format("{}/{}", dirs.substr(pos, end - pos), name);
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        pos = end + 1;
    }
    return std::nullopt;
}

std::vector<std::string> build_env(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    auto key_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv = *e;
        bool overridden = false;
        for (const auto& x : extra) overridden |= key_of(x) == key_of(kv);
        if (!overridden) env.emplace_back(kv);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

std::string ExitStatus::describe() const {
    if (signal != 0) return fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
    return fmt::format("exited with code {}", code);
}

Result<Subprocess> Subprocess::spawn(const SpawnOptions& options) {
    if (options.argv.empty()) return fail(Errc::kInvalidArgument, "spawn: empty command line");
    auto exe = resolve_executable(options.argv[0]);
    if (!exe) return fail(Errc::kNotFound, fmt::format("spawn: no executable \"{}\"", options.argv[0]));

    std::vector<std::string> argv = options.argv;
    std::vector<std::string> env = build_env(options.extra_env);
    auto argv_c = c_array(argv);
    auto env_c = c_array(env);

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (options.capture_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) return fail_errno("spawn: pipe");
    FD out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (options.capture_stderr && ::pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("spawn: pipe");
    FD err_r(err_pipe[0]), err_w(err_pipe[1]);

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("spawn: fork");
    if (pid == 0) {
        // Child: async-signal-safe calls only until execve.
        if (options.die_with_parent) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);  // parent died before prctl took effect
        }
        if (options.new_process_group) ::setpgid(0, 0);
        sigset_t all;
        sigemptyset(&all);
        ::sigprocmask(SIG_SETMASK, &all, nullptr);  // don't inherit the parent's blocked signals
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (out_w) ::dup2(out_w.get(), 1);
        if (err_w) ::dup2(err_w.get(), 2);
        ::close_range(3, ~0U, 0);
        ::execve(exe->c_str(), argv_c.data(), env_c.data());
        ::_exit(127);
    }

    Subprocess p;
    p.pid_ = pid;
    p.group_ = options.new_process_group;
    p.pidfd_ = FD(pidfd_open(pid));
    p.out_ = std::move(out_r);
    p.err_ = std::move(err_r);
    return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      group_(o.group_),
      pidfd_(std::move(o.pidfd_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      status_(std::move(o.status_)) {}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
    if (this != &o) {
        release_all();
        pid_ = std::exchange(o.pid_, -1);
        group_ = o.group_;
        pidfd_ = std::move(o.pidfd_);
        out_ = std::move(o.out_);
        err_ = std::move(o.err_);
        status_ = std::move(o.status_);
    }
    return *this;
}

Subprocess::~Subprocess() { release_all(); }

void Subprocess::release_all() {
    if (pid_ > 0 && !status_) stop();
    pid_ = -1;
}

std::optional<ExitStatus> Subprocess::try_wait() {
    if (status_) return status_;
    if (pid_ <= 0) return std::nullopt;
    if (pidfd_) return status_ = wait_pidfd(pidfd_.get(), WNOHANG);
    int ws = 0;
    pid_t r = ::waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) status_ = decode(ws);
    else if (r < 0 && errno == ECHILD) status_ = ExitStatus{};  // reaped elsewhere
    return status_;
}

bool Subprocess::running() { return pid_ > 0 && !try_wait(); }

Result<ExitStatus> Subprocess::wait_for(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        if (auto s = try_wait()) return *s;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return fail(Errc::kTimeout, fmt::format("process {} still running", pid_));
        if (pidfd_) {
            pollfd pfd{pidfd_.get(), POLLIN, 0};
            ::poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
        } else {
            ::usleep(static_cast<useconds_t>(std::min<long>(left.count(), 10)) * 1000);
        }
    }
}

std::optional<ExitStatus> Subprocess::peek_exit() {
    if (status_) return status_;
    if (pid_ <= 0) return std::nullopt;
    if (pidfd_) return wait_pidfd(pidfd_.get(), WNOHANG | WNOWAIT);
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return ExitStatus{};
    if (info.si_pid == 0) return std::nullopt;
    return decode(info);
}

ExitStatus Subprocess::wait() {
    if (status_) return *status_;
    if (pidfd_) return *(status_ = wait_pidfd(pidfd_.get(), 0));
    int ws = 0;
    while (::waitpid(pid_, &ws, 0) < 0) {
        if (errno != EINTR) return *(status_ = ExitStatus{});
    }
    return *(status_ = decode(ws));
}

bool Subprocess::send_signal(int sig) {
    if (pid_ <= 0 || try_wait()) return false;
    // Unreaped (just checked), so the group id is still this child's.
    if (group_ && ::kill(-pid_, sig) == 0) return true;
    if (pidfd_) return signal_pidfd(pidfd_.get(), sig);
    return ::kill(pid_, sig) == 0;
}

FD open_pidfd(pid_t pid) { return FD(pidfd_open(pid)); }

bool signal_pidfd(int pidfd, int sig) {
    return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

bool pidfd_exited(int pidfd) {
    pollfd pfd{pidfd, POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

ExitStatus Subprocess::stop(std::chrono::milliseconds grace, int first_signal) {
    if (auto s = try_wait()) return *s;
    send_signal(first_signal);
    if (auto s = wait_for(grace)) return *s;
    send_signal(SIGKILL);
    if (group_) ::kill(-pid_, SIGKILL);
    return wait();
}

bool read_available(int fd, std::string& out, size_t limit) {
    char buf[8192];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    size_t keep = out.size() < limit ? std::min(limit - out.size(), static_cast<size_t>(n)) : 0;
    out.append(buf, keep);
    return true;
}

Result<RunOutput> run_capture(const SpawnOptions& options, std::chrono::milliseconds timeout,
                              size_t max_output) {
    auto proc = Subprocess::spawn(options);
    if (!proc) return std::unexpected(proc.error());
    RunOutput result;
    auto deadline = Clock::now() + timeout;
    FD out = proc->take_stdout(), err = proc->take_stderr();
    // Drain both pipes until EOF on each, so a chatty child can't block on a full pipe.
    while (out || err) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            proc->stop(std::chrono::milliseconds(0), SIGKILL);
            return fail(Errc::kTimeout, fmt::format("\"{}\" did not finish within {} ms", options.argv[0],
                                                    timeout.count()));
        }
        pollfd fds[2];
        int n = 0;
        if (out) fds[n++] = {out.get(), POLLIN, 0};
        if (err) fds[n++] = {err.get(), POLLIN, 0};
        int r = ::poll(fds, n, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) return fail_errno("poll");
        for (int i = 0; i < n; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            bool is_out = out && fds[i].fd == out.get();
            if (!read_available(fds[i].fd, is_out ? result.out : result.err, max_output))
                (is_out ? out : err).reset();
        }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto status = proc->wait_for(std::max(left, std::chrono::milliseconds(0)));
    if (!status) {
        proc->stop(std::chrono::milliseconds(0), SIGKILL);
        return fail(Errc::kTimeout, fmt::format("\"{}\" did not exit within {} ms", options.argv[0], timeout.count()));
    }
    result.status = *status;
    return result;
}

}  // namespace ct
