#include "tracer-node/export/otlp_metrics.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_client.h"

namespace ct::node {

namespace json = boost::json;

namespace otlp {

namespace {

constexpr int kCumulative = 2;  // AggregationTemporality AGGREGATION_TEMPORALITY_CUMULATIVE

json::object point(const std::vector<Attribute>& attributes, const StatsUpdate& u) {
    return json::object{{"attributes", attributes_json(attributes)},
                        {"startTimeUnixNano", std::to_string(u.start_unix_ns)},
                        {"timeUnixNano", std::to_string(u.time_unix_ns)}};
}

json::object sum_metric(std::string name, std::string description, json::array points) {
    return json::object{{"name", std::move(name)},
                        {"description", std::move(description)},
                        {"unit", "{call}"},
                        {"sum", json::object{{"aggregationTemporality", kCumulative},
                                             {"isMonotonic", true},
                                             {"dataPoints", std::move(points)}}}};
}

// The three metrics of one container's table in one session.
void add_points(const std::string& session_id, const StatsUpdate& u, const stats::SyscallTable& table,
                json::array& calls, json::array& errors, json::array& durations) {
    static const std::vector<std::uint64_t> kBounds = stats::metric_bounds_ns();
    for (const auto& [syscall, c] : table) {
        std::vector<Attribute> attrs{{"syscall", syscall}, {"ct.session", session_id}};
        auto p = point(attrs, u);
        p["asInt"] = std::to_string(c.count);
        calls.push_back(std::move(p));
        for (const auto& [errno_name, n] : c.errno_counts) {
            auto with_errno = attrs;
            with_errno.push_back({"errno", errno_name});
            auto e = point(with_errno, u);
            e["asInt"] = std::to_string(n);
            errors.push_back(std::move(e));
        }
        auto h = point(attrs, u);
        h["count"] = std::to_string(c.count);
        h["sum"] = static_cast<double>(c.total_ns) / 1e9;
        json::array bucket_counts, bounds;
        for (auto n : stats::rebucket(c, kBounds)) bucket_counts.push_back(json::value(std::to_string(n)));
        for (auto b : kBounds) bounds.push_back(static_cast<double>(b) / 1e9);
        h["bucketCounts"] = std::move(bucket_counts);
        h["explicitBounds"] = std::move(bounds);
        durations.push_back(std::move(h));
    }
}

}  // namespace

std::string encode_metrics_request(const std::string& node_name, const std::vector<SessionCounts>& sessions) {
    struct Metrics {
        json::array calls, errors, durations;
    };
    std::map<ResourceKey, Metrics> by_resource;
    for (const auto& s : sessions)
        for (const auto& c : s.update.containers) {
            auto& m = by_resource[ResourceKey{c.owner.pod, c.owner.pod_namespace, c.owner.container, c.owner.container_id}];
            add_points(s.session_id, s.update, c.table, m.calls, m.errors, m.durations);
        }
    json::array resource_metrics;
    for (auto& [key, m] : by_resource) {
        json::array metrics{
            sum_metric("container_tracer.syscalls", "System calls counted", std::move(m.calls)),
            sum_metric("container_tracer.syscall.errors", "System calls that returned an error, by errno",
                       std::move(m.errors)),
            json::object{{"name", "container_tracer.syscall.duration"},
                         {"description", "Time from system call entry to exit"},
                         {"unit", "s"},
                         {"histogram", json::object{{"aggregationTemporality", kCumulative},
                                                    {"dataPoints", std::move(m.durations)}}}}};
        json::object scope{{"scope", json::object{{"name", "container-tracer"}}}, {"metrics", std::move(metrics)}};
        resource_metrics.push_back(
            json::object{{"resource", json::object{{"attributes", attributes_json(resource_attributes(node_name, key))}}},
                         {"scopeMetrics", json::array{std::move(scope)}}});
    }
    return json::serialize(json::object{{"resourceMetrics", std::move(resource_metrics)}});
}

std::string metrics_path(const OtlpEndpoint& endpoint) {
    constexpr std::string_view kTraces = "/v1/traces";
    std::string_view base = endpoint.traces_path;
    if (base.ends_with(kTraces)) base.remove_suffix(kTraces.size());
    return std::string(base) + "/v1/metrics";
}

}  // namespace otlp

OtlpMetricsExporter::OtlpMetricsExporter(OtlpMetricsOptions options)
    : options_(std::move(options)), path_(otlp::metrics_path(options_.endpoint)) {
    sender_ = std::thread([this] { sender_loop(); });
}

OtlpMetricsExporter::~OtlpMetricsExporter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    sender_.join();
}

std::string OtlpMetricsExporter::name() const {
    return fmt::format("otlp-metrics:http://{}:{}{}", options_.endpoint.host, options_.endpoint.port, path_);
}

void OtlpMetricsExporter::export_stats(const EventContext& context, const StatsUpdate& update) {
    bool final = update.final;
    {
        std::lock_guard lock(mutex_);
        pending_[context.session_id] = Pending{update, 0};
        counts_[context.session_id];
    }
    if (final) wake_.notify_all();  // a run's end goes out now, not at the next tick
}

void OtlpMetricsExporter::sender_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait_for(lock, options_.flush_interval, [&] {
            return stopping_ || std::any_of(pending_.begin(), pending_.end(),
                                            [](const auto& p) { return p.second.update.final && p.second.attempts == 0; });
        });
        bool last = stopping_;
        auto batch = std::move(pending_);
        pending_.clear();
        lock.unlock();
        if (!batch.empty()) send(std::move(batch));
        lock.lock();
        if (last) return;
    }
}

void OtlpMetricsExporter::send(std::map<std::string, Pending> batch) {
    std::vector<otlp::SessionCounts> sessions;
    for (const auto& [id, p] : batch) sessions.push_back({id, p.update});
    http::ClientRequest request{.host = options_.endpoint.host,
                                .port = options_.endpoint.port,
                                .method = "POST",
                                .target = path_,
                                .body = otlp::encode_metrics_request(options_.node_name, sessions),
                                .headers = {{"Content-Type", "application/json"}},
                                .timeout = options_.request_timeout};
    auto response = http::send(request);
    bool ok = response && response->status / 100 == 2;
    if (!ok)
        spdlog::debug("OTLP metrics export to {} failed: {}", name(),
                      response ? fmt::format("HTTP {}: {}", response->status, response->body.substr(0, 200))
                               : response.error().message);
    std::lock_guard lock(mutex_);
    for (auto& [id, p] : batch) {
        auto& c = counts_[id];
        if (ok) {
            c.exported++;
            total_.exported++;
            continue;
        }
        c.errors++;
        total_.errors++;
        // Cumulative counts: a newer snapshot replaces this one. Only a final one is retried.
        if (!p.update.final || pending_.contains(id)) continue;
        if (++p.attempts < options_.max_final_attempts && !stopping_) {
            pending_[id] = std::move(p);
        } else {
            c.dropped++;
            total_.dropped++;
            spdlog::warn("OTLP metrics export to {} gave up on session {}'s final counts", name(), id);
        }
    }
}

ExportCounts OtlpMetricsExporter::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(session_id);
    return it == counts_.end() ? ExportCounts{} : it->second;
}

ExportCounts OtlpMetricsExporter::total_counts() const {
    std::lock_guard lock(mutex_);
    return total_;
}

void OtlpMetricsExporter::forget_session(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    counts_.erase(session_id);
    pending_.erase(session_id);
}

}  // namespace ct::node
