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

TEST_CASE("same-named pods of different nodes are never merged: namespace/pod, then @node", "[unit][svc]") {
    // Two namespaces: "web" in shop (n1) and in blog (n2); "db" without a namespace (procfs) on
    // both nodes; "solo" only on n2.
    auto m = merge_maps(
        {ok("n1", R"({"web":{"Containers":{"app":{"Id":"app","Pod":"web","Namespace":"shop","Tasks":[10],"Node":"worker-1"}}},
                      "db":{"Containers":{"db":{"Id":"db","Pod":"db","Tasks":[11],"Node":"worker-1"}}}})"),
         ok("n2", R"({"web":{"Containers":{"app":{"Id":"app","Pod":"web","Namespace":"blog","Tasks":[20],"Node":"worker-2"},
                                           "side":{"Id":"side","Pod":"web","Namespace":"blog","Tasks":[21],"Node":"worker-2"}}},
                      "db":{"Containers":{"db":{"Id":"db","Pod":"db","Tasks":[22],"Node":"worker-2"}}},
                      "solo":{"Containers":{"s":{"Id":"s","Pod":"solo","Tasks":[23],"Node":"worker-2"}}}})")},
        MergeKind::kPods);
    CHECK(m.response.status == 200);
    auto b = body_of(m);
    CHECK(b.size() == 5);
    REQUIRE(b.contains("shop/web"));
    REQUIRE(b.contains("blog/web"));
    auto shop = b.at("shop/web").at("Containers").as_object();
    REQUIRE(shop.size() == 1);
    CHECK(shop.at("app").at("Tasks") == json::array{10});
    CHECK(shop.at("app").at("Node") == "worker-1");
    auto blog = b.at("blog/web").at("Containers").as_object();
    CHECK(blog.size() == 2);
    CHECK(blog.at("app").at("Tasks") == json::array{20});
    REQUIRE(b.contains("db@worker-1"));
    REQUIRE(b.contains("db@worker-2"));
    CHECK(b.at("db@worker-1").at("Containers").at("db").at("Tasks") == json::array{11});
    CHECK(b.at("db@worker-2").at("Containers").at("db").at("Tasks") == json::array{22});
    CHECK(b.at("solo").at("Containers").at("s").at("Node") == "worker-2");
}

TEST_CASE("same pod and namespace on two nodes: namespace/pod@node; every container names its node",
          "[unit][svc]") {
    // n1's tracer-node predates the "Node" field: tracer-svc names it by its address.
    auto m = merge_maps({ok("10.0.0.1:8080", R"({"api":{"Containers":{"a":{"Id":"a","Pod":"api","Namespace":"prod","Tasks":[1]}}}})"),
                         ok("10.0.0.2:8080", R"({"api":{"Containers":{"a":{"Id":"a","Pod":"api","Namespace":"prod","Tasks":[2],"Node":"w2"}}}})")},
                        MergeKind::kPods);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    REQUIRE(b.contains("prod/api@10.0.0.1:8080"));
    REQUIRE(b.contains("prod/api@w2"));
    CHECK(b.at("prod/api@10.0.0.1:8080").at("Containers").at("a").at("Node") == "10.0.0.1:8080");
    CHECK(b.at("prod/api@w2").at("Containers").at("a").at("Tasks") == json::array{2});
}

TEST_CASE("two nodes that give the same node name are told apart by address", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"p":{"Containers":{"c":{"Id":"c","Pod":"p","Tasks":[1],"Node":"same"}}}})"),
                         ok("n2", R"({"p":{"Containers":{"c":{"Id":"c","Pod":"p","Tasks":[2],"Node":"same"}}}})")},
                        MergeKind::kPods);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    CHECK(b.contains("p@n1"));
    CHECK(b.contains("p@n2"));
}

