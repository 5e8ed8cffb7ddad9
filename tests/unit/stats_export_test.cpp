// Statistics sessions' pure parts on tracer-node and tracer-svc: groups to containers and the
// /stats answer, the metrics histogram, the Prometheus series, the OTLP metrics request, and
// tracer-svc summing nodes' answers.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <prometheus/text_serializer.h>

#include "common/syscall_stats.h"
#include "tracer-node/api/stats_metrics.h"
#include "tracer-node/export/otlp_metrics.h"
#include "tracer-node/stats/stats_run.h"
#include "tracer-svc/merge/merge.h"

using namespace ct;
using namespace ct::node;
namespace json = boost::json;

namespace {

stats::SyscallCounts counts(uint64_t n, uint64_t errors, std::map<uint64_t, uint64_t> histogram,
                            std::map<std::string, uint64_t> errnos = {}) {
    stats::SyscallCounts c;
    c.count = n;
    c.errors = errors;
    c.total_ns = 1000 * n;
    c.histogram = std::move(histogram);
    c.errno_counts = std::move(errnos);
    return c;
}

const EventOwner kWeb{"web-1", "shop", "nginx", "c0ffee"};
const EventOwner kSidecar{"web-1", "shop", "envoy", "beef"};
const EventOwner kOtherWeb{"web-1", "test", "nginx", "f00d"};  // same pod name, other namespace

}  // namespace

TEST_CASE("statistics: groups add up per container, unknown groups are left out", "[unit]") {
    stats::Snapshot s;
    s.groups[10]["read"] = counts(5, 0, {{128, 5}});
    s.groups[11]["read"] = counts(3, 1, {{256, 3}}, {{"EAGAIN", 1}});
    s.groups[12]["write"] = counts(2, 0, {{512, 2}});
    s.groups[99]["read"] = counts(7, 0, {{128, 7}});  // a process the run did not start with
    GroupOwners owners{{10, kWeb}, {11, kWeb}, {12, kSidecar}};

    uint64_t unowned = 0;
    auto by = by_container(s, owners, &unowned);
    CHECK(unowned == 1);
    REQUIRE(by.size() == 2);
    CHECK(by[0].owner == kWeb);
    CHECK(by[0].table.at("read").count == 8);
    CHECK(by[0].table.at("read").histogram == std::map<uint64_t, uint64_t>{{128, 5}, {256, 3}});
    CHECK(by[0].table.at("read").errno_counts.at("EAGAIN") == 1);
    CHECK(by[1].owner == kSidecar);

    auto answer = pod_stats(by);
    CHECK(answer.size() == 1);
    CHECK(answer.at("web-1").size() == 2);
    CHECK(answer.at("web-1").at("envoy").at("write").count == 2);

    // A pod name another namespace already took is keyed "<namespace>/<name>", as /v1/pods does.
    by.push_back({kOtherWeb, {{"read", counts(1, 0, {{128, 1}})}}});
    auto both = pod_stats(by);
    CHECK(both.at("web-1").at("nginx").at("read").count == 8);
    CHECK(both.at("test/web-1").at("nginx").at("read").count == 1);
}

TEST_CASE("statistics: log2 buckets fold into the metrics bounds exactly", "[unit]") {
    auto bounds = stats::metric_bounds_ns();
    REQUIRE(bounds.size() == 14);
    CHECK(bounds.front() == 256);
    CHECK(bounds[1] == 1024);
    CHECK(bounds.back() == uint64_t{1} << 34);
    auto c = counts(10, 0, {{1, 1}, {256, 2}, {512, 3}, {1024, 1}, {uint64_t{1} << 40, 3}});
    auto per = stats::rebucket(c, bounds);
    REQUIRE(per.size() == 15);
    CHECK(per[0] == 3);   // <= 256 ns
    CHECK(per[1] == 4);   // (256, 1024]
    CHECK(per[14] == 3);  // beyond 17.2 s
    uint64_t sum = 0;
    for (auto n : per) sum += n;
    CHECK(sum == c.count);
}

TEST_CASE("statistics: Prometheus series per container and syscall, one per container", "[unit]") {
    StatsUpdate a{.start_unix_ns = 1, .time_unix_ns = 2};
    a.containers.push_back({kWeb, {{"openat", counts(4, 3, {{512, 1}, {2048, 3}}, {{"ENOENT", 3}})}}});
    // Another running session counting the same container: the series with more calls wins.
    StatsUpdate b = a;
    b.containers[0].table["openat"] = counts(6, 3, {{512, 6}}, {{"ENOENT", 3}});
    auto text = prometheus::TextSerializer().Serialize(syscall_metric_families({a, b}));
    INFO(text);
    const std::string labels = R"({namespace="shop",pod="web-1",container="nginx",syscall="openat"})";
    CHECK(text.find("# TYPE container_tracer_syscalls_total counter\n") != std::string::npos);
    CHECK(text.find("container_tracer_syscalls_total" + labels + " 6\n") != std::string::npos);
    CHECK(text.find("container_tracer_syscall_errors_total" + labels + " 3\n") != std::string::npos);
    CHECK(text.find("container_tracer_syscall_duration_seconds_count" + labels + " 6\n") != std::string::npos);
    CHECK(text.find("container_tracer_syscall_duration_seconds_sum" + labels + " 6e-06\n") != std::string::npos);
    CHECK(text.find(R"(container_tracer_syscall_duration_seconds_bucket{namespace="shop",pod="web-1",container="nginx",)"
                    R"(syscall="openat",le="1.024e-06"} 6)") != std::string::npos);
    CHECK(text.find(R"(syscall="openat",le="+Inf"} 6)") != std::string::npos);
    CHECK(syscall_metric_families({}).at(0).metric.empty());
}

