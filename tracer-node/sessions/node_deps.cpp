#include "tracer-node/sessions/node_deps.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/glob.h"
#include "common/strings.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/discovery/process_table.h"

namespace ct::node {

void remove_instance_of(const std::string& trace_path) {
    auto dir = ftrace::instance_dir_of(trace_path);
    std::error_code ec;
    if (dir.empty() || !std::filesystem::exists(dir, ec)) return;
    if (auto removed = ftrace::remove(dir, std::chrono::seconds(1)); !removed)
        spdlog::error("{}", removed.error().message);
    else
        spdlog::warn("removed ftrace instance {} left behind by its hook", dir);
}

Result<size_t> follow_into_instance(const std::string& instance_dir, const std::string& procfs_root,
                                    const std::vector<pid_t>& tgids) {
    auto filtered = ftrace::read_event_pids(instance_dir);
    std::vector<pid_t> fresh;
    for (pid_t p : tgids)
        if (!filtered.contains(p)) fresh.push_back(p);
    if (fresh.empty()) return size_t{0};
    auto tids = threads_of(procfs_root, fresh);
    if (!tids) return std::unexpected(tids.error());
    if (tids->empty()) return size_t{0};
    if (auto added = ftrace::add_event_pids(instance_dir, *tids); !added) return std::unexpected(added.error());
    return fresh.size();
}

namespace {

// A run's events: its CaptureRun, plus the tracefs instance it reads (when it is one).
class EventCapture final : public RunCapture {
public:
    EventCapture(std::unique_ptr<CaptureRun> capture, std::string trace_path, std::string session_id,
                 std::string procfs_root)
        : capture_(std::move(capture)), trace_path_(std::move(trace_path)),
          instance_dir_(ftrace::instance_dir_of(trace_path_)), session_id_(std::move(session_id)),
          procfs_root_(std::move(procfs_root)) {}

    CaptureStats stats() const override { return capture_->stats(); }

    Result<size_t> follow(const std::vector<pid_t>& tgids, const std::vector<ContainerRef>& scope) override {
        capture_->widen_scope(scope);  // before the new processes' events can come
        if (instance_dir_.empty()) return size_t{0};  // a plain file takes no new processes
        return follow_into_instance(instance_dir_, procfs_root_, tgids);
    }

    void finish(const DrainLimits& limits) override {
        capture_->hook_exited();
        if (!capture_->wait_finished(limits.stall, limits.limit))
            spdlog::warn("session {}: capture did not drain (no progress for {} ms, or {} ms in all); dropping and "
                         "counting the rest", session_id_, limits.stall.count(), limits.limit.count());
        capture_->abort();  // joins the capture thread
        remove_instance_of(trace_path_);
    }

private:
    std::unique_ptr<CaptureRun> capture_;
    std::string trace_path_;
    std::string instance_dir_;  // "" when the trace file is not a tracefs instance's
    std::string session_id_;
    std::string procfs_root_;
};

}  // namespace

Result<std::vector<pid_t>> PodDbSource::threads_of(const std::vector<pid_t>& tgids) {
    return ct::node::threads_of(procfs_root_, tgids);
}

Result<std::unique_ptr<RunningHook>> RegistryHookLauncher::start(const HookInfo& hook, const std::vector<pid_t>& tids,
                                                                 const std::vector<std::string>& args,
                                                                 HookStartOptions options) {
    auto started = HookProcess::start(hook, tids, args, registry_.manager_env(), std::move(options));
    if (!started) return std::unexpected(started.error());
    return std::unique_ptr<RunningHook>(std::move(*started));
}

std::set<std::string> requested_lifecycle(const SessionSpec& spec) {
    std::set<std::string> out;
    if (spec.hook != "trace_events") return out;
    auto args = split_whitespace(spec.args);
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i], value;
        if ((arg == "-e" || arg == "--event") && i + 1 < args.size()) value = args[++i];
        else if (arg.starts_with("--event=")) value = arg.substr(8);
        else continue;
        for (auto name : kLifecycleEvents)
            if (glob_match(value, fmt::format("sched:{}", name))) out.emplace(name);
    }
    return out;
}

Result<std::unique_ptr<RunCapture>> EventCaptureFactory::open(const RunCaptureRequest& request) {
    auto lifecycle = requested_lifecycle(request.spec);
    CaptureOptions capture{.procfs_root = options_.procfs_root,
                           .queue_budget = options_.capture_queue,
                           .export_lifecycle = lifecycle};
    if (auto instance_dir = ftrace::instance_dir_of(request.trace_path); options_.page_tap_for && !instance_dir.empty())
        capture.page_tap = options_.page_tap_for(request.context, instance_dir);
    auto source = open_capture(request.trace_path, capture);
    if (!source) return std::unexpected(Error::wrap(source.error(), fmt::format("trace hook {}", request.spec.hook)));
    OwnerLookup owners = [&pods = pods_](pid_t tid) -> std::optional<EventOwner> {
        auto owner = pods.owner_of(tid);
        if (!owner) return std::nullopt;
        return EventOwner{owner->pod, owner->pod_namespace, owner->container, owner->container_id};
    };
    // The capture exports only the selected containers' events (docs/api.md "Capture").
    auto run = std::make_unique<CaptureRun>(std::move(*source), request.context, std::move(owners), exporters_,
                                            CaptureRunOptions{.nice = options_.capture_nice, .scope = request.scope, .export_lifecycle = lifecycle});
    return std::unique_ptr<RunCapture>(std::make_unique<EventCapture>(
        std::move(run), request.trace_path, request.context.session_id, options_.procfs_root));
}

void EventCaptureFactory::discard(const std::string& trace_path) { remove_instance_of(trace_path); }

}  // namespace ct::node