TEST_CASE("a node's own namespace/pod keys are regrouped with the others", "[unit][svc]") {
    // A node keys the second of two same-named pods "<namespace>/<pod>"; merged, both are qualified.
    auto m = merge_maps({ok("n1", R"({"x":{"Containers":{"c":{"Id":"c","Pod":"x","Namespace":"a","Tasks":[1],"Node":"w"}}},
                                     "b/x":{"Containers":{"c":{"Id":"c","Pod":"x","Namespace":"b","Tasks":[2],"Node":"w"}}}})")},
                        MergeKind::kPods);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    CHECK(b.contains("a/x"));
    CHECK(b.contains("b/x"));
}

TEST_CASE("hook maps keep every directory and hook of every node", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"trace-hooks/ftrace":{"Tracers":{"x":{"Description":["x"],"Name":"x"},
                                                                      "same":{"Description":["s"],"Name":"same"}}}})"),
                         ok("n2", R"({"trace-hooks/ftrace":{"Tracers":{"y":{"Description":["y"],"Name":"y"},
                                                                      "same":{"Description":["s"],"Name":"same"}}},
                                     "other/h":{"Tracers":{"z":{"Description":["z"],"Name":"z"}}}})")},
                        MergeKind::kHooks);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    auto tracers = b.at("trace-hooks/ftrace").at("Tracers").as_object();
    CHECK(tracers.size() == 3);
    CHECK(tracers.at("same") == json::parse(R"({"Description":["s"],"Name":"same"})"));  // alike: shown once
    CHECK(b.at("other/h").at("Tracers").as_object().contains("z"));
}

TEST_CASE("a hook described differently by nodes shows every description with its nodes", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"d":{"Tracers":{"h":{"Description":["old"],"Name":"h"}}}})"),
                         ok("n2", R"({"d":{"Tracers":{"h":{"Description":["new"],"Name":"h"}}}})"),
                         ok("n3", R"({"d":{"Tracers":{"h":{"Description":["new"],"Name":"h"}}}})")},
                        MergeKind::kHooks);
    auto h = body_of(m).at("d").at("Tracers").at("h").as_object();
    CHECK(h.at("Name") == "h");
    CHECK(h.at("Description") == json::array{"new"});  // what most nodes ship
    auto variants = h.at("Variants").as_array();
    REQUIRE(variants.size() == 2);
    CHECK(variants[0] == json::parse(R"({"Description":["new"],"Nodes":["n2","n3"]})"));
    CHECK(variants[1] == json::parse(R"({"Description":["old"],"Nodes":["n1"]})"));
}

TEST_CASE("hook directories that cannot be merged are kept whole, once per distinct value", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"d":{"Tracers":{"h":{"Name":"h"}}}})"), ok("n2", R"({"d":"junk"})"),
                         ok("n3", R"({"d":"junk"})"), ok("n4", R"({"d":{"Tracers":{"h":"odd"}}})")},
                        MergeKind::kHooks);
    auto b = body_of(m);
    CHECK(b.size() == 2);
    CHECK(b.at("d@n2") == "junk");
    auto tracers = b.at("d").at("Tracers").as_object();
    CHECK(tracers.at("h") == json::parse(R"({"Name":"h"})"));
    CHECK(tracers.at("h@n4") == "odd");
}

TEST_CASE("replies merged as they arrive give the same answer in any order", "[unit][svc]") {
    std::vector<NodeReply> replies = {
        ok("n1", R"({"p":{"Containers":{"c":{"Pod":"p","Namespace":"a","Tasks":[1]}}},"q":{"Containers":{}}})"),
        dead("n2", "connect failed"),
        ok("n3", R"({"p":{"Containers":{"c":{"Pod":"p","Namespace":"b","Tasks":[3]}}},"q":{"Containers":{}}})")};
    auto in_order = merge_maps(replies, MergeKind::kPods);
    MapMerge reversed(MergeKind::kPods, replies.size());
    for (size_t i = replies.size(); i-- > 0;) reversed.add(i, replies[i]);
    auto r = reversed.finish();
    CHECK(r.response.body == in_order.response.body);
    CHECK(r.failed == in_order.failed);
    CHECK(body_of(r).size() == 4);  // a/p, b/p, q@n1, q@n3
}