TEST_CASE("statistics: OTLP metrics request shape", "[unit]") {
    StatsUpdate u{.start_unix_ns = 1000, .time_unix_ns = 2000, .final = true};
    u.containers.push_back({kWeb, {{"openat", counts(4, 3, {{512, 1}, {2048, 3}}, {{"ENOENT", 3}})}}});
    auto body = json::parse(otlp::encode_metrics_request("node-1", {{"42", u}}));
    const auto& rm = body.at("resourceMetrics").at(0);
    auto resource = json::serialize(rm.at("resource"));
    CHECK(resource.find(R"({"key":"k8s.pod.name","value":{"stringValue":"web-1"}})") != std::string::npos);
    CHECK(resource.find(R"({"key":"k8s.node.name","value":{"stringValue":"node-1"}})") != std::string::npos);
    const auto& metrics = rm.at("scopeMetrics").at(0).at("metrics").as_array();
    REQUIRE(metrics.size() == 3);

    CHECK(metrics[0].at("name") == "container_tracer.syscalls");
    CHECK(metrics[0].at("sum").at("isMonotonic") == true);
    CHECK(metrics[0].at("sum").at("aggregationTemporality") == 2);
    const auto& calls = metrics[0].at("sum").at("dataPoints").at(0);
    CHECK(calls.at("asInt") == "4");
    CHECK(calls.at("startTimeUnixNano") == "1000");
    CHECK(calls.at("timeUnixNano") == "2000");
    CHECK(json::serialize(calls.at("attributes")) ==
          R"([{"key":"syscall","value":{"stringValue":"openat"}},{"key":"ct.session","value":{"stringValue":"42"}}])");

    const auto& errors = metrics[1].at("sum").at("dataPoints").at(0);
    CHECK(errors.at("asInt") == "3");
    CHECK(json::serialize(errors.at("attributes")).find(R"({"key":"errno","value":{"stringValue":"ENOENT"}})") !=
          std::string::npos);

    CHECK(metrics[2].at("unit") == "s");
    const auto& h = metrics[2].at("histogram").at("dataPoints").at(0);
    CHECK(h.at("count") == "4");
    CHECK(h.at("sum").as_double() == Approx(4e-6));
    CHECK(h.at("explicitBounds").as_array().size() == 14);
    auto buckets = h.at("bucketCounts").as_array();
    REQUIRE(buckets.size() == 15);
    CHECK(buckets[1] == "1");  // 512 ns: (256, 1024]
    CHECK(buckets[2] == "3");  // 2048 ns: (1024, 4096]

    OtlpEndpoint ep{"collector", 4318, "/base/v1/traces"};
    CHECK(otlp::metrics_path(ep) == "/base/v1/metrics");
}

TEST_CASE("tracer-svc sums nodes' statistics answers", "[unit]") {
    auto answer = [](uint64_t n) {
        stats::PodStats p{{"web-1", {{"nginx", {{"read", counts(n, 0, {{128, n}})}}}}}};
        return json::serialize(stats::to_json(p));
    };
    using svc::NodeReply;
    auto merged = svc::merge_stats({NodeReply{.node = "a", .status = 200, .body = answer(3)},
                                    NodeReply{.node = "b", .status = 200, .body = answer(4)},
                                    NodeReply{.node = "c", .status = 404, .body = R"({"error":"not found"})"}});
    REQUIRE(merged.response.status == 200);
    auto total = stats::parse_pod_stats(json::parse(merged.response.body));
    REQUIRE(total);
    CHECK(total->at("web-1").at("nginx").at("read").count == 7);
    CHECK(total->at("web-1").at("nginx").at("read").histogram.at(128) == 7);
    CHECK(merged.failed.empty());

    auto conflict = svc::merge_stats({NodeReply{.node = "a", .status = 409, .body = R"({"error":"no statistics"})"}});
    CHECK(conflict.response.status == 409);
    auto broken = svc::merge_stats({NodeReply{.node = "a", .status = 200, .body = R"({"web-1":[]})"}});
    CHECK(broken.response.status == 502);
    REQUIRE(broken.failed.size() == 1);
    CHECK(broken.failed[0].find("not a stats answer") != std::string::npos);
}
