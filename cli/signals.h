// StopSignals: SIGINT, SIGTERM and SIGHUP as requests to stop, for commands that must clean up
// (delete their trace session) however they are ended. The constructor blocks those signals in
// the calling thread — construct it before starting other threads, which inherit the mask — and
// waits for them on its own thread, calling `on_signal(signal, how many so far)` there. The
// signals stay blocked after destruction (the process is about to exit; a late Ctrl-C must not
// kill it half-way through its cleanup).
#pragma once

#include <atomic>
#include <functional>
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

}  // namespace ct::cli