TEST_CASE("pods read in place merge exactly as pods parsed into a tree", "[unit][svc]") {
    // Bodies inside and outside the in-place reader's subset (escapes, exponents, non-ASCII,
    // duplicates, odd shapes): the answers must mean the same either way.
    std::vector<std::string> bodies = {
        R"({"a":{"Containers":{"c":{"Id":"c","Parent":[1,2],"Pod":"a","Tasks":[3],"Namespace":"x"}}}})",
        R"( { "a" : { "Containers" : { "c" : { } , "d" : {"Node":null} } , "Extra" : [ true , false , null , -0.5 ] } } )",
        R"({"a":{"Containers":{"c":{"Pod":"a\u0062","Tasks":[1e2]}}},"b":[],"c":"text","d":12345678901234567890123})",
        R"({"a":{"Containers":{"c":{"Pod":"a","Pod":"b"}}}})",
        R"({"a":{"Containers":{"c":{"Pod":"é"}}},"a":{"Containers":{}}})",
        R"({"a":{"Containers":{"c":{"Node":"n","Namespace":"x","Pod":"a"}},"Containers":{}}})",
        R"({"a":{"Containers":[]},"b":{"Containers":"none"},"c":{"Containers":{"x":[],"y":{"Pod":7}}}})",
        R"({})",
    };
    for (size_t i = 0; i < bodies.size(); ++i)
        for (size_t j = 0; j < bodies.size(); ++j) {
            std::vector<NodeReply> replies = {ok("n1", bodies[i]), ok("n2", bodies[j]), ok("n3", bodies[i])};
            MapMerge in_place(MergeKind::kPods, replies.size()), tree(MergeKind::kPods, replies.size(), false);
            for (size_t k = 0; k < replies.size(); ++k) in_place.add(k, replies[k]), tree.add(k, replies[k]);
            auto a = in_place.finish(), b = tree.finish();
            INFO(bodies[i] << " | " << bodies[j]);
            CHECK(a.response.status == b.response.status);
            CHECK(json::parse(a.response.body) == json::parse(b.response.body));
        }
}

TEST_CASE("4xx from some nodes is not a failure when another succeeded", "[unit][svc]") {
    auto m = merge_maps({status("n1", 404, R"({"error":"no container matches"})"), ok("n2", R"({"7":{"Node":"b"}})")},
                        MergeKind::kSessions);
    CHECK(m.response.status == 200);
    CHECK(m.failed.empty());
    REQUIRE(m.owners.size() == 1);
    CHECK(m.owners[0] == std::pair<std::string, std::string>{"7", "n2"});
}

TEST_CASE("failed and timed-out nodes are reported beside a partial answer", "[unit][svc]") {
    auto m = merge_maps({ok("n1", R"({"p":{}})"), dead("n2", "read timed out after 5 ms"),
                         status("n3", 500, R"({"error":"boom"})"), ok("n4", "not json")},
                        MergeKind::kPods);
    CHECK(m.response.status == 200);
    REQUIRE(m.failed.size() == 3);
    CHECK(m.failed[0] == "n2: read timed out after 5 ms");
    CHECK(m.failed[1] == "n3: boom");
    CHECK(m.failed[2].find("n4") == 0);
}

TEST_CASE("every node refusing gives its status and reasons", "[unit][svc]") {
    auto same = merge_maps({status("n1", 404, R"({"error":"trace session 5 not found"})"),
                            status("n2", 404, R"({"error":"trace session 5 not found"})")},
                           MergeKind::kSessions);
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
    CHECK(merge_maps({}, MergeKind::kSessions).response.status == 404);
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
