// OTLP export end to end: the real tracer-node with --otlp-endpoint pointing at a local OTLP/HTTP
// receiver (HttpServer on loopback recording POST /v1/traces bodies), real ftrace, an unshare pod.
#include <catch2/catch.hpp>

#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/fixtures.h"
#include "tests/support/otlp_receiver.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return done();
}

json::object otlp_stats(TracerNode& node, const std::string& id) {
    auto v = node.get_json("/v1/trace-session/" + id);
    return v.at(id).at("Stats").at("Exporters").at("otlp").as_object();
}

size_t loop_events(TracerNode& node, const std::string& id) {
    size_t n = 0;
    for (const auto& e : node.events())
        if (e.at("event") == "sys_enter_getppid" && e.at("session").as_string() == id && e.at("task") == "getppid_loop") ++n;
    return n;
}

}  // namespace

TEST_CASE("a session run is exported as one OTLP trace and a dead receiver is counted while capture goes on",
          "[integration][root]") {
    constexpr long kCalls = 500;
    OtlpReceiver receiver;
    Pod pod("otlp-pod-1");
    TracerNode node({.extra_args = {"--otlp-endpoint", fmt::format("http://127.0.0.1:{}", receiver.port())}});
    auto id = node.create_session("otlp-pod-1", "*", "-s getppid", "trace_syscalls", "otlp-ctx");

    node.run(id, true);
    pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), kCalls));
    node.run(id, false);

    // The root is sent after the run stops, within a flush interval.
    auto has_root = [&] {
        for (const auto& s : receiver.spans())
            if (s.at("name") == "otlp-ctx") return true;
        return false;
    };
    REQUIRE(wait_for(has_root, 30s));
    auto spans = receiver.spans();
    // Every getppid span; the pod's shell makes one of its own when it starts the loop, so the
    // loop's are counted by comm.
    std::vector<json::object> roots, calls;
    size_t loop_calls = 0;
    for (auto& s : spans) {
        if (s.at("name") == "otlp-ctx") roots.push_back(s);
        if (s.at("name") == "getppid") {
            calls.push_back(s);
            loop_calls += otlp_attributes(s)["comm"] == "getppid_loop";
        }
    }
    REQUIRE(roots.size() == 1);
    const auto& root = roots[0];
    CHECK_FALSE(root.contains("parentSpanId"));
    CHECK(root.at("traceId").as_string().size() == 32);
    CHECK(loop_calls == static_cast<size_t>(kCalls));
    CHECK(calls.size() <= static_cast<size_t>(kCalls) + 2);  // + the shell's
    CHECK(spans.size() == calls.size() + 1);
    for (const auto& s : calls) {
        CHECK(s.at("traceId") == root.at("traceId"));
        CHECK(s.at("parentSpanId") == root.at("spanId"));
        CHECK(s.at("spanId").as_string().size() == 16);
        auto start = std::stoull(std::string(s.at("startTimeUnixNano").as_string()));
        auto end = std::stoull(std::string(s.at("endTimeUnixNano").as_string()));
        CHECK(end >= start);
        // Within the root's wall-clock window, give or take the clock-offset approximation (1 s).
        auto root_start = std::stoull(std::string(root.at("startTimeUnixNano").as_string()));
        CHECK(start + 1'000'000'000ULL >= root_start);
        auto attrs = otlp_attributes(s);
        CHECK(attrs.contains("pid"));
        CHECK((attrs["comm"] == "getppid_loop" || attrs["comm"] == "sh"));
        CHECK(attrs.contains("ret"));
        std::map<std::string, std::string> resource;
        for (const auto& a : s.at("resource").at("attributes").as_array())
            resource[std::string(a.at("key").as_string())] = std::string(a.at("value").at("stringValue").as_string());
        CHECK(resource["service.name"] == "container-tracer");
        CHECK(resource["k8s.node.name"] == "test-node");
    }
    for (const auto& ct : receiver.content_types()) CHECK(ct.starts_with("application/json"));
    auto stats = otlp_stats(node, id);
    CHECK(stats.at("Exported").as_int64() == static_cast<std::int64_t>(spans.size()));
    CHECK(stats.at("Errors").as_int64() == 0);
    CHECK(stats.at("Dropped").as_int64() == 0);

    // Receiver down: capture still reaches the JSON-lines file; the OTLP exporter counts failures.
    receiver.stop();
    auto before = loop_events(node, id);
    CHECK(before == static_cast<size_t>(kCalls));
    node.run(id, true);
    pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), kCalls));
    node.run(id, false);
    CHECK(loop_events(node, id) == before + kCalls);
    CHECK(wait_for(
        [&] {
            auto st = otlp_stats(node, id);
            return st.at("Errors").as_int64() > 0 || st.at("Dropped").as_int64() > 0;
        },
        30s));
    auto after = otlp_stats(node, id);
    CHECK(after.at("Exported") == stats.at("Exported"));  // nothing more got through
}
