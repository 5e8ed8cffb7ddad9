// OTLP export end to end: the real tracer-node with --otlp-endpoint pointing at a local OTLP/HTTP
// receiver (HttpServer on loopback recording POST /v1/traces bodies), real ftrace, an unshare pod.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_server.h"
#include "tests/support/fixtures.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Records every POST /v1/traces body; answers 200 {}.
class Receiver {
public:
    Receiver()
        : server_({.listen = {"127.0.0.1", 0}, .max_body = 64 << 20}, [this](const ct::http::Request& r) {
              if (r.method != "POST" || r.path != "/v1/traces")
                  return ct::http::Dispatched{ct::http::error_response(404, "no such route"), "other"};
              std::lock_guard lock(mutex_);
              bodies_.push_back(r.body);
              content_types_.push_back(r.header("content-type"));
              return ct::http::Dispatched{ct::http::Response{.status = 200, .body = "{}"}, "traces"};
          }) {
        auto port = server_.start();
        REQUIRE(port);
        port_ = *port;
    }
    ~Receiver() { server_.stop(); }
    void stop() { server_.stop(); }
    unsigned short port() const { return port_; }

    // Every span received so far, with its resource attributes merged in as "resource".
    std::vector<json::object> spans() const {
        std::lock_guard lock(mutex_);
        std::vector<json::object> out;
        for (const auto& body : bodies_) {
            auto v = json::parse(body);
            for (const auto& rs : v.at("resourceSpans").as_array())
                for (const auto& ss : rs.at("scopeSpans").as_array())
                    for (const auto& s : ss.at("spans").as_array()) {
                        auto o = s.as_object();
                        o["resource"] = rs.at("resource");
                        out.push_back(std::move(o));
                    }
        }
        return out;
    }
    std::vector<std::string> content_types() const {
        std::lock_guard lock(mutex_);
        return content_types_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> bodies_;
    std::vector<std::string> content_types_;
    ct::http::HttpServer server_;
    unsigned short port_ = 0;
};

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

std::map<std::string, json::value> attributes(const json::object& span) {
    std::map<std::string, json::value> out;
    for (const auto& a : span.at("attributes").as_array()) {
        const auto& v = a.at("value").as_object();
        out[std::string(a.at("key").as_string())] = v.contains("stringValue") ? v.at("stringValue") : v.at("intValue");
    }
    return out;
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
    Receiver receiver;
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
            loop_calls += attributes(s)["comm"] == "getppid_loop";
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
        auto attrs = attributes(s);
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
