// CaptureRun: the thread that moves one session run's events from its CaptureSource through
// enrichment (pid -> pod/container) and the scope check to the exporters. Owned by the session's
// run; the destructor aborts and joins.
// Scope (docs/api.md "Capture"): only events whose task belongs to one of the session's
// containers are exported; an event about another task than the one that wrote it (a signal's
// target: TraceEvent::subject) by that other task. An event of any other task (in another container, or in none at all,
// such as a host process that got into the instance's pid filter) is dropped and counted in
// out_of_scope. A task's owner is looked up once (OwnerLookup, a miss again at most once a
// second: discovery may not have seen a new process yet) and kept for the run; a child inherits
// its parent's owner from the fork event, so a short-lived process is attributed even when it is
// gone before discovery could see it. Exit events end what is kept for a task.
// The thread runs at `nice` (setpriority on itself only): decoding and exporting must not take
// CPU from the workloads being traced when the node is busy. The source's own reader (which keeps
// the kernel buffers drained) stays at normal priority; the backlog waits in its bounded queue.
#pragma once

#include <atomic>
#include <compare>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tracer-node/capture/capture_source.h"
#include "tracer-node/capture/pid_cache.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

// Maps a thread id to its pod/container; called on the capture thread, must be fast.
using OwnerLookup = std::function<std::optional<EventOwner>(pid_t)>;

// One container of a session's selection, as discovery keys it (EventOwner::pod, ::container).
struct ContainerRef {
    std::string pod;
    std::string container;
    auto operator<=>(const ContainerRef&) const = default;
};

struct CaptureRunOptions {
    int nice = 0;
    std::vector<ContainerRef> scope;  // the session's containers at start (widen_scope adds more)
    // Process lifecycle events (kLifecycleEvents) the user asked for: exported like any event.
    // The others are the hook's bookkeeping: consumed, not exported, not counted. Give the
    // source the same set (CaptureOptions::export_lifecycle).
    std::set<std::string> export_lifecycle;
};

struct CaptureStats {
    std::uint64_t delivered = 0;     // events handed to the exporters
    std::uint64_t out_of_scope = 0;  // events of tasks outside the session's containers: dropped
    std::uint64_t evictions = 0;     // per-task cache entries pushed out by their bound (PidCache)
    CaptureLoss loss;                // what the source lost
};

class CaptureRun {
public:
    CaptureRun(std::unique_ptr<CaptureSource> source, EventContext context, OwnerLookup owners,
               std::shared_ptr<const ExporterSet> exporters, CaptureRunOptions options = {});
    ~CaptureRun();
    CaptureRun(const CaptureRun&) = delete;
    CaptureRun& operator=(const CaptureRun&) = delete;

    // The session's selection grew: events of these containers are exported from now on. Call
    // before their processes join the instance's pid filter. Any thread.
    void widen_scope(const std::vector<ContainerRef>& containers);
    // The hook exited: deliver what remains, then end by itself.
    void hook_exited();
    // Waits for the source to end on its own; true when it did. False once `stall` passes
    // without any event delivered or dropped as out of scope, or once the whole wait reaches `limit` while events still
    // flow (a backlog the node cannot export in time). On false, abort() drops and counts the rest.
    bool wait_finished(std::chrono::milliseconds stall, std::chrono::milliseconds limit);
    // Ends now, dropping unread data; joins.
    void abort();
    bool finished() const { return finished_; }
    CaptureStats stats() const;

private:
    // One owner as the run keeps it: shared by all tasks of its container.
    struct Owner {
        EventOwner owner;
        bool in_scope = false;
    };
    // What the run knows of one task.
    struct Task {
        const Owner* owner = nullptr;  // null: in no known container
        std::chrono::steady_clock::time_point checked;  // when a miss was last looked up
    };
    static constexpr std::size_t kMaxOwners = 1024;  // distinct containers kept per run

    void run(int nice);
    // The task's entry, looked up (again, for a miss older than a second) when needed.
    const Task& task_of(pid_t pid, std::chrono::steady_clock::time_point now);
    const Owner* intern(EventOwner owner);
    void refresh_scope();  // capture thread: picks up widen_scope() calls
    void clear_owners();   // capture thread, between batches

    std::unique_ptr<CaptureSource> source_;
    EventContext context_;
    OwnerLookup owners_;
    std::shared_ptr<const ExporterSet> exporters_;
    const std::set<std::string> export_lifecycle_;
    std::atomic<bool> abort_{false};
    std::atomic<bool> hook_exited_{false};
    std::atomic<bool> finished_{false};
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> out_of_scope_{0};
    std::atomic<std::uint64_t> evictions_{0};
    mutable std::mutex stats_mutex_;
    CaptureLoss loss_;  // last read of source_->loss(), guarded by stats_mutex_
    std::mutex done_mutex_;
    std::condition_variable done_cv_;

    std::mutex scope_mutex_;
    std::set<ContainerRef> scope_;               // guarded by scope_mutex_
    std::atomic<std::uint64_t> scope_version_{0};  // bumped by widen_scope

    // Capture thread only.
    std::set<ContainerRef> scope_seen_;  // the scope as last picked up
    std::uint64_t scope_seen_version_ = 0;
    std::map<std::tuple<std::string, std::string, std::string, std::string>, std::unique_ptr<Owner>> pool_;
    PidCache<Task> tasks_;
    std::uint64_t cleared_ = 0;  // task entries dropped by clear_owners
    pid_t last_pid_ = 0;
    const Task* last_task_ = nullptr;  // tasks_ entry of last_pid_, or null
    std::thread thread_;
};

}  // namespace ct::node
