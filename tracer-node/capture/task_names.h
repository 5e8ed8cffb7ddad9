// TaskNames: names the tasks of one capture run's events. The hook's fork and exec events name
// new and renamed tasks exactly, and spare a lookup per child (which a short-lived one may not
// outlive); a task's exit event ends what is kept for it. Other tasks are looked up once (raw
// path: /proc/<pid>/comm) and remembered. Bounded (PidCache). One thread: the capture's poll().
#pragma once

#include <functional>
#include <string>

#include "tracer-node/capture/pid_cache.h"
#include "tracer-node/export/trace_event.h"

namespace ct::node {

class TaskNames {
public:
    // The name of a task nothing told us about yet; null: keep the event's own comm.
    using Lookup = std::function<std::string(pid_t)>;
    explicit TaskNames(Lookup lookup, std::size_t limit = PidCache<std::string>::kDefaultLimit)
        : lookup_(std::move(lookup)), names_(limit) {}

    // Sets e.comm (events in time order): a known name when e.comm is empty or ftrace's "<...>"
    // (it could not tell), else the lookup's answer when there is a lookup. Lifecycle events
    // update what is known.
    void name(TraceEvent& e);

    std::uint64_t evictions() const { return names_.evictions(); }
    std::size_t size() const { return names_.size(); }

private:
    void forget(pid_t pid);

    Lookup lookup_;
    PidCache<std::string> names_;
    pid_t last_pid_ = 0;
    const std::string* last_ = nullptr;  // names_ of last_pid_, or null
    const EventType* last_type_ = nullptr;
    bool last_type_renames_ = false;  // sys_exit_execve: exec renamed the task
    pid_t exec_named_ = 0;            // the task the last exec event named (its sys_exit_execve follows)
};

}  // namespace ct::node
