#include "tracer-svc/api/svc_metrics.h"

#include <prometheus/text_serializer.h>

#include "common/http_server.h"

namespace ct::svc {

namespace {

void add_delta(prometheus::Counter& c, std::uint64_t now, std::uint64_t before) {
    if (now > before) c.Increment(static_cast<double>(now - before));
}

}  // namespace

SvcMetrics::SvcMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      nodes_(prometheus::BuildGauge().Name("tracer_svc_nodes").Help("Tracer nodes in the directory").Register(*registry_).Add({})),
      connects_(prometheus::BuildCounter()
                    .Name("tracer_svc_node_connects_total")
                    .Help("TCP connections opened to nodes")
                    .Register(*registry_)
                    .Add({})),
      reused_(prometheus::BuildCounter()
                  .Name("tracer_svc_node_reused_total")
                  .Help("Node exchanges on a kept-alive connection")
                  .Register(*registry_)
                  .Add({})),
      node_failures_(prometheus::BuildCounter()
                         .Name("tracer_svc_node_failures_total")
                         .Help("Node exchanges that failed or timed out")
                         .Register(*registry_)),
      requests_(prometheus::BuildCounter()
                    .Name("tracer_svc_http_requests_total")
                    .Help("HTTP requests served")
                    .Register(*registry_)),
      limit_rejections_(prometheus::BuildCounter()
                            .Name("tracer_svc_limit_rejections_total")
                            .Help("Requests refused because a configured limit was reached")
                            .Register(*registry_)),
      node_streams_(prometheus::BuildGauge()
                        .Name("tracer_svc_stream_node_streams")
                        .Help("Live streams open to nodes (one per followed session)")
                        .Register(*registry_)
                        .Add({})),
      stream_readers_(prometheus::BuildGauge()
                          .Name("tracer_svc_stream_readers")
                          .Help("Clients following live streams")
                          .Register(*registry_)
                          .Add({})),
      stream_events_(prometheus::BuildCounter()
                         .Name("tracer_svc_stream_events_total")
                         .Help("Live-stream events sent to readers, or dropped for readers that fell behind")
                         .Register(*registry_)),
      stream_sent_(stream_events_.Add({{"kind", "sent"}})),
      stream_dropped_(stream_events_.Add({{"kind", "dropped"}})) {
    for (const char* kind : {"body", "header", "connections", "address", "timeout"})
        limit_rejections_.Add({{"limit", kind}});
}

void SvcMetrics::observe_request(const std::string& route, const std::string& method, int status) {
    requests_.Add({{"route", route}, {"method", http::metric_method(method)}, {"status", std::to_string(status)}})
        .Increment();
    if (route.starts_with(http::kLimitRoutePrefix))
        limit_rejections_.Add({{"limit", route.substr(http::kLimitRoutePrefix.size())}}).Increment();
}

void SvcMetrics::count_node_failure(const std::string& node) { node_failures_.Add({{"node", node}}).Increment(); }

std::string SvcMetrics::serialize(size_t nodes, const FanoutClient::Stats& fanout, const StreamRelay::Stats& streams) {
    nodes_.Set(static_cast<double>(nodes));
    node_streams_.Set(static_cast<double>(streams.node_streams));
    stream_readers_.Set(static_cast<double>(streams.readers));
    {
        std::lock_guard lock(mu_);
        add_delta(connects_, fanout.connects, last_.connects);
        add_delta(reused_, fanout.reused, last_.reused);
        last_ = fanout;
        add_delta(stream_sent_, streams.sent, last_streams_.sent);
        add_delta(stream_dropped_, streams.dropped, last_streams_.dropped);
        last_streams_ = streams;
    }
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace ct::svc
