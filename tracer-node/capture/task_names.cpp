#include "tracer-node/capture/task_names.h"

#include "tracer-node/capture/trace_line_parse.h"

namespace ct::node {

namespace {

constexpr std::string_view kUnknownComm = "<...>";  // what ftrace prints when it cannot tell

}  // namespace

void TaskNames::forget(pid_t pid) {
    names_.erase(pid);
    last_ = nullptr;
}

void TaskNames::name(TraceEvent& e) {
    std::optional<ProcessChange> change;
    if (e.type && e.type->lifecycle() != EventType::Lifecycle::kNone) {
        change = process_change(e);
        // The event's own task is the parent (fork) or the exec'd process, whose name ftrace
        // already shows as the new one.
        if (change && change->kind != ProcessChange::kExit && !change->comm.empty()) {
            if (change->kind == ProcessChange::kExec) exec_named_ = change->pid;
            names_.put(change->pid, std::move(change->comm));
            last_ = nullptr;  // put() may have evicted last_pid_'s entry
        }
    }
    if (e.comm.empty() || e.comm == kUnknownComm) {
        // Runs of events come from one task: the lookup is skipped for the same pid as the last one.
        if (!last_ || e.pid != last_pid_) {
            last_ = names_.find(e.pid);
            if (!last_ && lookup_) {
                last_ = &names_.put(e.pid, lookup_(e.pid));
            }
            last_pid_ = e.pid;
        }
        if (last_) e.comm = *last_;
    }
    if (change && change->kind == ProcessChange::kExit) forget(change->pid);
    // exec renames the task: when no exec event told us the new name, look it up again.
    if (e.type != last_type_) {
        last_type_ = e.type;
        last_type_renames_ = e.type && e.type->name() == "sys_exit_execve";
    }
    if (last_type_renames_) {
        if (exec_named_ != e.pid) forget(e.pid);
        exec_named_ = 0;
    }
}

}  // namespace ct::node
