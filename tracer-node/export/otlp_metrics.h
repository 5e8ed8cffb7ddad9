// OTLP metrics of statistics sessions (docs/hooks.md "Statistics hooks"): their syscall counts as
// an OTLP/HTTP JSON ExportMetricsServiceRequest (encode_metrics_request: pure), and
// OtlpMetricsExporter, which POSTs every session's latest counts to <endpoint>/v1/metrics.
// Metrics, cumulative from the run's start, one resource per container (k8s.* attributes as for
// spans), data points with "syscall" and "ct.session":
//   container_tracer.syscalls          sum, monotonic, unit {call}
//   container_tracer.syscall.errors    sum, monotonic, unit {call}, one point per errno ("errno")
//   container_tracer.syscall.duration  histogram, unit s, bounds stats::metric_bounds_ns()
// Thread-safety: OtlpMetricsExporter's methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tracer-node/export/exporter.h"
#include "tracer-node/export/otlp_exporter.h"

namespace ct::node {

namespace otlp {

struct SessionCounts {
    std::string session_id;
    StatsUpdate update;
};

std::string encode_metrics_request(const std::string& node_name, const std::vector<SessionCounts>& sessions);

// "<base>/v1/metrics" for an endpoint whose traces path is "<base>/v1/traces".
std::string metrics_path(const OtlpEndpoint& endpoint);

}  // namespace otlp

struct OtlpMetricsOptions {
    OtlpEndpoint endpoint;
    std::string node_name;
    std::chrono::milliseconds flush_interval{1000};
    int max_final_attempts = 5;  // a run's last snapshot is retried; running ones are superseded
    std::chrono::milliseconds request_timeout{5000};
};

// Sends the latest snapshot of each statistics session at most once per flush_interval, one
// POST for all of them. Counts per session: exported = snapshots the receiver accepted,
// dropped = final snapshots given up, errors = failed POSTs it was in.
class OtlpMetricsExporter : public Exporter {
public:
    explicit OtlpMetricsExporter(OtlpMetricsOptions options);
    ~OtlpMetricsExporter() override;  // one last attempt for what is pending
    OtlpMetricsExporter(const OtlpMetricsExporter&) = delete;
    OtlpMetricsExporter& operator=(const OtlpMetricsExporter&) = delete;

    std::string name() const override;
    std::string kind() const override { return "otlp-metrics"; }
    void export_events(const EventContext&, std::span<const EnrichedEvent>) override {}
    void export_stats(const EventContext& context, const StatsUpdate& update) override;
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

private:
    struct Pending {
        StatsUpdate update;
        int attempts = 0;
    };
    void sender_loop();
    // One POST of `batch`; updates the counts and puts back finals worth another try.
    void send(std::map<std::string, Pending> batch);

    OtlpMetricsOptions options_;
    std::string path_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, Pending> pending_;        // session id -> latest unsent snapshot
    std::map<std::string, ExportCounts> counts_;    // session id -> its counts
    ExportCounts total_;
    bool stopping_ = false;
    std::thread sender_;  // last: started after everything it uses
};

}  // namespace ct::node
