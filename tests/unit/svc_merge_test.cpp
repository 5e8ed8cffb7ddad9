// Pure tracer-svc logic: merging node answers, node list parsing, request validation.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tracer-svc/api/svc_api.h"
#include "tracer-svc/merge/merge.h"
#include "tracer-svc/nodes/static_source.h"

using namespace ct::svc;
namespace json = boost::json;

namespace {
NodeReply ok(std::string node, std::string body) { return {std::move(node), std::nullopt, 200, std::move(body)}; }
NodeReply status(std::string node, int s, std::string body) { return {std::move(node), std::nullopt, s, std::move(body)}; }
NodeReply dead(std::string node, std::string why) { return {std::move(node), std::move(why), 0, ""}; }
json::object body_of(const Merged& m) { return json::parse(m.response.body).as_object(); }
}  // namespace

TEST_CASE("pods maps are unioned, same pod's containers merged", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"p1":{"Containers":{"a":{"Id":"a"}}},"p2":{"Containers":{}}})"),
                         ok("n2", R"({"p1":{"Containers":{"b":{"Id":"b"}}},"p3":{"Containers":{}}})")},
                        MergeDepth::kNested);
    CHECK(m.response.status == 200);
    auto b = body_of(m);
    CHECK(b.size() == 3);
    CHECK(b.at("p1").at("Containers").as_object().size() == 2);
    CHECK(m.failed.empty());
}

TEST_CASE("hook maps union their Tracers", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"trace-hooks/ftrace":{"Tracers":{"x":{"Name":"x"}}}})"),
                         ok("n2", R"({"trace-hooks/ftrace":{"Tracers":{"y":{"Name":"y"}}},"other/h":{"Tracers":{}}})")},
                        MergeDepth::kNested);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    CHECK(b.at("trace-hooks/ftrace").at("Tracers").as_object().size() == 2);
}

TEST_CASE("4xx from some nodes is not a failure when another succeeded", "[unit][svc]") {
    auto m = merge_maps({status("n1", 404, R"({"error":"no container matches"})"), ok("n2", R"({"7":{"Node":"b"}})")},
                        MergeDepth::kTopLevel);
    CHECK(m.response.status == 200);
    CHECK(m.failed.empty());
    REQUIRE(m.owners.size() == 1);
    CHECK(m.owners[0] == std::pair<std::string, std::string>{"7", "n2"});
}

TEST_CASE("failed and timed-out nodes are reported beside a partial answer", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"p":{}})"), dead("n2", "read timed out after 5 ms"),
                         status("n3", 500, R"({"error":"boom"})"), ok("n4", "not json")},
                        MergeDepth::kNested);
    CHECK(m.response.status == 200);
    REQUIRE(m.failed.size() == 3);
    CHECK(m.failed[0] == "n2: read timed out after 5 ms");
    CHECK(m.failed[1] == "n3: boom");
    CHECK(m.failed[2].find("n4") == 0);
}

TEST_CASE("every node refusing gives its status and reasons", "[unit][svc]") {
    auto same = merge_maps({status("n1", 404, R"({"error":"trace session 5 not found"})"),
                            status("n2", 404, R"({"error":"trace session 5 not found"})")},
                           MergeDepth::kTopLevel);
    CHECK(same.response.status == 404);
    CHECK(body_of(same).at("error").as_string() == "trace session 5 not found");

    auto mixed = merge_empty({status("n1", 404, R"({"error":"no pod"})"), status("n2", 400, R"({"error":"bad"})"),
                              dead("n3", "connect failed")});
    CHECK(mixed.response.status == 400);
    auto msg = std::string(body_of(mixed).at("error").as_string());
    CHECK(msg.find("n1: no pod") != std::string::npos);
    CHECK(msg.find("n2: bad") != std::string::npos);
    CHECK(msg.find("n3: connect failed") != std::string::npos);
}

TEST_CASE("every node failing gives 502 naming them", "[unit][svc]") {
    auto m = merge_empty({dead("n1", "connect failed: refused"), status("n2", 503, "")});
    CHECK(m.response.status == 502);
    auto msg = std::string(body_of(m).at("error").as_string());
    CHECK(msg.find("n1: connect failed: refused") != std::string::npos);
    CHECK(msg.find("n2: status 503") != std::string::npos);
    CHECK(merge_empty({ok("n1", "{}"), dead("n2", "x")}).response.body == "{}");
}

TEST_CASE("no nodes at all: 404 saying so", "[unit][svc]") {
    CHECK(merge_maps({}, MergeDepth::kTopLevel).response.status == 404);
}

TEST_CASE("static node list parsing", "[unit][svc]") {
    auto n = parse_node_list("127.0.0.2:90, 127.0.0.1:80,[::1]:70,127.0.0.1:80");
    REQUIRE(n);
    REQUIRE(n->size() == 3);
    CHECK((*n)[0].key == "127.0.0.1:80");
    CHECK((*n)[1].key == "127.0.0.2:90");
    CHECK((*n)[2].key == "[::1]:70");
    CHECK((*n)[2].host == "::1");
    CHECK_FALSE(parse_node_list(""));
    CHECK_FALSE(parse_node_list("host"));
    CHECK_FALSE(parse_node_list(":80"));
    CHECK_FALSE(parse_node_list("h:0"));
    CHECK(parse_node_list("h:x").error().message.find("h:x") != std::string::npos);
}

TEST_CASE("session id and body validation", "[unit][svc]") {
    CHECK(check_session_id("all").value() == std::nullopt);
    CHECK(check_session_id("18446744073709551615").value() == "18446744073709551615");
    CHECK_FALSE(check_session_id("18446744073709551616"));
    CHECK_FALSE(check_session_id("abc"));
    CHECK_FALSE(check_session_id(""));
    CHECK(check_run_body(R"({"Run": true})"));
    CHECK_FALSE(check_run_body(R"({"Run": 1})"));
    CHECK_FALSE(check_run_body(R"({})"));
    CHECK_FALSE(check_run_body("nope"));
    CHECK(check_session_spec(R"({"pod":"x","container":"*","trace-hook":"trace_syscalls"})"));
    CHECK_FALSE(check_session_spec("[]"));
}
