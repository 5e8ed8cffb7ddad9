// Statistics sessions end to end: the real tracer-node running the real eBPF manager
// (syscall_stats) on unshare pods. GET /v1/trace-session/<id>/stats with exact counts while
// running and after stop, its errors, the Prometheus series on /metrics, OTLP metrics to a local
// receiver, and the same answer through tracer-svc.
#include <catch2/catch.hpp>

#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "common/syscall_stats.h"
#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/otlp_receiver.h"

using namespace ct;
using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

const std::string kMix = CT_BINARY_DIR "/bench/syscall_mix";

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return done();
}


// A pod whose workload (syscall_mix ARGS) waits for a start file: started before the session,
// so its calls are exactly the workload's and none of the pod shell's.
struct Workload {
    TempDir tmp{"ct-stats"};
    Pod pod;
    fs::path start = tmp.path() / "start";
    fs::path out = tmp.path() / "out";

    Workload(const std::string& pod_name, const std::string& args) : pod(pod_name) {
        pod.exec(fmt::format("{} {} {} > {} 2>&1 &", kMix, args, start.string(), out.string()));
        REQUIRE(wait_until([&] {
            for (pid_t p : pod.host_pids())
                if (trim(read_text(fmt::format("/proc/{}/comm", p))) == "syscall_mix") return true;
            return false;
        }));
    }
    // Starts the calls and waits for the workload's own count of them.
    std::string run() {
        std::ofstream(start) << "go";
        REQUIRE(wait_until([&] { return read_text(out).find('\n') != std::string::npos; }, 120s));
        return std::string(trim(read_text(out)));
    }
};

// The answer's counts of one syscall, checked to be well formed.
struct Counts {
    uint64_t count = 0, errors = 0;
    std::map<std::string, uint64_t> errnos;
};
Counts counts_of(const json::value& answer, const std::string& pod, const std::string& container,
                 const std::string& syscall) {
    auto parsed = stats::parse_pod_stats(answer);
    REQUIRE(parsed);
    auto p = parsed->find(pod);
    if (p == parsed->end()) return {};
    auto c = p->second.find(container);
    if (c == p->second.end()) return {};
    auto s = c->second.find(syscall);
    if (s == c->second.end()) return {};
    uint64_t in_buckets = 0;
    for (auto [bound, n] : s->second.histogram) in_buckets += n;
    CHECK(in_buckets == s->second.count);
    return {s->second.count, s->second.errors, s->second.errno_counts};
}

std::string stats_path(const std::string& id) { return "/v1/trace-session/" + id + "/stats"; }

// The value of the series `name_and_labels` in a Prometheus text answer; nullopt when absent.
std::optional<double> metric_value(const std::string& text, const std::string& name_and_labels) {
    auto at = text.find("\n" + name_and_labels + " ");
    if (at == std::string::npos) return std::nullopt;
    auto start = at + 1 + name_and_labels.size() + 1;
    return std::stod(text.substr(start, text.find('\n', start) - start));
}

// Records every POST /v1/metrics body (OtlpReceiver); answers 200 {}.
class MetricsReceiver {
public:
    unsigned short port() const { return receiver_.port(); }

    // The latest value of `metric`'s data point for (pod, syscall[, errno]) in any request
    // (sums: asInt; histograms: count); nullopt when none came.
    std::optional<uint64_t> latest(const std::string& metric, const std::string& pod, const std::string& syscall,
                                   const std::string& errno_name = "") const {
        std::optional<uint64_t> out;
        for (const auto& body : receiver_.bodies()) {
            auto v = json::parse(body);
            for (const auto& rm : v.at("resourceMetrics").as_array()) {
                bool ours = false;
                for (const auto& a : rm.at("resource").at("attributes").as_array())
                    ours |= a.at("key") == "k8s.pod.name" && a.at("value").at("stringValue").as_string() == pod;
                if (!ours) continue;
                for (const auto& sm : rm.at("scopeMetrics").as_array())
                    for (const auto& m : sm.at("metrics").as_array()) {
                        if (m.at("name").as_string() != metric) continue;
                        const auto& data = m.as_object().contains("sum") ? m.at("sum") : m.at("histogram");
                        for (const auto& p : data.at("dataPoints").as_array()) {
                            std::map<std::string, std::string> attrs;
                            for (const auto& a : p.at("attributes").as_array())
                                attrs[std::string(a.at("key").as_string())] =
                                    std::string(a.at("value").at("stringValue").as_string());
                            if (attrs["syscall"] != syscall || attrs["errno"] != errno_name) continue;
                            const auto& n = p.as_object().contains("asInt") ? p.at("asInt") : p.at("count");
                            out = parse_u64(n.as_string());
                        }
                    }
            }
        }
        return out;
    }

private:
    OtlpReceiver receiver_{"/v1/metrics"};
};

}  // namespace

