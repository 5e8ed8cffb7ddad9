#include "tracer-node/api/metrics.h"

#include <malloc.h>

#include <algorithm>

#include <prometheus/text_serializer.h>

#include "common/http_server.h"
#include "tracer-node/api/stats_metrics.h"

namespace ct::node {

namespace {

std::vector<std::pair<const char*, std::uint64_t>> kinds_of(const SessionStats& s) {
    return {{"delivered", s.delivered}, {"lost", s.lost},         {"overrun", s.overrun},
            {"dropped", s.dropped},     {"unparsed", s.unparsed}, {"queue_dropped", s.queue_dropped},
            {"out_of_scope", s.out_of_scope}};
}

void add_delta(prometheus::Counter& c, std::uint64_t now, std::uint64_t before) {
    if (now > before) c.Increment(static_cast<double>(now - before));
}

}  // namespace

NodeMetrics::NodeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("container_tracer_http_requests_total")
                    .Help("HTTP requests served, by route, method and status")
                    .Register(*registry_)),
      sessions_(prometheus::BuildGauge()
                    .Name("container_tracer_sessions")
                    .Help("Trace sessions by state")
                    .Register(*registry_)),
      session_events_(prometheus::BuildGauge()
                          .Name("container_tracer_session_events")
                          .Help("Events of one trace session: delivered, or lost and where")
                          .Register(*registry_)),
      events_total_(prometheus::BuildCounter()
                        .Name("container_tracer_events_total")
                        .Help("Events of all trace sessions: delivered, or lost and where")
                        .Register(*registry_)),
      exported_(prometheus::BuildCounter()
                    .Name("container_tracer_exported_events_total")
                    .Help("Events each exporter sent on")
                    .Register(*registry_)),
      export_dropped_(prometheus::BuildCounter()
                          .Name("container_tracer_export_dropped_events_total")
                          .Help("Events each exporter dropped (full queues: slow stream readers, endpoint down)")
                          .Register(*registry_)),
      export_errors_(prometheus::BuildCounter()
                         .Name("container_tracer_export_errors_total")
                         .Help("Failed export attempts")
                         .Register(*registry_)),
      cache_evictions_(prometheus::BuildCounter()
                           .Name("container_tracer_capture_cache_evictions_total")
                           .Help("Per-task capture cache entries pushed out by their bound (names, owners)")
                           .Register(*registry_)),
      limit_rejections_(prometheus::BuildCounter()
                            .Name("container_tracer_limit_rejections_total")
                            .Help("Requests refused because a configured limit was reached, by limit")
                            .Register(*registry_)),
      heap_(prometheus::BuildGauge()
                .Name("container_tracer_heap_bytes")
                .Help("C heap bytes: in_use = allocated and not freed, free = kept by the allocator")
                .Register(*registry_)),
      stream_readers_(prometheus::BuildGauge()
                          .Name("container_tracer_stream_readers")
                          .Help("Live stream readers (GET .../trace) of all sessions")
                          .Register(*registry_)),
      dumps_removed_(prometheus::BuildCounter()
                         .Name("container_tracer_dumps_removed_total")
                         .Help("Flight-recorder dumps removed for --dump-limit (the oldest of their session)")
                         .Register(*registry_)),
      dumps_kept_(prometheus::BuildGauge()
                      .Name("container_tracer_dumps")
                      .Help("Flight-recorder dumps kept now, of all sessions")
                      .Register(*registry_)) {
    stream_readers_.Add({});
    dumps_removed_.Add({});
    dumps_kept_.Add({});
    for (auto kind : kLimitKinds) limit_rejections_.Add({{"limit", std::string(kind)}});
}

void NodeMetrics::observe_request(const std::string& route, const std::string& method, int status) {
    requests_.Add({{"route", route}, {"method", http::metric_method(method)}, {"status", std::to_string(status)}}).Increment();
    if (route.starts_with(http::kLimitRoutePrefix))
        count_limit(std::string_view(route).substr(http::kLimitRoutePrefix.size()));
}

