// How every hook manager process starts (docs/hooks.md): stop signals taken synchronously, never
// by a handler, so one arriving during set-up stays pending and ends the run right after through
// the same clean-up path; SIGPIPE ignored; SIGTERM when the parent (tracer-node) dies, so the
// manager finishes cleanly instead of being killed with its kernel objects left behind.
// Call first in main, before any thread starts (threads inherit the mask).
#pragma once

#include <csignal>

namespace ct::hooks {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and returns that set, for sigwaitinfo
// or sigtimedwait; ignores SIGPIPE; asks for SIGTERM on the parent's death.
sigset_t start_manager_process();

}  // namespace ct::hooks
