// Clients of the original container-tracer through tracer-svc: request keys in any case on every
// session route (issue 20), and the same refusals tracer-node gives, answered by tracer-svc
// itself before any node sees the request. A real tracer-node in its own PID namespace behind a
// real tracer-svc; the hook is a script manager (docs/hooks.md) that stops at once.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/integration/svc_fixture.h"

using namespace ct::svctest;
namespace json = boost::json;

namespace {

void make_quick_hook(const fs::path& root) {
    write_file(root / "quick" / "manager", R"(#!/bin/sh
case "$1" in
  --get-all) echo quick_hook ;;
  --describe) echo "stops at once" ;;
  --clear) ;;
  --run) trap 'exit 0' INT; echo /dev/null; while true; do sleep 0.05; done ;;
  *) exit 2 ;;
esac
)", true);
}

// Requests with `method` a node has answered, from its /metrics.
double requests_of(const std::string& metrics, const std::string& method) {
    double n = 0;
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("container_tracer_http_requests_total{") &&
            line.find("method=\"" + method + "\"") != std::string::npos)
            n += std::stod(line.substr(line.rfind(' ') + 1));
    return n;
}

std::string error_of(const ct::Result<ct::http::ClientResponse>& r) {
    REQUIRE(r);
    auto v = json::parse(r->body);
    REQUIRE(v.as_object().contains("error"));
    return std::string(v.at("error").as_string());
}

}  // namespace

TEST_CASE("svc: request keys match without regard to case on every session route", "[integration][root][svc]") {
    TempDir tmp;
    make_quick_hook(tmp.path() / "hooks");
    NamespacedNode node("keys-node", free_port(), tmp.path() / "hooks", {"keys-pod"}, tmp.path() / "node.log");
    REQUIRE(node.start());
    Svc svc({"--nodes", node.key(), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));

    // The original's spellings: Go's decoder matched keys without regard to case.
    auto created = svc.send("POST", "/v1/trace-session",
                            R"({"Pod": "keys-pod", "Container": "*", "Trace-Hook": "quick_hook",
                                "TRACE-ARGUMENTS": "", "trace-user-context": "through svc"})");
    REQUIRE(created);
    REQUIRE(created->status == 200);
    auto id = std::string(json_of(*created).begin()->key());
    auto s = json_of(*created).at(id).as_object();
    CHECK(s.at("Context") == "through svc");  // answers keep the seed's keys
    CHECK(s.at("TraceHook") == "quick_hook");
    CHECK(s.at("Running") == false);

    auto running = [&] {
        auto r = svc.get("/v1/trace-session/" + id);
        REQUIRE(r);
        REQUIRE(r->status == 200);
        return json_of(*r).at(id).at("Running").as_bool();
    };
    auto on = svc.send("PUT", "/v1/trace-session/" + id, R"({"run": true})");
    REQUIRE(on);
    CHECK(on->status == 200);
    CHECK(on->body == "{}");
    CHECK(running());
    auto off = svc.send("PUT", "/v1/trace-session/" + id, R"({"RUN": false})");
    REQUIRE(off);
    CHECK(off->status == 200);
    CHECK_FALSE(running());
    auto again = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    REQUIRE(again);
    CHECK(again->status == 200);
    CHECK(running());

    auto node_saw = [&](const std::string& method) { return requests_of(node.metrics(), method); };
    auto puts_before = node_saw("PUT"), posts_before = node_saw("POST");
    // Refused by tracer-svc itself, with tracer-node's messages.
    CHECK_THAT(error_of(svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": false, "run": true})")),
               Catch::Contains("\"Run\" and \"run\""));
    CHECK_THAT(error_of(svc.send("PUT", "/v1/trace-session/" + id, "")), Catch::Contains("request body is empty"));
    CHECK_THAT(error_of(svc.send("PUT", "/v1/trace-session/0" + id, R"({"Run": false})")),
               Catch::Contains("leading zeros"));
    CHECK_THAT(error_of(svc.send("POST", "/v1/trace-session",
                                 R"({"pod": "keys-pod", "Pod": "x", "container": "*", "trace-hook": "quick_hook"})")),
               Catch::Contains("\"pod\" and \"Pod\""));
    CHECK_THAT(error_of(svc.send("POST", "/v1/trace-session",
                                 R"({"pod": "keys-pod", "container": "*", "trace-hook": "quick_hook", "node": "x"})")),
               Catch::Contains("unknown field \"node\"") && Catch::Contains("trace-user-context"));
    CHECK_THAT(error_of(svc.send("POST", "/v1/trace-session",
                                 R"({"pod": "keys-pod", "container": "*", "trace-hook": "quick_hook",
                                     "trace-arguments": "--pid 1"})")),
               Catch::Contains("must not contain \"--pid\""));
    CHECK_THAT(error_of(svc.send("POST", "/v1/trace-session",
                                 R"({"pod": "keys-pod", "container": "*", "trace-hook": "quick_hook",
                                     "trace-arguments": null})")),
               Catch::Contains("\"trace-arguments\" must be a string, got null"));
    CHECK(node_saw("PUT") == puts_before);
    CHECK(node_saw("POST") == posts_before);
    CHECK(running());

    auto del = svc.send("DELETE", "/v1/trace-session/" + id);
    REQUIRE(del);
    CHECK(del->status == 200);
    auto gone = svc.get("/v1/trace-session/" + id);
    REQUIRE(gone);
    CHECK(gone->status == 404);
}
