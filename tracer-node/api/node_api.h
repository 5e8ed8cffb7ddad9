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
#include "tracer-node/hooks/hook_registry.h"
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
    http::Response session_statistics(const std::string& id);

    PodDb& pods_;
    HookRegistry& hooks_;
    SessionManager& sessions_;
    NodeMetrics& metrics_;
    std::atomic<bool> ready_{false};
    std::shared_ptr<StreamHub> stream_hub_;
    std::shared_ptr<const ExporterSet> exporters_;
};

}  // namespace ct::node
