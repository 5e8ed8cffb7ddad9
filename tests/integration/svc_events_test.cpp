// The trace_events hook through tracer-svc, unchanged: listed with its description, a session
// created, run and stopped through the svc on a real tracer-node with real ftrace, a typo refused
// with the hook's error (docs/hooks.md, "trace_events").
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"

using namespace ct::test;
using ct::svctest::Svc;
namespace json = boost::json;

TEST_CASE("a trace_events session through tracer-svc exports exactly its pod's exits", "[integration][root][svc]") {
    constexpr int kRuns = 50;
    Pod traced("svc-events-pod"), other("svc-events-other");
    TracerNode node;
    Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());

    auto hooks = svc.get("/v1/trace-hooks");
    REQUIRE(hooks);
    REQUIRE(hooks->status == 200);
    auto description = json::serialize(
        json::parse(hooks->body).at("trace-hooks/ftrace").at("Tracers").at("trace_events").at("Description"));
    CHECK_THAT(description, Catch::Contains("-e, --event SYSTEM:EVENT"));
    CHECK_THAT(description, Catch::Contains("sched ("));

    auto create = [&](const std::string& args) {
        auto r = svc.send("POST", "/v1/trace-session",
                          json::serialize(json::object{{"pod", "svc-events-pod"}, {"container", "*"},
                                                       {"trace-hook", "trace_events"}, {"trace-arguments", args}}));
        REQUIRE(r);
        INFO(r->body);
        REQUIRE(r->status == 200);
        return std::string(json::parse(r->body).as_object().begin()->key());
    };
    auto id = create(R"(-e sched:sched_process_exit -f 'comm == "true"')");
    auto started = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    REQUIRE(started);
    REQUIRE(started->status == 200);
    const auto loop = fmt::format("i=0; while [ $i -lt {} ]; do /bin/true; i=$((i+1)); done", kRuns);
    traced.exec(loop);
    other.exec(loop);
    auto stopped = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": false})");
    REQUIRE(stopped);
    CHECK(stopped->status == 200);

    size_t exits = 0;
    for (const auto& e : node.events())
        if (e.at("session").as_string() == id) {
            CHECK(e.at("pod") == "svc-events-pod");
            exits += e.at("event") == "sched_process_exit" && e.at("task") == "true";
        }
    CHECK(exits == kRuns);
    CHECK(node.instances().empty());

    auto typo = create("-e signal:signal_generat");
    auto refused = svc.send("PUT", "/v1/trace-session/" + typo, R"({"Run": true})");
    REQUIRE(refused);
    CHECK(refused->status == 400);
    CHECK_THAT(refused->body, Catch::Contains("unknown event \\\"signal:signal_generat\\\""));
    CHECK(node.instances().empty());
}
