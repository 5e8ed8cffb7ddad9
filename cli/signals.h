// StopSignals: SIGINT, SIGTERM and SIGHUP as requests to stop, for commands that must clean up
// (delete their trace session) however they are ended. The constructor blocks those signals in
// the calling thread — construct it before starting other threads, which inherit the mask — and
// waits for them on its own thread, calling `on_signal(signal, how many so far)` there. The
// signals stay blocked after destruction (the process is about to exit; a late Ctrl-C must not
// kill it half-way through its cleanup).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <string>
#include <mutex>
#include <thread>

namespace ct::cli {

class StopSignals {
public:
    explicit StopSignals(std::function<void(int signal, int count)> on_signal);
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    std::function<void(int, int)> on_signal_;
    std::atomic<bool> quitting_{false};
    std::thread thread_;
};

// A stop request for a command's waiting loop (`top`, `record`): the first signal of
// StopSignals asks the loop to end (it then cleans up); a second quits at once with exit code
// 130 after printing `second_signal_note`. Construct before starting other threads.
// Thread-safety: every member may be called from any thread.
class StopRequest {
public:
    explicit StopRequest(std::string second_signal_note);
    bool requested() const;
    // Sleeps up to `limit`; true when a stop was requested (before or during the wait).
    bool wait_for(std::chrono::milliseconds limit);

private:
    const std::string note_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool requested_ = false;
    StopSignals signals_;  // last: its thread uses the members above
};

}  // namespace ct::cli
