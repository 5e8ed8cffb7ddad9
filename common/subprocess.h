// Subprocess: one child process, owned. Spawned with fork+execve (no shell), optionally with
// stdout/stderr captured through pipes, watched through a pidfd, and killed with its parent
// (PR_SET_PDEATHSIG, which fires when the *spawning thread* exits: spawn from long-lived threads).
// Signals and waits go through the pidfd, so they can never reach another process that reused
// the PID. The destructor stops (SIGINT, then SIGKILL after kDefaultGrace) and reaps a child
// still running, so a Subprocess never leaks a process or a zombie.
// Thread-safety: one owner at a time; distinct Subprocess objects are independent. The pidfd
// (pidfd()) stays open and unchanged for the object's life: another thread may signal through it
// with signal_pidfd() while the owner waits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace ct {

struct SpawnOptions {
    std::vector<std::string> argv;       // argv[0]: a path, or a name looked up in PATH
    std::vector<std::string> extra_env;  // "KEY=VALUE", added to / overriding the inherited env
    bool capture_stdout = true;          // false: inherited
    bool capture_stderr = true;          // false: inherited
    bool die_with_parent = true;         // PR_SET_PDEATHSIG(SIGKILL)
    bool new_process_group = false;      // setpgid(0, 0): signals to -pid reach its children too
};

struct ExitStatus {
    int code = -1;   // exit code when exited normally, else -1
    int signal = 0;  // terminating signal, else 0
    bool ok() const { return code == 0; }
    std::string describe() const;  // "exited with code 3" / "killed by signal 9 (Killed)"
};

class Subprocess {
public:
    static constexpr std::chrono::milliseconds kDefaultGrace{2000};

    // Starts argv. Errors: kNotFound when the executable does not exist, kIo for failed syscalls.
    static Result<Subprocess> spawn(const SpawnOptions& options);

    Subprocess() = default;  // empty: no process
    Subprocess(Subprocess&&) noexcept;
    Subprocess& operator=(Subprocess&&) noexcept;
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;
    ~Subprocess();

    pid_t pid() const { return pid_; }
    // Read ends of the captured pipes, -1 when not captured or taken. Owned by this object.
    int stdout_fd() const { return out_.get(); }
    int stderr_fd() const { return err_.get(); }
    // Hands a pipe's ownership to the caller.
    FD take_stdout() { return std::move(out_); }
    FD take_stderr() { return std::move(err_); }

    // The pidfd of the child (-1 when pidfd_open failed: then PIDs are used).
    int pidfd() const { return pidfd_.get(); }

    bool running();                               // false once it has exited (and is reaped)
    std::optional<ExitStatus> try_wait();         // reaps if it has exited; never blocks
    // How the child ended once it has exited, without reaping it: it stays a zombie, so its PID
    // names it alone until try_wait()/wait() reaps it. nullopt while it runs. Never blocks.
    std::optional<ExitStatus> peek_exit();
    Result<ExitStatus> wait_for(std::chrono::milliseconds timeout);  // kTimeout if still running
    ExitStatus wait();                            // blocks until it exits
    bool send_signal(int sig);                    // false when already gone
    // Sends `first_signal` (to the process group if new_process_group), waits up to `grace`,
    // then SIGKILLs; always reaps. Returns how it ended.
    ExitStatus stop(std::chrono::milliseconds grace = kDefaultGrace, int first_signal = SIGINT);

private:
    void release_all();

    pid_t pid_ = -1;
    bool group_ = false;
    FD pidfd_;
    FD out_;
    FD err_;
    std::optional<ExitStatus> status_;
};

struct RunOutput {
    ExitStatus status;
    std::string out;
    std::string err;
};

// Runs a command to completion, collecting stdout and stderr (each cut at max_output bytes; the
// rest is drained and dropped). Killed (SIGKILL) and kTimeout when it runs past `timeout`.
Result<RunOutput> run_capture(const SpawnOptions& options, std::chrono::milliseconds timeout,
                              size_t max_output = 1 << 20);

// A pidfd for `pid` (pidfd_open); empty when the process is gone or the call failed. Open it
// before checking that `pid` is the process you mean, then signal through it: no check-to-kill race.
FD open_pidfd(pid_t pid);
// Sends `sig` to the process behind `pidfd` (pidfd_send_signal). False when it has been reaped
// or the call failed; a zombie still accepts (and ignores) the signal. Any thread.
bool signal_pidfd(int pidfd, int sig);
// True once the process behind `pidfd` has exited (the pidfd polls readable). Never blocks.
bool pidfd_exited(int pidfd);

// Reads what is available on a non-blocking or ready fd into `out` (at most `limit` bytes kept).
// Returns false on EOF or error.
bool read_available(int fd, std::string& out, size_t limit);

}  // namespace ct
