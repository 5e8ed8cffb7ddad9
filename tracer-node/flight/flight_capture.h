// FlightCaptureFactory: the CaptureFactory of tracer-node (session_deps.h). A run of a session
// whose trace-mode is "flight-recorder" gets a FlightCapture; every other run the stream capture
// of the factory it wraps (EventCaptureFactory).
//
// A FlightCapture reads, decodes and exports nothing while its run goes on: the hook's ftrace
// instance (overwrite mode) keeps the last events, and the run is attached to the DumpStore, which
// reads the ring on a dump (docs/flight-recorder.md). Threads: as RunCapture's.
#pragma once

#include <memory>
#include <string>

#include "tracer-node/flight/dump_store.h"
#include "tracer-node/sessions/session_deps.h"

namespace ct::node::flight {

class FlightCaptureFactory final : public CaptureFactory {
public:
    // `stream` and `pods` outlive this object.
    FlightCaptureFactory(CaptureFactory& stream, PodSource& pods, std::shared_ptr<DumpStore> dumps,
                         std::string procfs_root)
        : stream_(stream), pods_(pods), dumps_(std::move(dumps)), procfs_root_(std::move(procfs_root)) {}
    // A flight-recorder run: kInvalidArgument when the hook does not trace into an ftrace
    // instance; kIo when its instance cannot be put in overwrite mode.
    Result<std::unique_ptr<RunCapture>> open(const RunCaptureRequest& request) override;
    void discard(const std::string& trace_path) override { stream_.discard(trace_path); }

private:
    CaptureFactory& stream_;
    PodSource& pods_;
    std::shared_ptr<DumpStore> dumps_;
    std::string procfs_root_;
};

}  // namespace ct::node::flight
