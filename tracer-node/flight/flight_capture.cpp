#include "tracer-node/flight/flight_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/sessions/node_deps.h"

namespace ct::node::flight {

namespace {

Status write_text(const std::string& path, std::string_view text, int flags = O_WRONLY) {
    FD fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening \"{}\"", path));
    if (!text.empty() && ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno(fmt::format("writing \"{}\"", path));
    return {};
}

class FlightCapture final : public RunCapture {
public:
    FlightCapture(std::shared_ptr<DumpStore> dumps, std::string session_id, std::string trace_path,
                  std::string procfs_root)
        : dumps_(std::move(dumps)), session_id_(std::move(session_id)), trace_path_(std::move(trace_path)),
          instance_dir_(ftrace::instance_dir_of(trace_path_)), procfs_root_(std::move(procfs_root)) {}
    ~FlightCapture() override {
        triggers_.reset();
        dumps_->detach(session_id_);
    }
    void set_triggers(std::unique_ptr<TriggerWatch> triggers) { triggers_ = std::move(triggers); }

    // Nothing is read: nothing is delivered or lost while the run goes on (the dumps count theirs).
    CaptureStats stats() const override { return {}; }

    // The scope matters for exports only; a flight run exports nothing while it runs.
    Result<size_t> follow(const std::vector<pid_t>& tgids, const std::vector<ContainerRef>&) override {
        return follow_into_instance(instance_dir_, procfs_root_, tgids);
    }

    void container_ended(const std::string& pod, const std::string& container) override {
        auto dumped = dumps_->dump(session_id_, fmt::format("container {}/{} ended", pod, container), std::nullopt, true);
        if (!dumped) spdlog::error("session {}: dump on a container's end: {}", session_id_, dumped.error().message);
    }

    void stopping() override {
        // The hook waits for its buffers to be read empty before removing its instance; nobody
        // reads them here, so they are emptied (after the last dump ended).
        triggers_.reset();
        dumps_->detach(session_id_);
        if (auto off = write_text(instance_dir_ + "/tracing_on", "0"); !off)
            spdlog::warn("session {}: {}", session_id_, off.error().message);
        if (auto cleared = write_text(instance_dir_ + "/trace", "", O_WRONLY | O_TRUNC); !cleared)
            spdlog::warn("session {}: clearing the flight recorder's ring: {}", session_id_, cleared.error().message);
    }

    void finish(const DrainLimits&) override {
        triggers_.reset();
        dumps_->detach(session_id_);
        remove_instance_of(trace_path_);
    }

private:
    std::shared_ptr<DumpStore> dumps_;
    std::string session_id_;
    std::string trace_path_;
    std::string instance_dir_;
    std::string procfs_root_;
    std::unique_ptr<TriggerWatch> triggers_;  // null: dumps by hand only
};

}  // namespace

Result<std::unique_ptr<RunCapture>> FlightCaptureFactory::open(const RunCaptureRequest& request) {
    if (request.spec.mode != api::TraceMode::kFlightRecorder) return stream_.open(request);
    auto instance_dir = ftrace::instance_dir_of(request.trace_path);
    if (instance_dir.empty())
        return fail(Errc::kInvalidArgument,
                    fmt::format("trace-mode \"flight-recorder\" needs a hook that traces into an ftrace instance; "
                                "trace hook {} writes to \"{}\"",
                                request.spec.hook, request.trace_path));
    // Instances start in overwrite mode; a flight recorder depends on it, so it is set, not assumed.
    if (auto ok = write_text(instance_dir + "/options/overwrite", "1"); !ok) return std::unexpected(ok.error());
    auto capture =
        std::make_unique<FlightCapture>(dumps_, request.context.session_id, request.trace_path, options_.procfs_root);
    OwnerOf owner_of = [&pods = pods_](pid_t tid) -> std::optional<EventOwner> {
        auto owner = pods.owner_of(tid);
        if (!owner) return std::nullopt;
        return EventOwner{owner->pod, owner->pod_namespace, owner->container, owner->container_id};
    };
    dumps_->attach(request.context, instance_dir, owner_of);
    if (!options_.instance_prefix.empty()) {
        auto watch = TriggerWatch::start(
            {.tracing_dir = options_.tracing_dir,
             .instance_prefix = options_.instance_prefix,
             .hook_instance = instance_dir,
             .owner_of = owner_of},
            [dumps = dumps_, session = request.context.session_id](const TriggerEvent& event,
                                                                   const std::optional<EventOwner>& target) {
                auto dumped = dumps->dump(session, trigger_reason(event, target), event, true);
                if (!dumped) spdlog::error("session {}: dump on {}: {}", session, event.event, dumped.error().message);
            });
        if (!watch) return std::unexpected(Error::wrap(watch.error(), "starting the flight recorder's triggers"));
        capture->set_triggers(std::move(*watch));
    }
    spdlog::info("session {}: flight recorder on {} (nothing read until a dump)", request.context.session_id,
                 instance_dir);
    return std::unique_ptr<RunCapture>(std::move(capture));
}

}  // namespace ct::node::flight
