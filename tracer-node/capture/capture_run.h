// CaptureRun: the thread that moves one session run's events from its CaptureSource through
// enrichment (pid -> pod/container) to the exporters. Owned by the session's run; the
// destructor aborts and joins.
// The thread runs at `nice` (setpriority on itself only): decoding and exporting must not take
// CPU from the workloads being traced when the node is busy. The source's own reader (which keeps
// the kernel buffers drained) stays at normal priority; the backlog waits in its bounded queue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "tracer-node/capture/capture_source.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

// Maps a thread id to its pod/container; called on the capture thread, must be fast.
using OwnerLookup = std::function<std::optional<EventOwner>(pid_t)>;

struct CaptureStats {
    std::uint64_t delivered = 0;  // events handed to the exporters
    CaptureLoss loss;             // what the source lost
};

class CaptureRun {
public:
    CaptureRun(std::unique_ptr<CaptureSource> source, EventContext context, OwnerLookup owners,
               std::shared_ptr<const ExporterSet> exporters, int nice = 0);
    ~CaptureRun();
    CaptureRun(const CaptureRun&) = delete;
    CaptureRun& operator=(const CaptureRun&) = delete;

    // The hook exited: deliver what remains, then end by itself.
    void hook_exited();
    // Waits for the source to end on its own; true when it did. False once `stall` passes
    // without any event delivered, or once the whole wait reaches `limit` while events still
    // flow (a backlog the node cannot export in time). On false, abort() drops and counts the rest.
    bool wait_finished(std::chrono::milliseconds stall, std::chrono::milliseconds limit);
    // Ends now, dropping unread data; joins.
    void abort();
    bool finished() const { return finished_; }
    CaptureStats stats() const;

private:
    void run(int nice);

    std::unique_ptr<CaptureSource> source_;
    EventContext context_;
    OwnerLookup owners_;
    std::shared_ptr<const ExporterSet> exporters_;
    std::atomic<bool> abort_{false};
    std::atomic<bool> hook_exited_{false};
    std::atomic<bool> finished_{false};
    std::atomic<std::uint64_t> delivered_{0};
    mutable std::mutex stats_mutex_;
    CaptureLoss loss_;  // last read of source_->loss(), guarded by stats_mutex_
    std::mutex done_mutex_;
    std::condition_variable done_cv_;
    std::unordered_map<pid_t, std::string> comm_of_;  // from fork/exec events; capture thread only
    std::thread thread_;
};

}  // namespace ct::node
