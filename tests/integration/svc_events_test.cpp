// The trace_events hook through tracer-svc, unchanged: listed with its description, a session
// created, run and stopped through the svc on a real tracer-node with real ftrace, a typo refused
// with the hook's error, a signal sent to the pod from outside exported (docs/hooks.md,
// "trace_events").
#include <catch2/catch.hpp>

#include <csignal>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"
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

TEST_CASE("a trace_events session through tracer-svc exports a signal sent to its pod from outside",
          "[integration][root][svc]") {
    Pod traced("svc-sig-pod", 1);
    auto target = traced.sleepers();
    REQUIRE(target.size() == 1);
    auto outsider = ct::Subprocess::spawn({.argv = {"sleep", "30"}, .capture_stdout = false, .capture_stderr = false});
    REQUIRE(outsider);
    TracerNode node;
    Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());

    auto created = svc.send("POST", "/v1/trace-session",
                            json::serialize(json::object{{"pod", "svc-sig-pod"}, {"container", "*"},
                                                         {"trace-hook", "trace_events"},
                                                         {"trace-arguments", "-e signal:signal_generate"}}));
    REQUIRE(created);
    REQUIRE(created->status == 200);
    const std::string id(json::parse(created->body).as_object().begin()->key());
    auto started = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    REQUIRE(started);
    REQUIRE(started->status == 200);
    // Sent by this test process, outside the pod; SIGUSR1 ends the sleeper.
    REQUIRE(::kill(target[0], SIGUSR1) == 0);
    REQUIRE(::kill(outsider->pid(), SIGUSR1) == 0);
    auto stopped = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": false})");
    REQUIRE(stopped);
    CHECK(stopped->status == 200);

    size_t to_target = 0;
    for (const auto& e : node.events()) {
        if (e.at("session").as_string() != id) continue;
        CHECK(e.at("pod") == "svc-sig-pod");
        CHECK(e.at("fields").at("pid") != outsider->pid());
        if (e.at("fields").at("pid") == target[0]) {
            CHECK(e.at("fields").at("sig") == SIGUSR1);
            CHECK(e.at("container") == "svc-sig-pod");
            ++to_target;
        }
    }
    CHECK(to_target == 1);
    CHECK(node.instances().empty());
}
