// ctrace's pure parts: durations, pod selectors, server URLs, tables, the API answers it reads,
// event rows, the containers-ended rule and the `top` arithmetic (docs/cli.md).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "cli/container_watch.h"
#include "cli/duration.h"
#include "cli/model.h"
#include "cli/render.h"
#include "cli/selector.h"
#include "cli/server_url.h"
#include "cli/table.h"
#include "cli/top_model.h"
#include "cli/top_run.h"

using namespace ct::cli;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("durations read as people type them", "[unit][cli]") {
    CHECK(parse_duration("30s").value() == 30s);
    CHECK(parse_duration("500ms").value() == 500ms);
    CHECK(parse_duration("2m").value() == 120s);
    CHECK(parse_duration("1h").value() == 3600s);
    CHECK(parse_duration("1m30s").value() == 90s);
    CHECK(parse_duration("1.5s").value() == 1500ms);
    CHECK(parse_duration(".5s").value() == 500ms);
    for (const char* bad : {"", "30", "s", "30x", "-1s", "0s", "0ms", "1.5", "10d", "1s30", ".s", "1e3s", "101h00000000000000000m"}) {
        INFO(bad);
        auto d = parse_duration(bad);
        REQUIRE_FALSE(d);
        CHECK_THAT(d.error().message, Catch::Contains(std::string("\"") + bad + "\""));
    }
    CHECK_THAT(parse_duration("30x").error().message, Catch::Contains("unknown unit \"x\""));
    CHECK_THAT(parse_duration("30").error().message, Catch::Contains("a unit must follow"));
    CHECK_THAT(parse_duration("2401h").error().message, Catch::Contains("100 days"));
}

TEST_CASE("pod selectors split into a namespace glob and a pod glob", "[unit][cli]") {
    auto plain = parse_pod_selector("web-*").value();
    CHECK(plain.namespace_glob.empty());
    CHECK(plain.pod_glob == "web-*");
    CHECK(plain.pattern() == "web-*");

    auto both = parse_pod_selector("shop/web-*").value();
    CHECK(both.namespace_glob == "shop");
    CHECK(both.pod_glob == "web-*");
    CHECK(both.pattern() == "shop/web-*");

    auto whole_ns = parse_pod_selector("kube-*/").value();
    CHECK(whole_ns.pattern() == "kube-*/*");

    for (const char* bad : {"", "a/b/c", "/web"}) {
        INFO(bad);
        CHECK_FALSE(parse_pod_selector(bad));
    }

    // Matching as tracer-node matches the session's "pod": a namespace only when one is given.
    CHECK(both.matches("web-1", "web-1", "shop"));
    CHECK_FALSE(both.matches("web-1", "web-1", "other"));
    CHECK_FALSE(both.matches("web-1", "web-1", ""));
    CHECK(plain.matches("web-1", "web-1", ""));
    CHECK(plain.matches("web-1", "web-1", "any"));
    CHECK_FALSE(plain.matches("db-1", "db-1", "shop"));
    CHECK(parse_pod_selector("*/web-1").value().matches("web-1", "web-1", ""));  // "*" matches no namespace too
}

TEST_CASE("server URLs: scheme, host, port and a base path", "[unit][cli]") {
    auto d = parse_server_url(kDefaultServer).value();
    CHECK_FALSE(d.tls);
    CHECK(d.host == "127.0.0.1");
    CHECK(d.port == 8080);
    CHECK(d.base_path.empty());

    auto s = parse_server_url("https://tracer.example/").value();
    CHECK(s.tls);
    CHECK(s.port == 443);
    CHECK(s.base_path.empty());
    CHECK(s.text == "https://tracer.example:443");

    auto bare = parse_server_url("node-1:9090").value();
    CHECK_FALSE(bare.tls);
    CHECK(bare.host == "node-1");
    CHECK(bare.port == 9090);

    auto v6 = parse_server_url("http://[::1]:8080/api/v1/namespaces/tracing/services/svc:8080/proxy/").value();
    CHECK(v6.host == "::1");
    CHECK(v6.port == 8080);
    CHECK(v6.base_path == "/api/v1/namespaces/tracing/services/svc:8080/proxy");
    CHECK(v6.text == "http://[::1]:8080/api/v1/namespaces/tracing/services/svc:8080/proxy");

    for (const char* bad : {"", "ftp://x", "http://", "http://x:", "http://x:0", "http://x:70000", "http://x:8a",
                            "http://u:p@x", "::1:8080", "http://[::1", "http://x/?q=1"}) {
        INFO(bad);
        auto r = parse_server_url(bad);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("invalid server"));
    }
}

