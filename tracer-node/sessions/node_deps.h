// The real implementations of session_deps.h, wired in main.cpp: discovery's PodDb, the hook
// managers of a HookRegistry run as HookProcesses, and EventCapture (a run's events from its
// trace file through CaptureRun to the exporters). Thread-safety as in session_deps.h.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "tracer-node/capture/byte_budget.h"
#include "tracer-node/capture/capture_source.h"
#include "tracer-node/export/exporter.h"
#include "tracer-node/sessions/session_deps.h"

namespace ct::node {

// Removes the ftrace instance of `trace_path` (".../instances/<name>/trace_pipe") when it is still
// there: the hook removes its own, this is the safety net after a crash or SIGKILL.
void remove_instance_of(const std::string& trace_path);

// RunCapture::follow for a tracefs instance: adds the threads of those of `tgids` not yet in its
// event pid filter (children of traced processes are there already: event-fork). Returns how many
// processes were added.
Result<size_t> follow_into_instance(const std::string& instance_dir, const std::string& procfs_root,
                                    const std::vector<pid_t>& tgids);

class PodDbSource final : public PodSource {
public:
    // Both outlive this object.
    PodDbSource(PodDb& pods, std::string procfs_root) : pods_(pods), procfs_root_(std::move(procfs_root)) {}
    Result<PodMap> refresh() override { return pods_.refresh(); }
    Result<PodMap> update() override { return pods_.update(); }
    Result<std::vector<pid_t>> threads_of(const std::vector<pid_t>& tgids) override;
    std::optional<Owner> owner_of(pid_t tid) override { return pods_.owner_of(tid); }

private:
    PodDb& pods_;
    std::string procfs_root_;
};

class RegistryHookLauncher final : public HookLauncher {
public:
    explicit RegistryHookLauncher(HookRegistry& registry) : registry_(registry) {}  // outlives this
    Result<HookInfo> find(const std::string& name) override { return registry_.find(name); }
    Result<std::unique_ptr<RunningHook>> start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                               const std::vector<std::string>& args,
                                               HookStartOptions options) override;
    std::vector<std::string> clear_all() override { return registry_.clear_all(); }

private:
    HookRegistry& registry_;
};

struct EventCaptureOptions {
    std::string procfs_root = "/proc";
    int capture_nice = 10;  // CaptureRun threads: yield the CPU to traced workloads under load
    // Raw pages waiting for decoding, shared by every run (CaptureOptions::queue_budget); null:
    // each run has its own default budget.
    std::shared_ptr<ByteBudget> capture_queue;
    // Called when a run starts capturing an ftrace instance (under its session's op mutex): the
    // page tap for its capture (CaptureOptions::page_tap), e.g. the recorder's
    // (record/recorder.h); an empty function for none. Null: no tap.
    std::function<decltype(CaptureOptions::page_tap)(const EventContext&, const std::string& instance_dir)> page_tap_for;
};

// The process lifecycle events (kLifecycleEvents) a trace_events session asked for with
// -e/--event, by name or glob ("sched:sched_process_exit", "sched:*"): exported like any event
// rather than only used by the capture for names and owners. Empty for other hooks. Pure.
std::set<std::string> requested_lifecycle(const SessionSpec& spec);

// Opens an EventCapture for every run: the hook's trace file read by open_capture (a tracefs
// instance's per-CPU buffers, or text lines), events enriched with their pod/container from
// `pods` and handed to `exporters`.
class EventCaptureFactory final : public CaptureFactory {
public:
    // `pods` outlives this object.
    EventCaptureFactory(EventCaptureOptions options, PodSource& pods, std::shared_ptr<const ExporterSet> exporters)
        : options_(std::move(options)), pods_(pods), exporters_(std::move(exporters)) {}
    Result<std::unique_ptr<RunCapture>> open(const RunCaptureRequest& request) override;
    void discard(const std::string& trace_path) override;

private:
    EventCaptureOptions options_;
    PodSource& pods_;
    std::shared_ptr<const ExporterSet> exporters_;
};

}  // namespace ct::node