TEST_CASE("a syscall_stats session answers exact counts per pod and container, running and stopped",
          "[integration][root]") {
    TracerNode node;
    Workload traced("stats-pod-a", "20000 1000 0"), other("stats-pod-b", "20000 1000 0");
    auto id = node.create_session("stats-pod-a", "*", "-i 100", "syscall_stats");
    node.run(id, true);
    auto session = node.get_json("/v1/trace-session/" + id).at(id);
    REQUIRE(session.at("Output").is_array());
    std::string snapshot = std::string(session.at("Output").as_array().at(0).as_string());
    CHECK(stats::is_snapshot_path(snapshot));
    CHECK(session.at("Running") == true);

    CHECK(traced.run() == "getppid 20000 enoent 1000");
    CHECK(other.run() == "getppid 20000 enoent 1000");
    // While running: the node reads the hook's latest snapshot.
    Counts getppid;
    CHECK(wait_until([&] {
        getppid = counts_of(node.get_json(stats_path(id)), "stats-pod-a", "stats-pod-a", "getppid");
        return getppid.count >= 20000;
    }));
    CHECK(getppid.count == 20000);
    CHECK(getppid.errors == 0);

    node.run(id, false);
    auto answer = node.get_json(stats_path(id));
    INFO(json::serialize(answer));
    CHECK(answer.as_object().size() == 1);  // only the selected pod: the other one's calls are nowhere
    CHECK(answer.at("stats-pod-a").as_object().size() == 1);
    getppid = counts_of(answer, "stats-pod-a", "stats-pod-a", "getppid");
    CHECK(getppid.count == 20000);
    CHECK(getppid.errors == 0);
    CHECK(getppid.errnos.empty());
    auto openat = counts_of(answer, "stats-pod-a", "stats-pod-a", "openat");
    CHECK(openat.errors >= 1000);
    CHECK(openat.errnos["ENOENT"] >= 1000);
    // Kept with the session after the run; the hook's snapshot directory is gone.
    CHECK(json::serialize(node.get_json(stats_path(id))) == json::serialize(answer));
    CHECK_FALSE(fs::exists(fs::path(snapshot).parent_path()));
    auto after = node.get_json("/v1/trace-session/" + id).at(id);
    CHECK(after.at("Running") == false);
    CHECK(after.at("Error").is_null());
}

TEST_CASE("statistics of an unknown session, an event session and a bad id are refused clearly",
          "[integration][root]") {
    TracerNode node;
    Pod pod("stats-refused");
    auto unknown = node.request("GET", stats_path("12345"));
    CHECK(unknown.status == 404);
    CHECK(unknown.body.find("trace session 12345 not found") != std::string::npos);
    CHECK(node.request("GET", stats_path("all")).status == 400);
    CHECK(node.request("GET", stats_path("x1")).status == 400);

    auto events = node.create_session("stats-refused", "*", "-s getppid", "trace_syscalls");
    auto before = node.request("GET", stats_path(events));
    CHECK(before.status == 409);
    CHECK(before.body.find("has not run its hook trace_syscalls") != std::string::npos);
    node.run(events, true);
    node.run(events, false);
    auto after = node.request("GET", stats_path(events));
    CHECK(after.status == 409);
    CHECK(after.body.find("its hook trace_syscalls produces events, not statistics") != std::string::npos);
}

TEST_CASE("on a kernel without BTF the hook says so and its session fails to start with the reason",
          "[integration][root]") {
    TempDir sysfs("ct-sysfs");
    fs::create_directories(sysfs.path() / "kernel");  // no kernel/btf/vmlinux
    TracerNode node({.extra_args = {"--sysfs-path", sysfs.str()}});
    Pod pod("stats-no-btf");
    const std::string reason = fmt::format("the kernel has no BTF ({}/kernel/btf/vmlinux", sysfs.str());
    auto hooks = node.get_json("/v1/trace-hooks");
    auto description = json::serialize(hooks.at("trace-hooks/ebpf").at("Tracers").at("syscall_stats").at("Description"));
    CHECK(description.find("Unavailable on this node: " + reason) != std::string::npos);

    auto id = node.create_session("stats-no-btf", "*", "", "syscall_stats");
    auto started = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    CHECK(started.status == 500);
    CHECK(started.body.find(reason) != std::string::npos);
    auto session = node.get_json("/v1/trace-session/" + id).at(id);
    CHECK(session.at("Running") == false);
    CHECK(json::serialize(session.at("Error")).find(reason) != std::string::npos);
}