TEST_CASE("tables align columns by their widest cell and make cells safe for a terminal", "[unit][cli]") {
    Table t({"NAME", "PIDS"});
    t.add_row({"a", "1"});
    t.add_row({"longer-name", "2,3"});
    t.add_row({"ünï", ""});
    CHECK(t.render() ==
          "NAME         PIDS\n"
          "a            1\n"
          "longer-name  2,3\n"
          "ünï\n");
    Table hostile({"COMM"});
    hostile.add_row({"evil\x1b[2Jname\n"});
    CHECK(hostile.render() == "COMM\nevil?[2Jname?\n");
    CHECK(display_width("ünï") == 3);

    StreamTable s({"A", "B", "C"}, {3, 0, 0});
    CHECK(s.header() == "A    B  C\n");
    CHECK(s.row({"x", "y", "z"}) == "x    y  z\n");
    CHECK(s.row({"wider", "y", "z"}) == "wider  y  z\n");  // grows...
    CHECK(s.row({"x", "y", "z"}) == "x      y  z\n");      // ...and stays
}

namespace {

const char* kPods = R"({
  "web-1": {"Containers": {
    "nginx": {"Id": "nginx", "Parent": [1], "Pod": "web-1", "Tasks": [101, 102], "Namespace": "shop", "RuntimeId": "abc"},
    "sidecar": {"Id": "sidecar", "Parent": [1], "Pod": "web-1", "Tasks": [103], "Namespace": "shop", "Node": "n2"}}},
  "lonely": {"Containers": {"lonely": {"Id": "lonely", "Parent": [1], "Pod": "lonely", "Tasks": [1,2,3,4,5,6,7,8]}}}
})";

}  // namespace

TEST_CASE("ctrace pods: the answer as a table, filtered by the selector", "[unit][cli]") {
    auto answer = json::parse(kPods);
    auto containers = parse_pods(answer).value();
    REQUIRE(containers.size() == 3);
    CHECK(pods_table(containers) ==
          "NODE  NAMESPACE  POD     CONTAINER  PIDS\n"
          "-     -          lonely  lonely     1,2,3,4,5,6 +2\n"
          "-     shop       web-1   nginx      101,102\n"
          "n2    shop       web-1   sidecar    103\n");
    auto shop = parse_pod_selector("shop/*").value();
    CHECK(filter_containers(containers, shop).size() == 2);
    auto filtered = filter_pods(answer.as_object(), shop);
    CHECK(filtered.size() == 1);
    CHECK(filtered.contains("web-1"));
    CHECK(filtered.at("web-1") == answer.at("web-1"));  // the API's JSON, unchanged
    CHECK(filter_containers(containers, parse_pod_selector("nothing*").value()).empty());

    CHECK_FALSE(parse_pods(json::parse(R"({"p": 1})")));
    CHECK_FALSE(parse_pods(json::parse("[]")));
}

TEST_CASE("ctrace sessions and hooks: the answers as tables", "[unit][cli]") {
    auto sessions = parse_sessions(json::parse(R"({
      "42": {"Containers": {"web-1": ["nginx", "sidecar"]}, "Context": "ctx", "Error": null, "Id": "42", "Node": "n1",
             "Output": null, "Running": true, "TraceHook": "trace_syscalls", "TraceParams": ["-s", "getppid"],
             "Stats": {"Delivered": 10, "Lost": 2, "Exporters": {"stream": {"Exported": 10, "Dropped": 3, "Errors": 0}}}},
      "7": {"Containers": {}, "Context": "", "Error": ["hook died", "really"], "Id": "7", "Node": "n2", "Output": null,
            "Running": false, "TraceHook": "trace_syscalls", "TraceParams": []}
    })")).value();
    REQUIRE(sessions.size() == 2);
    CHECK(sessions[0].containers == std::vector<std::pair<std::string, std::string>>{{"web-1", "nginx"}, {"web-1", "sidecar"}});
    CHECK(sessions[0].delivered == 10u);
    CHECK(sessions[0].stream_dropped == 3u);
    CHECK(sessions[1].error == std::vector<std::string>{"hook died", "really"});
    CHECK_FALSE(sessions[1].delivered);
    CHECK(sessions_table(sessions) ==
          "ID  NODE  HOOK            RUNNING  DELIVERED  LOST  CONTEXT  CONTAINERS\n"
          "42  n1    trace_syscalls  yes      10         2     ctx      web-1/nginx,web-1/sidecar\n"
          "7   n2    trace_syscalls  no       -          -     -        -\n");

    auto hooks = parse_hooks(json::parse(R"({"trace-hooks/ftrace": {"Tracers": {"trace_syscalls": {
        "Description": ["Trace system calls, used by given container", "-s ..."], "Name": "trace_syscalls"}}}})")).value();
    CHECK(hooks_table(hooks) ==
          "HOOK            MANAGER             DESCRIPTION\n"
          "trace_syscalls  trace-hooks/ftrace  Trace system calls, used by given container\n");
    CHECK_FALSE(parse_hooks(json::parse(R"({"x": {}})")));
}

