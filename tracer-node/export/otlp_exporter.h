// OtlpExporter: sends each session run to an OpenTelemetry collector as a trace (OTLP/HTTP JSON,
// POST <endpoint>/v1/traces): the run is the root span, each paired syscall a child span
// (encoding: otlp_encode.h); a flight-recorder dump is a span of its own trace. Capture threads
// only pair events and queue spans (bounded queue: spans beyond it are dropped and counted; a
// run's root span and a dump's span always go in); one sender thread batches them (max_batch spans or
// flush_interval) and POSTs with bounded exponential back-off. Counts, per session and in total:
// exported = spans the receiver accepted (2xx), dropped = queue overflow or retries exhausted,
// errors = failed POSTs (each attempt).
// Thread-safety: every method may be called from any thread. Destruction stops the sender after
// one last attempt to send what is queued.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "common/result.h"
#include "tracer-node/export/exporter.h"
#include "tracer-node/export/otlp_encode.h"

namespace ct::node {

struct OtlpEndpoint {
    std::string host;
    unsigned short port = 0;
    std::string traces_path = "/v1/traces";  // endpoint's path + /v1/traces
};

// Parses "http://host:port[/base]". Pure. Errors (kInvalidArgument): https (not supported yet),
// another scheme, a missing host or port.
Result<OtlpEndpoint> parse_otlp_endpoint(const std::string& url);

struct OtlpExporterOptions {
    OtlpEndpoint endpoint;
    std::string node_name;
    std::size_t max_queue_spans = 65536;
    std::size_t max_batch = 512;
    std::chrono::milliseconds flush_interval{1000};
    int max_attempts = 5;
    std::chrono::milliseconds initial_backoff{100};  // doubles per attempt
    std::chrono::milliseconds max_backoff{2000};
    std::chrono::milliseconds request_timeout{5000};
};

class OtlpExporter : public Exporter {
public:
    explicit OtlpExporter(OtlpExporterOptions options);
    ~OtlpExporter() override;
    OtlpExporter(const OtlpExporter&) = delete;
    OtlpExporter& operator=(const OtlpExporter&) = delete;

    std::string name() const override;
    std::string kind() const override { return "otlp"; }
    void on_run_start(const EventContext& context) override;
    void on_run_stop(const EventContext& context) override;
    void export_events(const EventContext& context, std::span<const EnrichedEvent> events) override;
    void export_dump(const EventContext& context, const DumpRecord& dump) override;
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

private:
    struct Counts {
        std::atomic<std::uint64_t> exported{0}, dropped{0}, errors{0};
    };
    struct Run {
        otlp::SpanBuilder builder;
        std::uint64_t start_unix_ns;
    };
    struct Queued {
        otlp::Span span;
        std::shared_ptr<Counts> counts;  // of its session
    };

    std::shared_ptr<Counts> counts_of(const std::string& session_id);  // mutex_ held
    std::uint64_t random_id();                                          // mutex_ held
    void enqueue(std::vector<otlp::Span>& spans, const std::shared_ptr<Counts>& counts, bool force);  // mutex_ held
    void sender_loop();
    // Sends one batch with retries; false when given up.
    bool send_batch(std::vector<Queued>& batch, int max_attempts);

    OtlpExporterOptions options_;
    std::int64_t clock_offset_ns_;  // CLOCK_REALTIME - CLOCK_MONOTONIC at construction

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::unordered_map<std::string, std::unique_ptr<Run>> runs_;  // session id -> running run
    std::unordered_map<std::string, std::shared_ptr<Counts>> counts_;
    std::deque<Queued> queue_;
    bool stopping_ = false;
    std::mt19937_64 rng_;
    Counts total_;
    std::thread sender_;  // last: started after everything it uses
};

}  // namespace ct::node
