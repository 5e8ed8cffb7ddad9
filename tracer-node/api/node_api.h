// NodeApi: tracer-node's HTTP routes (/v1 per the seed, plus /healthz, /readyz, /metrics),
// translating requests to PodDb / HookRegistry / SessionManager calls and results to JSON.
// Holds references only; main() owns the components and outlives it. Handlers run on the HTTP
// server's pool threads, concurrently.
#pragma once

#include <atomic>
#include <memory>

#include "common/router.h"
#include "tracer-node/api/metrics.h"
#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/export/stream_hub.h"
#include "tracer-node/flight/dump_store.h"
#include "tracer-node/hooks/hook_registry.h"
#include "tracer-node/record/recorder.h"
#include "tracer-node/sessions/session_manager.h"

namespace ct::node {

class NodeApi {
public:
    NodeApi(PodDb& pods, HookRegistry& hooks, SessionManager& sessions, NodeMetrics& metrics);

    // The routes; build once and hand to the HTTP server.
    http::Router router();
    // Optional (main wires them): the live-stream exporter behind GET .../<id>/trace (without
    // it the route answers 404), and the exporters whose counts /metrics shows.
    void set_stream_hub(std::shared_ptr<StreamHub> hub) { stream_hub_ = std::move(hub); }
    void set_exporters(std::shared_ptr<const ExporterSet> exporters) { exporters_ = std::move(exporters); }
    // This node's name: "Node" in every container of GET /v1/pods, and the processes of a
    // node-wide trace.json (before serving; "" leaves it out of the pods).
    void set_node_name(std::string name) { node_name_ = std::move(name); }
    // The recorder behind GET .../<id>/trace.dat and trace.json (without it they answer 409).
    void set_recorder(std::shared_ptr<record::Recorder> recorder) { recorder_ = std::move(recorder); }
    // The flight recorders' dumps behind POST .../<id>/dump and GET .../<id>/dumps[/...] (without
    // it they answer 409), forgotten with their sessions.
    void set_dumps(std::shared_ptr<flight::DumpStore> dumps) { dumps_ = std::move(dumps); }
    // The largest ring-size a session may ask for (--max-ring).
    void set_max_ring(std::uint64_t bytes) { max_ring_ = bytes; }
    // Ready once discovery and the hooks have loaded once.
    void set_ready(bool ready) { ready_ = ready; }

private:
    http::Response get_pods();
    http::Response get_hooks();
    http::Response get_session(const std::string& id);
    http::Response post_session(const http::Request& request);
    http::Response put_session(const std::string& id, const http::Request& request);
    http::Response delete_session(const std::string& id);
    http::Response stream_session(const std::string& id);
    http::Response export_dat(const std::string& id);
    http::Response export_json(const std::string& id, const std::string& query);
    // The session's recording; 404 for an unknown session, 409 when nothing was recorded for it.
    Result<record::Recording> recording_of(SessionId id);
    http::Response session_statistics(const std::string& id);
    http::Response post_dump(const std::string& id, const http::Request& request);
    http::Response list_dumps(const std::string& id);
    http::Response export_dump(const std::string& id, const std::string& dump_id, bool dat, const std::string& query);
    http::Response dump_lines(const std::string& id, const std::string& dump_id, const std::string& query);
    // The session, description and pages of a dump route's dump: kInvalidArgument for a bad or
    // "all" session id and a dump id that is not canonical decimal, kNotFound naming an unknown one.
    struct FoundDump {
        SessionView view;
        flight::Dump dump;
        record::Recording recording;
    };
    Result<FoundDump> find_dump(const std::string& id, const std::string& dump_id);

    PodDb& pods_;
    HookRegistry& hooks_;
    SessionManager& sessions_;
    NodeMetrics& metrics_;
    std::atomic<bool> ready_{false};
    std::string node_name_;
    std::shared_ptr<StreamHub> stream_hub_;
    std::shared_ptr<const ExporterSet> exporters_;
    std::shared_ptr<record::Recorder> recorder_;
    std::shared_ptr<flight::DumpStore> dumps_;
    std::uint64_t max_ring_ = api::kDefaultMaxRingBytes;
};

}  // namespace ct::node