TEST_CASE("event rows: TIME NODE POD CONTAINER PID COMM EVENT DETAILS", "[unit][cli]") {
    EventColumns c;
    CHECK(c.header() == "TIME             NODE      POD               CONTAINER   PID      COMM             EVENT                 DETAILS\n");
    auto row = c.row(R"({"node":"n1","session":"1","hook":"h","context":"c","pod":"web-1","namespace":"shop",)"
                     R"("container":"nginx","task":"nginx","pid":4242,"cpu":1,"timestamp":"1813.739531123",)"
                     R"("timestamp_ns":1813739531123,"event":"sys_enter_openat","details":"dfd: 0xffffff9c","fields":{}})");
    CHECK(row == "1813.739531      n1        web-1             nginx       4242     nginx            sys_enter_openat      dfd: 0xffffff9c\n");
    auto unowned = c.row(R"({"node":"n1","pod":null,"container":null,"task":"x","pid":1,"timestamp":"1.5",)"
                         R"("event":"e","details":""})");
    CHECK(unowned.starts_with("1.5              n1        -                 -           1"));
    CHECK(c.row("not json\x1b") == "not json?\n");
}

TEST_CASE("traced containers end when none runs a process of the previous answer", "[unit][cli]") {
    auto pods = [](std::vector<ContainerEntry> c) { return c; };
    ContainerWatch watch({{"n1", "web-1", "nginx"}, {"n1", "web-2", "nginx"}});
    CHECK(watch.update(pods({{.pod_key = "web-1", .name = "nginx", .tasks = {10}},
                             {.pod_key = "web-2", .name = "nginx", .tasks = {20}}})));
    // web-2 is gone, web-1 forked a child and its first process left: still alive.
    CHECK(watch.update(pods({{.pod_key = "web-1", .name = "nginx", .tasks = {10, 11}}})));
    CHECK(watch.update(pods({{.pod_key = "web-1", .name = "nginx", .tasks = {11}}})));
    // Restarted under the same name: only new processes, which the session does not trace.
    CHECK_FALSE(watch.update(pods({{.pod_key = "web-1", .name = "nginx", .tasks = {99}}})));

    ContainerWatch other_node({{"n1", "web-1", "nginx"}});
    CHECK_FALSE(other_node.update(pods({{.pod_key = "web-1", .name = "nginx", .node = "n2", .tasks = {10}}})));
    ContainerWatch gone({{"", "web-1", "nginx"}});
    CHECK_FALSE(gone.update({}));
    ContainerWatch empty({{"", "web-1", "nginx"}});
    CHECK_FALSE(empty.update(pods({{.pod_key = "web-1", .name = "nginx"}})));
}