TEST_CASE("running statistics sessions are Prometheus series on /metrics", "[integration][root]") {
    TracerNode node;
    Workload w("stats-metrics", "5000 100 0");
    auto id = node.create_session("stats-metrics", "*", "-i 100 -s getppid,openat", "syscall_stats");
    node.run(id, true);
    CHECK(w.run() == "getppid 5000 enoent 100");
    const std::string labels = R"({namespace="",pod="stats-metrics",container="stats-metrics",syscall="getppid"})";
    const std::string openat = R"({namespace="",pod="stats-metrics",container="stats-metrics",syscall="openat"})";
    std::string text;
    // Both loops done in the hook's snapshot (openat also counts the pod shell's own calls).
    CHECK(wait_until([&] {
        text = node.request("GET", "/metrics").body;
        return metric_value(text, "container_tracer_syscalls_total" + labels) == 5000 &&
               metric_value(text, "container_tracer_syscall_errors_total" + openat) >= 100;
    }));
    INFO(text);
    CHECK(metric_value(text, "container_tracer_syscall_errors_total" + labels) == 0);
    CHECK(metric_value(text, "container_tracer_syscall_duration_seconds_count" + labels) == 5000);
    CHECK(metric_value(text, R"(container_tracer_syscall_duration_seconds_bucket{namespace="",pod="stats-metrics",)"
                             R"(container="stats-metrics",syscall="getppid",le="+Inf"})") == 5000);
    CHECK(metric_value(text, "container_tracer_syscall_duration_seconds_sum" + labels) > 0);
    CHECK(text.find("# TYPE container_tracer_syscalls_total counter") != std::string::npos);
    CHECK(text.find("# TYPE container_tracer_syscall_duration_seconds histogram") != std::string::npos);

    node.run(id, false);
    auto stopped = node.request("GET", "/metrics").body;
    CHECK(stopped.find("container_tracer_syscalls_total{") == std::string::npos);
}

TEST_CASE("statistics sessions export their counts as OTLP metrics", "[integration][root]") {
    MetricsReceiver receiver;
    TracerNode node({.extra_args = {"--otlp-endpoint", fmt::format("http://127.0.0.1:{}", receiver.port())}});
    Workload w("stats-otlp", "5000 100 1");
    auto id = node.create_session("stats-otlp", "*", "-i 100", "syscall_stats");
    node.run(id, true);
    CHECK(w.run() == "getppid 10000 enoent 200");
    node.run(id, false);  // the final snapshot goes out at once
    CHECK(wait_until([&] { return receiver.latest("container_tracer.syscalls", "stats-otlp", "getppid") == 10000u; },
                     30s));
    CHECK(receiver.latest("container_tracer.syscall.duration", "stats-otlp", "getppid") == 10000u);
    CHECK(receiver.latest("container_tracer.syscall.errors", "stats-otlp", "openat", "ENOENT") >= 200u);
    auto exported = node.get_json("/v1/trace-session/" + id).at(id).at("Stats").at("Exporters").at("otlp-metrics");
    CHECK(exported.at("Exported").as_int64() >= 1);
}

TEST_CASE("tracer-svc answers a statistics session's counts from its node", "[integration][root][svc]") {
    TracerNode node;
    svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(svctest::wait_status(svc.port(), "/readyz"));
    Workload w("stats-svc", "20000 1000 0");
    auto created = svc.send("POST", "/v1/trace-session",
                            json::serialize(json::object{{"pod", "stats-svc"},
                                                         {"container", "*"},
                                                         {"trace-hook", "syscall_stats"},
                                                         {"trace-arguments", "-i 100"},
                                                         {"trace-user-context", "svc"}}));
    REQUIRE(created);
    REQUIRE(created->status == 200);
    std::string id(svctest::json_of(*created).begin()->key());
    auto running = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    REQUIRE(running);
    REQUIRE(running->status == 200);
    CHECK(w.run() == "getppid 20000 enoent 1000");
    auto stopped = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": false})");
    REQUIRE(stopped);
    REQUIRE(stopped->status == 200);

    auto answer = svc.get(stats_path(id));
    REQUIRE(answer);
    INFO(answer->body);
    REQUIRE(answer->status == 200);
    auto getppid = counts_of(json::parse(answer->body), "stats-svc", "stats-svc", "getppid");
    CHECK(getppid.count == 20000);
    CHECK(getppid.errors == 0);
    auto openat = counts_of(json::parse(answer->body), "stats-svc", "stats-svc", "openat");
    CHECK(openat.errnos["ENOENT"] >= 1000);
    CHECK(answer->body == node.request("GET", stats_path(id)).body);

    auto unknown = svc.get(stats_path("12345"));
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
}
