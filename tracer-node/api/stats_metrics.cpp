#include "tracer-node/api/stats_metrics.h"

#include <limits>
#include <map>
#include <tuple>

namespace ct::node {

namespace {

using SeriesKey = std::tuple<std::string, std::string, std::string, std::string>;  // ns, pod, container, syscall

std::vector<prometheus::ClientMetric::Label> labels_of(const SeriesKey& key) {
    const auto& [ns, pod, container, syscall] = key;
    return {{"namespace", ns}, {"pod", pod}, {"container", container}, {"syscall", syscall}};
}

prometheus::ClientMetric::Histogram histogram_of(const stats::SyscallCounts& c) {
    static const std::vector<std::uint64_t> kBounds = stats::metric_bounds_ns();
    prometheus::ClientMetric::Histogram h;
    h.sample_count = c.count;
    h.sample_sum = static_cast<double>(c.total_ns) / 1e9;
    auto per_bucket = stats::rebucket(c, kBounds);
    std::uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += per_bucket[i];
        h.bucket.push_back({cumulative, static_cast<double>(kBounds[i]) / 1e9});
    }
    h.bucket.push_back({c.count, std::numeric_limits<double>::infinity()});
    return h;
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type) {
    prometheus::MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

}  // namespace

std::vector<prometheus::MetricFamily> syscall_metric_families(const std::vector<StatsUpdate>& runs) {
    std::map<SeriesKey, const stats::SyscallCounts*> series;
    for (const auto& run : runs)
        for (const auto& c : run.containers)
            for (const auto& [syscall, counts] : c.table) {
                auto& slot = series[{c.owner.pod_namespace, c.owner.pod, c.owner.container, syscall}];
                if (!slot || counts.count > slot->count) slot = &counts;
            }
    auto calls = family("container_tracer_syscalls_total", "System calls counted by running statistics sessions",
                        prometheus::MetricType::Counter);
    auto errors = family("container_tracer_syscall_errors_total",
                         "System calls that returned an error, counted by running statistics sessions",
                         prometheus::MetricType::Counter);
    auto duration = family("container_tracer_syscall_duration_seconds",
                           "Time from system call entry to exit, counted by running statistics sessions",
                           prometheus::MetricType::Histogram);
    for (const auto& [key, counts] : series) {
        prometheus::ClientMetric m;
        m.label = labels_of(key);
        m.counter.value = static_cast<double>(counts->count);
        calls.metric.push_back(m);
        m.counter.value = static_cast<double>(counts->errors);
        errors.metric.push_back(m);
        m.counter = {};
        m.histogram = histogram_of(*counts);
        duration.metric.push_back(std::move(m));
    }
    return {std::move(calls), std::move(errors), std::move(duration)};
}

}  // namespace ct::node
