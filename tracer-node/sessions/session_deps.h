// What SessionManager uses, as interfaces: discovery (PodSource), hooks (HookLauncher and
// RunningHook, hooks/hook_process.h) and a run's capture (CaptureFactory and RunCapture). The real
// ones are in node_deps.h and wired in main.cpp; unit tests pass fakes.
//
// A run is a hook plus a capture. The capture part is what a run does with what its hook
// produces, chosen per run by the CaptureFactory from the hook's trace path and the session:
// today events from a tracefs instance (or a text file) to the exporters (EventCapture); the
// kinds to come slot in as further RunCapture implementations without changing SessionManager:
// a statistics run (a hook printing a ".stats.json" path: snapshots read into the session, no
// events), a flight recorder (an instance kept and read only on a trigger). Per-run capture
// options (a recorder of raw pages) belong to the factory that opens the run's capture.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "tracer-node/capture/capture_run.h"
#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/hooks/hook_process.h"
#include "tracer-node/hooks/hook_registry.h"
#include "tracer-node/sessions/session.h"

namespace ct::node {

// The node's pods and processes. Thread-safe: called from request threads, the janitor and
// capture threads.
class PodSource {
public:
    virtual ~PodSource() = default;
    // A fresh snapshot (discovery refresh).
    virtual Result<PodMap> refresh() = 0;
    // A snapshot for the janitor's periodic follow-up: may skip the runtime when nothing new
    // shows (PodDb::update).
    virtual Result<PodMap> update() { return refresh(); }
    // Every thread of every process in `tgids`; processes gone meanwhile are skipped.
    virtual Result<std::vector<pid_t>> threads_of(const std::vector<pid_t>& tgids) = 0;
    // The container a task runs in, for its events; nullopt when none. Must be fast.
    virtual std::optional<Owner> owner_of(pid_t tid) = 0;
};

// Finds and starts hooks. Thread-safe.
class HookLauncher {
public:
    virtual ~HookLauncher() = default;
    // kNotFound naming the hook when no manager offers it.
    virtual Result<HookInfo> find(const std::string& name) = 0;
    // Starts `hook` on `tids` with the session's arguments (HookProcess::start's contract).
    virtual Result<std::unique_ptr<RunningHook>> start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                       const std::vector<std::string>& args,
                                                       HookStartOptions options) = 0;
    // Every manager's --clear; the failures' messages.
    virtual std::vector<std::string> clear_all() = 0;
};

// How long finishing a run may wait for its capture to deliver what is left.
struct DrainLimits {
    std::chrono::milliseconds stall{3000};   // without any progress
    std::chrono::milliseconds limit{15000};  // in all; the rest is dropped and counted
};

// One run's capture. Created once its hook has printed its trace path; finished once the hook
// has ended. Threads: open and finish() on the thread that starts or ends the run, holding that
// session's lock only (never one other sessions need); follow() on the janitor under the same
// lock; stats() from any thread.
class RunCapture {
public:
    virtual ~RunCapture() = default;  // releases what finish() would, dropping what is unread
    // Counts so far; final after finish().
    virtual CaptureStats stats() const = 0;
    // Processes that joined the session's containers during the run and were not handed to the
    // hook before: trace them too where this kind can (a tracefs instance: its event pid filter;
    // children of traced processes are skipped, the kernel follows them already). `scope`: the
    // session's containers now (those at start and any that joined); their events are exported
    // from before the processes are added on (docs/api.md "Capture"). Returns how many
    // processes were added (0 when this kind cannot add any).
    virtual Result<size_t> follow(const std::vector<pid_t>& tgids, const std::vector<ContainerRef>& scope) = 0;
    // The run is about to be stopped (before its hook gets SIGINT): a capture that reads nothing
    // while it runs (a flight recorder) empties the buffers its hook would wait to see drained.
    virtual void stopping() {}
    // A container of the session that had processes during the run has none any more (seen by
    // the janitor, under the session's lock). A flight recorder dumps; others ignore it.
    virtual void container_ended(const std::string& /*pod*/, const std::string& /*container*/) {}
    // The hook has ended (stopped or on its own): deliver what is left within `limits`, then
    // release everything the run holds (threads, files, the hook's ftrace instance if it is still
    // there). Blocks up to limits.limit. Called once.
    virtual void finish(const DrainLimits& limits) = 0;
};

struct RunCaptureRequest {
    SessionId session = 0;
    SessionSpec spec;
    std::string trace_path;  // the hook's first stdout line
    EventContext context;    // what every event of the run carries
    // The session's selected containers: only their events are exported, whatever else gets
    // into the hook's trace (docs/api.md "Capture"; follow() adds containers that join).
    std::vector<ContainerRef> scope;
};

// Opens each run's capture. Thread-safe.
class CaptureFactory {
public:
    virtual ~CaptureFactory() = default;
    // kIo (or the reader's error) when the trace path cannot be read: the run does not start.
    virtual Result<std::unique_ptr<RunCapture>> open(const RunCaptureRequest& request) = 0;
    // A hook that printed `trace_path` has been stopped without a capture (open failed): remove
    // what it may have left there.
    virtual void discard(const std::string& trace_path) = 0;
};

}  // namespace ct::node