void NodeMetrics::count_limit(std::string_view limit) {
    limit_rejections_.Add({{"limit", std::string(limit)}}).Increment();
}

void NodeMetrics::set_sessions(size_t total, size_t running) {
    sessions_.Add({{"state", "running"}}).Set(static_cast<double>(running));
    sessions_.Add({{"state", "stopped"}}).Set(static_cast<double>(total - running));
}

void NodeMetrics::update_sessions(const std::vector<SessionView>& sessions) {
    std::lock_guard lock(mutex_);
    std::map<std::string, SessionStats> now;
    size_t running = 0;
    for (const auto& v : sessions) {
        auto id = std::to_string(v.id);
        running += v.running;
        const SessionStats before = last_sessions_.contains(id) ? last_sessions_[id] : SessionStats{};
        auto cur = kinds_of(v.stats);
        auto old = kinds_of(before);
        for (size_t i = 0; i < cur.size(); ++i) {
            session_events_.Add({{"session", id}, {"kind", cur[i].first}}).Set(static_cast<double>(cur[i].second));
            add_delta(events_total_.Add({{"kind", cur[i].first}}), cur[i].second, old[i].second);
        }
        add_delta(cache_evictions_.Add({}), v.stats.cache_evictions, before.cache_evictions);
        now[id] = v.stats;
    }
    // Deleted sessions: drop their series.
    for (const auto& [id, stats] : last_sessions_) {
        if (now.contains(id)) continue;
        for (const auto& [kind, value] : kinds_of(stats))
            session_events_.Remove(&session_events_.Add({{"session", id}, {"kind", kind}}));
    }
    last_sessions_ = std::move(now);
    sessions_.Add({{"state", "running"}}).Set(static_cast<double>(running));
    sessions_.Add({{"state", "stopped"}}).Set(static_cast<double>(sessions.size() - running));
}

void NodeMetrics::update_exporters(const std::map<std::string, ExportCounts>& totals) {
    std::lock_guard lock(mutex_);
    for (const auto& [kind, c] : totals) {
        const auto before = last_exporters_[kind];
        add_delta(exported_.Add({{"exporter", kind}}), c.exported, before.exported);
        add_delta(export_dropped_.Add({{"exporter", kind}}), c.dropped, before.dropped);
        add_delta(export_errors_.Add({{"exporter", kind}}), c.errors, before.errors);
        last_exporters_[kind] = c;
    }
}

void NodeMetrics::set_stream_readers(std::size_t readers) {
    stream_readers_.Add({}).Set(static_cast<double>(readers));
}

void NodeMetrics::update_dumps(std::uint64_t removed, std::size_t kept) {
    std::lock_guard lock(mutex_);
    add_delta(dumps_removed_.Add({}), removed, last_dumps_removed_);
    last_dumps_removed_ = std::max(removed, last_dumps_removed_);
    dumps_kept_.Add({}).Set(static_cast<double>(kept));
}

void NodeMetrics::update_heap() {
    // Main arena + mmapped chunks + other arenas: uordblks counts what is allocated in the
    // arenas, hblkhd what is allocated as separate mappings; fordblks is free inside arenas.
    const struct mallinfo2 m = ::mallinfo2();
    heap_.Add({{"state", "in_use"}}).Set(static_cast<double>(m.uordblks + m.hblkhd));
    heap_.Add({{"state", "free"}}).Set(static_cast<double>(m.fordblks));
}

void NodeMetrics::update_syscall_stats(const std::vector<SessionManager::RunningCounts>& runs) {
    std::vector<StatsUpdate> updates;
    for (const auto& r : runs) updates.push_back(r.update);
    auto families = syscall_metric_families(updates);
    std::lock_guard lock(mutex_);
    syscall_families_ = std::move(families);
}

std::string NodeMetrics::serialize() const {
    prometheus::TextSerializer serializer;
    auto families = registry_->Collect();
    {
        std::lock_guard lock(mutex_);
        families.insert(families.end(), syscall_families_.begin(), syscall_families_.end());
    }
    return serializer.Serialize(families);
}

}  // namespace ct::node
