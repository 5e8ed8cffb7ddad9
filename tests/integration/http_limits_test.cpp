// Lock-outs (docs/operations.md, "Connections and deadlines"): idle connections, slow clients and
// one greedy client address must not keep anybody else out, least of all the kubelet's probes.
// Against the real tracer-node and tracer-svc programs on loopback (other client addresses are
// other 127.0.0.0/8 addresses), plus the deadlines of the HTTP server itself with short values.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "tests/integration/process_probe.h"
#include "tests/integration/raw_connection.h"
#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"

using namespace ct::test;
using namespace std::chrono_literals;

namespace {

// Opens `n` connections from `source` that never send anything.
std::vector<std::unique_ptr<RawConnection>> idle_connections(unsigned short port, size_t n,
                                                             const std::string& source = "127.0.0.1") {
    std::vector<std::unique_ptr<RawConnection>> out;
    for (size_t i = 0; i < n; ++i) {
        out.push_back(std::make_unique<RawConnection>(port, source));
        if (!out.back()->ok()) FAIL("connection " << i << " from " << source << " failed");
    }
    return out;
}

// One GET from `source` on a fresh connection: the answer's status line and body.
std::string get_from(unsigned short port, const std::string& source, const std::string& target) {
    RawConnection c(port, source);
    if (!c.ok() || !c.send_all(get_request(target))) return "";
    c.wait_closed(10s);  // answers past a limit close the connection; others read to the timeout
    return c.received();
}

std::string get_from_keepalive(unsigned short port, const std::string& source, const std::string& target) {
    RawConnection c(port, source);
    if (!c.ok() || !c.send_all(get_request(target))) return "";
    c.read_until("}", 10s);
    return c.received();
}

// What a kubelet probe does: one request, given up after 1 s.
int probe(unsigned short port, const std::string& path) {
    auto r = ct::http::send({.port = port, .target = path, .timeout = 1s});
    return r ? r->status : -1;
}

double limit_count(unsigned short port, const std::string& series) {
    auto r = ct::http::send({.port = port, .target = "/metrics", .timeout = 5s});
    REQUIRE(r);
    return metric_value(r->body, series);
}

}  // namespace

TEST_CASE("after 2,000 idle connections from one address, tracer-node and tracer-svc answer probes within 1 s and "
          "serve other addresses",
          "[integration][root][limits]") {
    ct::http::raise_open_file_limit();  // 2,000 connections in this process too
    TracerNode node;
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port())});
    REQUIRE(svc.started());
    REQUIRE(ct::svctest::wait_status(svc.port(), "/readyz"));

    for (auto [name, port] : {std::pair{"tracer-node", node.port()}, std::pair{"tracer-svc", svc.port()}}) {
        INFO(name);
        auto idle = idle_connections(port, 2000);
        CHECK(probe(port, "/healthz") == 200);
        CHECK(probe(port, "/readyz") == 200);
        // The greedy address is told why; another address is served as usual.
        auto refused = get_from(port, "127.0.0.1", "/v1/trace-hooks");
        CHECK_THAT(refused, Catch::StartsWith("HTTP/1.1 429") &&
                                Catch::Contains("too many connections from 127.0.0.1 (limit 1024 per client address)"));
        CHECK_THAT(get_from_keepalive(port, "127.0.0.2", "/v1/trace-hooks"), Catch::StartsWith("HTTP/1.1 200"));
    }
    CHECK(limit_count(node.port(), "container_tracer_limit_rejections_total{limit=\"address\"}") >= 1);
    CHECK(limit_count(svc.port(), "tracer_svc_limit_rejections_total{limit=\"address\"}") >= 1);
}

TEST_CASE("the per-address cap refuses the next connection of a full address with 429 while other addresses and "
          "probes are served",
          "[integration][root][limits]") {
    TracerNode node({.extra_args = {"--max-connections-per-address", "4"}});
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port())},
                         {"TRACE_KUBE_MAX_CONNECTIONS_PER_ADDRESS=4"});  // the environment variable works too
    REQUIRE(svc.started());
    for (auto [name, port] : {std::pair{"tracer-node", node.port()}, std::pair{"tracer-svc", svc.port()}}) {
        INFO(name);
        auto idle = idle_connections(port, 4, "127.0.0.5");
        auto refused = get_from(port, "127.0.0.5", "/v1/trace-hooks");
        CHECK_THAT(refused, Catch::StartsWith("HTTP/1.1 429") &&
                                Catch::Contains("{\"error\":\"too many connections from 127.0.0.5 (limit 4 per client "
                                                "address)\"}"));
        CHECK_THAT(get_from(port, "127.0.0.5", "/healthz"), Catch::StartsWith("HTTP/1.1 200"));
        CHECK_THAT(get_from_keepalive(port, "127.0.0.6", "/v1/trace-hooks"), Catch::StartsWith("HTTP/1.1 200"));
        // Once the address's connections close, it is served again.
        idle.clear();
        CHECK(wait_until([&] { return get_from_keepalive(port, "127.0.0.5", "/v1/trace-hooks").starts_with("HTTP/1.1 200"); },
                         5s));
    }
}