TEST_CASE("top: percentiles from log2 histograms, rates from two snapshots, sorting, the redraw", "[unit][cli]") {
    // 100 calls: 50 in (512, 1024] ns, 49 in (1024, 2048], 1 in (1 ms, 2 ms].
    LatencyHistogram h{{1024, 50}, {2048, 49}, {2097152, 1}};
    CHECK(histogram_percentile(h, 0.50) == Approx(1024));        // the 50th call ends the first bucket
    CHECK(histogram_percentile(h, 0.25) == Approx(512 + 256));   // halfway into (512, 1024]
    CHECK(histogram_percentile(h, 0.99) == Approx(2048));
    CHECK(histogram_percentile(h, 1.0) == Approx(2097152));
    CHECK(histogram_percentile({}, 0.5) == 0);
    CHECK(histogram_delta({{1024, 5}, {2048, 1}}, {{1024, 7}, {2048, 1}, {4096, 2}}) == LatencyHistogram{{1024, 2}, {4096, 2}});

    auto counters = parse_syscall_counters(json::parse(
        R"({"Count": 10, "Errors": 2, "ErrnoCounts": {"ENOENT": 2}, "TotalNs": 5000, "Histogram": {"1024": 8, "4096": 2}})")
                                               .as_object())
                        .value();
    CHECK(counters.count == 10);
    CHECK(counters.histogram == LatencyHistogram{{1024, 8}, {4096, 2}});
    CHECK_FALSE(parse_syscall_counters(json::parse(R"({"Count": -1, "Errors": 0, "TotalNs": 0, "Histogram": {}})").as_object()));
    CHECK_FALSE(parse_syscall_counters(json::parse(R"({"Count": 1, "Errors": 0, "TotalNs": 0, "Histogram": {"x": 1}})").as_object()));

    TopKey read{"n", "web-1", "nginx", "read"}, open{"n", "web-1", "nginx", "openat"};
    TopSnapshot before{{read, {.count = 100, .errors = 0, .histogram = {{1024, 100}}}}};
    TopSnapshot after{{read, {.count = 300, .errors = 10, .histogram = {{1024, 150}, {2048, 150}}}},
                      {open, {.count = 50, .errors = 50, .histogram = {{4096, 50}}}}};
    auto rows = top_rows(before, after, 2.0);
    REQUIRE(rows.size() == 2);
    sort_top_rows(rows, TopSort::kCalls);
    CHECK(rows[0].key == read);
    CHECK(rows[0].calls_per_s == Approx(100));  // 200 calls in 2 s
    CHECK(rows[0].errors_per_s == Approx(5));
    CHECK(rows[0].p50_ns == Approx(1024 + 1024.0 * 50 / 150));  // over the interval's 200 calls only
    CHECK(rows[1].calls_per_s == Approx(25));
    sort_top_rows(rows, TopSort::kErrors);
    CHECK(rows[0].key == open);
    sort_top_rows(rows, TopSort::kName);
    CHECK(rows[0].key == open);  // "openat" < "read"
    CHECK(parse_top_sort("p99").value() == TopSort::kP99);
    CHECK_THAT(parse_top_sort("fast").error().message, Catch::Contains("calls, errors, p50, p99, name"));
    // Counters that went backwards (the hook restarted) count from zero again.
    auto reset = top_rows(after, before, 1.0);
    CHECK(reset[0].calls_per_s == Approx(100));

    CHECK(format_latency(850) == "850ns");
    CHECK(format_latency(12'345) == "12.3us");
    CHECK(format_latency(4'100'000) == "4.10ms");
    CHECK(format_latency(1.2e9) == "1.20s");

    auto plain = top_frame(rows, 1, false);
    CHECK(plain.find('\x1b') == std::string::npos);
    CHECK(plain.starts_with("NODE  POD    CONTAINER  SYSCALL  CALLS/S  ERRORS/S  P50"));
    CHECK(plain.find("read") == std::string::npos);  // -n 1
    auto screen = top_frame(rows, 0, true);
    CHECK(screen.starts_with("\x1b[H"));
    CHECK(screen.ends_with("\x1b[J"));
    CHECK(screen.find("read") != std::string::npos);
    CHECK(screen.find("\x1b[K\n") != std::string::npos);
}

TEST_CASE("top and record: statistics answers summed per key, one file per node", "[unit][cli]") {
    TopSnapshot snapshot;
    auto answer = json::parse(R"({"web": {"nginx": {"read": {"Count": 3, "Errors": 1, "ErrnoCounts": {"EAGAIN": 1},
                                   "TotalNs": 30, "Histogram": {"16": 3}}}}})");
    REQUIRE(add_stats_answer(snapshot, answer, "n1"));
    REQUIRE(add_stats_answer(snapshot, answer, "n1"));
    REQUIRE(add_stats_answer(snapshot, answer, "n2"));
    REQUIRE(snapshot.size() == 2);
    auto& sum = snapshot.at(TopKey{"n1", "web", "nginx", "read"});
    CHECK(sum.count == 6);
    CHECK(sum.errors == 2);
    CHECK(sum.histogram == LatencyHistogram{{16, 6}});
    CHECK_THAT(add_stats_answer(snapshot, json::parse(R"({"web": []})"), "n").error().message, Catch::Contains("\"web\""));
    CHECK_FALSE(add_stats_answer(snapshot, json::parse(R"({"web": {"c": {"read": {"Count": 1}}}})"), "n"));

    CHECK(record_path("out/t.dat", 1, "n1", "7") == "out/t.dat");
    CHECK(record_path("out/t.dat", 2, "n1", "7") == "out/t.n1.dat");
    CHECK(record_path("t.json", 2, "", "7") == "t.7.json");
}
