#include "cli/signals.h"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace ct::cli {

namespace {

// SIGUSR2 only wakes the waiting thread when it should end.
sigset_t stop_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&set, s);
    return set;
}

}  // namespace

StopSignals::StopSignals(std::function<void(int, int)> on_signal) : on_signal_(std::move(on_signal)) {
    sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this, set] {
        int count = 0;
        while (true) {
            int signal = 0;
            if (sigwait(&set, &signal) != 0) continue;
            if (signal == SIGUSR2) {
                if (quitting_) return;
                continue;
            }
            on_signal_(signal, ++count);
        }
    });
}

StopSignals::~StopSignals() {
    quitting_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
}

StopRequest::StopRequest(std::string second_signal_note)
    : note_(std::move(second_signal_note)), signals_([this](int, int count) {
          if (count > 1) {
              std::fprintf(stderr, "ctrace: quitting; %s\n", note_.c_str());
              std::_Exit(130);
          }
          std::lock_guard lock(mutex_);
          requested_ = true;
          cv_.notify_all();
      }) {}

bool StopRequest::requested() const {
    std::lock_guard lock(mutex_);
    return requested_;
}

bool StopRequest::wait_for(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [this] { return requested_; });
}

}  // namespace ct::cli