TEST_CASE("past --max-connections, probes are answered and everything else gets 503 naming the limit",
          "[integration][root][limits]") {
    TracerNode node({.extra_args = {"--max-connections", "50"}});
    auto idle = idle_connections(node.port(), 50, "127.0.0.7");
    CHECK(wait_until([&] { return get_from(node.port(), "127.0.0.8", "/v1/trace-hooks").starts_with("HTTP/1.1 503"); }, 5s));
    CHECK_THAT(get_from(node.port(), "127.0.0.8", "/v1/trace-hooks"),
               Catch::Contains("{\"error\":\"too many connections (limit 50)\"}"));
    CHECK(probe(node.port(), "/healthz") == 200);
    CHECK(probe(node.port(), "/readyz") == 200);
    idle.clear();
    CHECK(wait_until([&] { return get_from_keepalive(node.port(), "127.0.0.8", "/v1/trace-hooks").starts_with("HTTP/1.1 200"); },
                     5s));
}

TEST_CASE("a slowloris client trickling header bytes is cut at the 10 s header deadline by both programs",
          "[integration][root][limits]") {
    TracerNode node;
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port())});
    REQUIRE(svc.started());
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (auto port : {node.port(), svc.port()}) {
        slow.push_back(std::make_unique<RawConnection>(port));
        REQUIRE(slow.back()->send_all("GET /v1/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    }
    // One header byte every 200 ms: never idle, never done. Both must close well before the old
    // 60 s and not before the deadline.
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::chrono::steady_clock::duration> cut(slow.size(), std::chrono::steady_clock::duration::zero());
    while (std::chrono::steady_clock::now() - start < 25s) {
        bool open = false;
        for (size_t i = 0; i < slow.size(); ++i) {
            if (cut[i] != std::chrono::steady_clock::duration::zero()) continue;
            if (!slow[i]->send_all("X") || !slow[i]->read_some(200ms)) cut[i] = std::chrono::steady_clock::now() - start;
            else open = true;
        }
        if (!open) break;
    }
    for (size_t i = 0; i < slow.size(); ++i) {
        INFO((i == 0 ? "tracer-node" : "tracer-svc") << " cut after "
             << std::chrono::duration_cast<std::chrono::milliseconds>(cut[i]).count() << " ms");
        CHECK(cut[i] != std::chrono::steady_clock::duration::zero());
        CHECK(cut[i] >= 9500ms);
    }
    CHECK(limit_count(node.port(), "container_tracer_limit_rejections_total{limit=\"timeout\"}") == 1);
    CHECK(limit_count(svc.port(), "tracer_svc_limit_rejections_total{limit=\"timeout\"}") == 1);
}

TEST_CASE("HttpServer deadlines: body, keep-alive idle and over-limit connections are closed on time",
          "[integration][limits]") {
    ct::http::ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.handler_threads = 1;
    o.header_timeout = 1000ms;
    o.body_timeout = 1000ms;
    o.idle_timeout = 500ms;
    o.max_connections_per_address = 1;
    ct::http::HttpServer server(o, [](const ct::http::Request& r) {
        return ct::http::Dispatched{ct::http::json_response(boost::json::object{{"path", r.path}}), "any"};
    });
    auto port = server.start();
    REQUIRE(port);

    // A body that stops halfway.
    RawConnection body(*port, "127.0.0.10");
    REQUIRE(body.send_all("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789"));
    auto start = std::chrono::steady_clock::now();
    CHECK(body.wait_closed(10s));
    CHECK(std::chrono::steady_clock::now() - start >= 900ms);
    CHECK(body.received().empty());

    // A kept-alive connection that goes quiet after its answer.
    RawConnection keep(*port, "127.0.0.11");
    REQUIRE(keep.send_all(get_request("/a")));
    REQUIRE(keep.read_until("{\"path\":\"/a\"}", 5s));
    start = std::chrono::steady_clock::now();
    CHECK(keep.wait_closed(10s));
    CHECK(std::chrono::steady_clock::now() - start >= 400ms);

    // Past the per-address cap a connection that says nothing is closed after kOverLimitDeadline.
    RawConnection first(*port, "127.0.0.12");
    REQUIRE(first.send_all("GET /b HTTP/1.1\r\nHost: a\r\n"));  // admitted, header pending
    CHECK(wait_until([&] { return server.open_connections() == 1; }, 5s));
    RawConnection second(*port, "127.0.0.12");
    start = std::chrono::steady_clock::now();
    CHECK(second.wait_closed(10s));
    CHECK(std::chrono::steady_clock::now() - start >= ct::http::kOverLimitDeadline - 100ms);
    CHECK(second.received().empty());
}
