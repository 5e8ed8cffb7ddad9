#include "cli/signals.h"

#include <pthread.h>

#include <csignal>

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

}  // namespace ct::cli
