#include "trace-hooks/common/manager_process.h"

#include <pthread.h>
#include <sys/prctl.h>

namespace ct::hooks {

sigset_t start_manager_process() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    return stop_signals;
}

}  // namespace ct::hooks
