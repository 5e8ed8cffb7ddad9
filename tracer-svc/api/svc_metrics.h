// SvcMetrics: tracer-svc's Prometheus metrics (prometheus-cpp core, as tracer-node's; served as
// text on /metrics). Thread-safe. docs/tracer-svc.md lists them:
//   tracer_svc_nodes                                  gauge: nodes in the directory
//   tracer_svc_node_connects_total                    counter: connections opened to nodes
//   tracer_svc_node_reused_total                      counter: node exchanges on a kept-alive connection
//   tracer_svc_node_failures_total{node}              counter: node exchanges that failed or timed out
//   tracer_svc_http_requests_total{route,method,status} counter: requests served
//   tracer_svc_limit_rejections_total{limit}          counter: requests refused by a limit
//       (body | header | connections | address | timeout present from start, others as they happen)
//   tracer_svc_stream_node_streams                    gauge: live streams open to nodes
//   tracer_svc_stream_readers                         gauge: clients following live streams
//   tracer_svc_stream_events_total{kind}              counter: live-stream events sent | dropped
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "tracer-svc/api/stream_proxy.h"
#include "tracer-svc/fanout/fanout_client.h"

namespace ct::svc {

class SvcMetrics {
public:
    SvcMetrics();
    // One HTTP request finished; the server's own rejections (route "limit:<kind>") also count as
    // a limit rejection.
    void observe_request(const std::string& route, const std::string& method, int status);
    void count_node_failure(const std::string& node);
    // The text exposition, with the directory's size, the fan-out's and the stream relay's totals
    // as they are now.
    std::string serialize(size_t nodes, const FanoutClient::Stats& fanout, const StreamRelay::Stats& streams);

private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Gauge& nodes_;
    prometheus::Counter& connects_;
    prometheus::Counter& reused_;
    prometheus::Family<prometheus::Counter>& node_failures_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Counter>& limit_rejections_;
    prometheus::Gauge& node_streams_;
    prometheus::Gauge& stream_readers_;
    prometheus::Family<prometheus::Counter>& stream_events_;
    prometheus::Counter& stream_sent_;
    prometheus::Counter& stream_dropped_;

    std::mutex mu_;  // guards last_, last_streams_ (serialize() from concurrent scrapes)
    FanoutClient::Stats last_;
    StreamRelay::Stats last_streams_;
};

}  // namespace ct::svc
