// FlightCaptureFactory: the CaptureFactory of tracer-node (session_deps.h). A run of a session
// whose trace-mode is "flight-recorder" gets a FlightCapture; every other run the stream capture
// of the factory it wraps (EventCaptureFactory).
//
// A FlightCapture reads, decodes and exports nothing while its run goes on: the hook's ftrace
// instance (overwrite mode) keeps the last events, and the run is attached to the DumpStore, which
// reads the ring on a dump (docs/flight-recorder.md); its TriggerWatch (trigger_watch.h) dumps on
// a fatal signal or OOM kill of the session's processes. Threads: as RunCapture's, plus the
// watch's.
#pragma once

#include <memory>
#include <string>

#include "tracer-node/flight/dump_store.h"
#include "tracer-node/flight/trigger_watch.h"
#include "tracer-node/sessions/session_deps.h"

namespace ct::node::flight {

struct FlightOptions {
    std::string procfs_root = "/proc";
    std::string tracing_dir = "/sys/kernel/tracing";
    // This agent's instance prefix ("ctrace_<tag>_"), for the runs' trigger instances; "" = no
    // triggers (dumps by hand only).
    std::string instance_prefix;
};

class FlightCaptureFactory final : public CaptureFactory {
public:
    // `stream` and `pods` outlive this object.
    FlightCaptureFactory(CaptureFactory& stream, PodSource& pods, std::shared_ptr<DumpStore> dumps,
                         FlightOptions options)
        : stream_(stream), pods_(pods), dumps_(std::move(dumps)), options_(std::move(options)) {}
    // A flight-recorder run: kInvalidArgument when the hook does not trace into an ftrace
    // instance; kIo when its instance cannot be put in overwrite mode.
    Result<std::unique_ptr<RunCapture>> open(const RunCaptureRequest& request) override;
    void discard(const std::string& trace_path) override { stream_.discard(trace_path); }

private:
    CaptureFactory& stream_;
    PodSource& pods_;
    std::shared_ptr<DumpStore> dumps_;
    FlightOptions options_;
};

}  // namespace ct::node::flight
