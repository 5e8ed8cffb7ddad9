// NodeMetrics: tracer-node's Prometheus metrics (prometheus-cpp core, served as text on
// /metrics by our own HTTP server). All methods are thread-safe.
// Session and exporter figures are refreshed from their owners at scrape time (update_*):
//   container_tracer_sessions{state}                       gauge
//   container_tracer_session_events{session,kind}          gauge: the session's Stats now
//       kind = delivered | lost | overrun | dropped | unparsed | queue_dropped | out_of_scope
//   container_tracer_events_total{kind}                    counter over every session ever
//       scraped (a session deleted between two scrapes misses its last increment)
//   container_tracer_capture_cache_evictions_total         counter: per-task capture cache entries
//       pushed out by their bound (a fork-heavy session with more live tasks than the bound)
//   container_tracer_exported_events_total{exporter}       counter
//   container_tracer_export_dropped_events_total{exporter} counter
//   container_tracer_export_errors_total{exporter}         counter
//   container_tracer_http_requests_total{route,method,status} counter
//   container_tracer_limit_rejections_total{limit}          counter: requests refused by a limit
//       limit = body | header | connections | sessions | streams (each series present from start)
//   container_tracer_syscalls_total, _syscall_errors_total, _syscall_duration_seconds: running
//       statistics sessions' counts (api/stats_metrics.h), replaced at each update
//   container_tracer_stream_readers                        gauge: live stream readers of all sessions
//       (GET .../trace); tracer-svc holds one per session it relays
//   container_tracer_dumps_removed_total                  counter: flight-recorder dumps removed for
//       --dump-limit (DumpStore::removed())
//   container_tracer_dumps                                 gauge: flight-recorder dumps kept now
//   container_tracer_heap_bytes{state}                      gauge: the C heap (glibc mallinfo2)
//       state = in_use (allocated, not yet freed) | free (held by the allocator, not returned);
//       resident memory above in_use is the allocator's and the stacks', not a leak
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "tracer-node/export/exporter.h"
#include "tracer-node/sessions/session.h"
#include "tracer-node/sessions/session_manager.h"

namespace ct::node {

class NodeMetrics {
public:
    NodeMetrics();
    // One HTTP request finished. The server's own rejections (route "limit:<kind>") also count
    // as a limit rejection.
    void observe_request(const std::string& route, const std::string& method, int status);
    // A request refused by a limit: one of kLimitKinds.
    void count_limit(std::string_view limit);
    static constexpr std::array<std::string_view, 7> kLimitKinds = {"body",    "header",   "connections", "address",
                                                                      "timeout", "sessions", "streams"};
    void set_sessions(size_t total, size_t running);
    // The sessions as they are now (all of them): per-session gauges, totals by increments.
    void update_sessions(const std::vector<SessionView>& sessions);
    // Each exporter's totals since start (ExporterSet::total_counts()).
    void update_exporters(const std::map<std::string, ExportCounts>& totals);
    // The running statistics runs' latest counts (SessionManager::running_statistics()).
    void update_syscall_stats(const std::vector<SessionManager::RunningCounts>& runs);
    // Live stream readers of all sessions now (StreamHub::readers()).
    void set_stream_readers(std::size_t readers);
    // The flight recorders' dumps: removed for the limit since start, and kept now.
    void update_dumps(std::uint64_t removed, std::size_t kept);
    // The allocator's figures now (mallinfo2 walks every arena: once per scrape, not per event).
    void update_heap();
    prometheus::Registry& registry() { return *registry_; }
    std::string serialize() const;

private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Gauge>& sessions_;
    prometheus::Family<prometheus::Gauge>& session_events_;
    prometheus::Family<prometheus::Counter>& events_total_;
    prometheus::Family<prometheus::Counter>& exported_;
    prometheus::Family<prometheus::Counter>& export_dropped_;
    prometheus::Family<prometheus::Counter>& export_errors_;
    prometheus::Family<prometheus::Counter>& cache_evictions_;
    prometheus::Family<prometheus::Counter>& limit_rejections_;
    prometheus::Family<prometheus::Gauge>& heap_;
    prometheus::Family<prometheus::Gauge>& stream_readers_;
    prometheus::Family<prometheus::Counter>& dumps_removed_;
    prometheus::Family<prometheus::Gauge>& dumps_kept_;

    mutable std::mutex mutex_;  // guards the last-seen values below
    std::map<std::string, SessionStats> last_sessions_;    // session id -> Stats at the last update
    std::map<std::string, ExportCounts> last_exporters_;  // exporter kind -> totals at the last update
    std::uint64_t last_dumps_removed_ = 0;
    std::vector<prometheus::MetricFamily> syscall_families_;  // built by update_syscall_stats
};

}  // namespace ct::node
