// tracer-svc against real tracer-node processes on loopback. Each node runs in its own PID
// namespace with its own /proc (NamespacedNode), so node1 sees only pod-a1/pod-a2/pod-same and
// node2 only pod-b1/pod-same (one name on two machines: two entries, never one); their fake hook
// managers share the directory name "shared" with different hooks, so the merged hook map must
// union the nested "Tracers".
#include <catch2/catch.hpp>

#include "tests/integration/svc_fixture.h"

using namespace ct::svctest;
namespace json = boost::json;

namespace {

struct Cluster {
    TempDir tmp;
    NamespacedNode node1, node2;

    Cluster()
        : node1("node1", free_port(), tmp.path() / "a" / "hooks", {"pod-a1", "pod-a2", "pod-same"},
                tmp.path() / "node1.log"),
          node2("node2", free_port(), tmp.path() / "b" / "hooks", {"pod-b1", "pod-same"}, tmp.path() / "node2.log") {
        make_fake_hooks(tmp.path() / "a" / "hooks", "shared", "hook_a common");
        make_fake_hooks(tmp.path() / "b" / "hooks", "shared", "hook_b common");
        REQUIRE(node1.start());
        REQUIRE(node2.start());
    }
    std::string nodes_flag() const { return node1.key() + "," + node2.key(); }
};

std::string session_body(const std::string& pod, const std::string& hook) {
    return json::serialize(json::object{{"pod", pod}, {"container", "*"}, {"trace-hook", hook},
                                        {"trace-arguments", ""}, {"trace-user-context", "svc-test"}});
}

}  // namespace

TEST_CASE("svc merges pods, hooks and sessions of every node", "[integration][root][svc]") {
    Cluster c;
    Svc svc({"--nodes", c.nodes_flag(), "--poll", "1", "--node-timeout", "3000"});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));

    auto pods = svc.get("/v1/pods");
    REQUIRE(pods);
    CHECK(pods->status == 200);
    auto pm = json_of(*pods);
    CHECK(pm.size() == 5);
    CHECK(pm.contains("pod-a1"));
    CHECK(pm.contains("pod-a2"));
    CHECK(pm.contains("pod-b1"));
    CHECK(pm.at("pod-b1").at("Containers").as_object().size() == 1);
    // Every container names its node; the same pod name on two nodes is two entries, each with
    // only its own node's processes (as that node answers them: PIDs of two namespaces may be
    // the same numbers).
    for (const auto& [pod, entry] : pm)
        for (const auto& [name, c] : entry.at("Containers").as_object()) {
            INFO(std::string(pod) << "/" << std::string(name));
            CHECK(c.at("Node") == (pod.starts_with("pod-a") || pod.ends_with("@node1") ? "node1" : "node2"));
        }
    REQUIRE(pm.contains("pod-same@node1"));
    REQUIRE(pm.contains("pod-same@node2"));
    auto tasks_of = [&](const char* key) {
        auto containers = pm.at(key).at("Containers").as_object();
        REQUIRE(containers.size() == 1);
        return containers.begin()->value().at("Tasks").as_array();
    };
    auto t1 = tasks_of("pod-same@node1"), t2 = tasks_of("pod-same@node2");
    CHECK_FALSE(t1.empty());
    CHECK_FALSE(t2.empty());
    auto own_tasks = [](const NamespacedNode& node) {
        auto r = call(node.port(), "GET", "/v1/pods");
        REQUIRE(r);
        auto containers = json_of(*r).at("pod-same").at("Containers").as_object();
        REQUIRE(containers.size() == 1);
        return containers.begin()->value().at("Tasks").as_array();
    };
    CHECK(t1 == own_tasks(c.node1));
    CHECK(t2 == own_tasks(c.node2));
    CHECK(header(*pods, "x-tracer-failed-nodes").empty());
    CHECK(header(*pods, "x-tracer-nodes") == "2");

    auto hooks = svc.get("/v1/trace-hooks");
    REQUIRE(hooks);
    CHECK(hooks->status == 200);
    auto hm = json_of(*hooks);
    REQUIRE(hm.contains("hooks/shared"));
    auto tracers = hm.at("hooks/shared").at("Tracers").as_object();
    CHECK(tracers.contains("hook_a"));
    CHECK(tracers.contains("hook_b"));
    CHECK(tracers.contains("common"));
    CHECK_FALSE(tracers.at("common").as_object().contains("Variants"));  // described alike by both

    // A session on every node with matching containers: pod "*" matches on both.
    auto both = svc.send("POST", "/v1/trace-session", session_body("*", "common"));
    REQUIRE(both);
    REQUIRE(both->status == 200);
    auto bm = json_of(*both);
    REQUIRE(bm.size() == 2);
    std::set<std::string> nodes_seen;
    for (const auto& [id, s] : bm) nodes_seen.insert(std::string(s.at("Node").as_string()));
    CHECK(nodes_seen == std::set<std::string>{"node1", "node2"});

    // Only node2 has pod-b1: one session, node1's 404 is not a failure.
    auto one = svc.send("POST", "/v1/trace-session", session_body("pod-b*", "common"));
    REQUIRE(one);
    REQUIRE(one->status == 200);
    auto om = json_of(*one);
    REQUIRE(om.size() == 1);
    CHECK(om.begin()->value().at("Node").as_string() == "node2");
    CHECK(header(*one, "x-tracer-failed-nodes").empty());

    // No node matches: 404 with the nodes' reasons.
    auto none = svc.send("POST", "/v1/trace-session", session_body("no-such-pod", "common"));
    REQUIRE(none);
    CHECK(none->status == 404);
    CHECK(json_of(*none).at("error").as_string().size() > 0);

    // all: the union of every node's sessions; a single id: found on its node.
    auto all = svc.get("/v1/trace-session/all");
    REQUIRE(all);
    CHECK(all->status == 200);
    CHECK(json_of(*all).size() == 3);
    std::string id = std::string(om.begin()->key());
    auto single = svc.get("/v1/trace-session/" + id);
    REQUIRE(single);
    CHECK(single->status == 200);
    CHECK(json_of(*single).contains(id));
    auto unknown = svc.get("/v1/trace-session/12345");
    REQUIRE(unknown);
    CHECK(unknown->status == 404);

    // DELETE all reaches every node.
    auto del = svc.send("DELETE", "/v1/trace-session/all");
    REQUIRE(del);
    CHECK(del->status == 200);
    CHECK(del->body == "{}");
    auto after = svc.get("/v1/trace-session/all");
    REQUIRE(after);
    CHECK(json_of(*after).empty());
}

TEST_CASE("svc sends PUT and DELETE of an id only to the node that owns it", "[integration][root][svc]") {
    Cluster c;
    Svc svc({"--nodes", c.nodes_flag(), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));

    auto created = svc.send("POST", "/v1/trace-session", session_body("pod-a1", "hook_a"));
    REQUIRE(created);
    REQUIRE(created->status == 200);
    auto cm = json_of(*created);
    REQUIRE(cm.size() == 1);
    std::string id(cm.begin()->key());
    CHECK(cm.begin()->value().at("Node").as_string() == "node1");

    auto put = svc.send("PUT", "/v1/trace-session/" + id, R"({"Run": false})");
    REQUIRE(put);
    CHECK(put->status == 200);
    CHECK(put->body == "{}");
    auto del = svc.send("DELETE", "/v1/trace-session/" + id);
    REQUIRE(del);
    CHECK(del->status == 200);

    // The owner saw the PUT and DELETE; the other node never did (its request counters).
    auto m1 = c.node1.metrics(), m2 = c.node2.metrics();
    CHECK(m1.find("method=\"PUT\"") != std::string::npos);
    CHECK(m1.find("method=\"DELETE\"") != std::string::npos);
    CHECK(m2.find("method=\"PUT\"") == std::string::npos);
    CHECK(m2.find("method=\"DELETE\"") == std::string::npos);

    // Deleted: the id is forgotten, so the next DELETE asks everyone, and everyone says 404.
    auto again = svc.send("DELETE", "/v1/trace-session/" + id);
    REQUIRE(again);
    CHECK(again->status == 404);
    CHECK(c.node2.metrics().find("method=\"DELETE\"") != std::string::npos);
}

TEST_CASE("svc waits for a node's slow hook stop past --node-timeout, up to --node-session-timeout",
          "[integration][root][svc]") {
    Cluster c;
    // Short enough that a stop (kFakeHookStopSeconds) outlasts it; reads still answer in time.
    Svc svc({"--nodes", c.nodes_flag(), "--node-timeout", "700"});
    Svc impatient({"--nodes", c.nodes_flag(), "--node-timeout", "700", "--node-session-timeout", "1000"});
    REQUIRE(svc.started());
    REQUIRE(impatient.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));
    REQUIRE(wait_status(impatient.port(), "/readyz"));
    auto created = svc.send("POST", "/v1/trace-session", session_body("pod-a1", "hook_a"));
    REQUIRE(created);
    REQUIRE(created->status == 200);
    std::string id(json_of(*created).begin()->key());
    auto target = "/v1/trace-session/" + id;
    auto running = [&] {
        auto r = call(c.node1.port(), "GET", target);
        REQUIRE(r);
        REQUIRE(r->status == 200);
        return json_of(*r).at(id).at("Running").as_bool();
    };

    // The session-change timeout (default 60 s) covers the node's stop.
    REQUIRE(svc.send("PUT", target, R"({"Run": true})")->status == 200);
    CHECK(running());
    auto stopped = call(svc.port(), "PUT", target, R"({"Run": false})", 30s);
    REQUIRE(stopped);
    CHECK(stopped->status == 200);
    CHECK_FALSE(running());

    // Set shorter than the stop, it is what fails the node: by name, as a timeout.
    REQUIRE(call(c.node1.port(), "PUT", target, R"({"Run": true})")->status == 200);
    REQUIRE(impatient.get(target)->status == 200);  // now it knows the owner: the PUT goes only there
    auto cut = call(impatient.port(), "PUT", target, R"({"Run": false})", 30s);
    REQUIRE(cut);
    CHECK(cut->status == 502);
    CHECK(cut->body.find(c.node1.key()) != std::string::npos);
    CHECK(cut->body.find("timed out after 1000 ms") != std::string::npos);
    // The node finishes the stop by itself.
    bool ended = false;
    for (int i = 0; i < 100 && !ended; ++i) {
        ended = !running();
        if (!ended) std::this_thread::sleep_for(100ms);
    }
    CHECK(ended);
    REQUIRE(svc.send("DELETE", target)->status == 200);
}

TEST_CASE("svc rejects bad input locally like tracer-node", "[integration][root][svc]") {
    Cluster c;
    Svc svc({"--nodes", c.nodes_flag()});
    REQUIRE(svc.started());
    struct Case {
        std::string method, target, body;
        int status;
    };
    std::vector<Case> cases = {
        {"GET", "/v1/trace-session/abc", "", 400},
        {"GET", "/v1/trace-session/-1", "", 400},
        {"PUT", "/v1/trace-session/all", R"({"Run": true})", 400},
        {"PUT", "/v1/trace-session/42", "{not json", 400},
        {"PUT", "/v1/trace-session/42", R"({"Run": "yes"})", 400},
        {"POST", "/v1/trace-session", "[1,2]", 400},
        {"POST", "/v1/trace-session", "", 400},
        {"GET", "/v1/nothing", "", 404},
        {"DELETE", "/v1/pods", "", 405},
        {"POST", "/v1/trace-session", std::string(2 << 20, 'x'), 413},
    };
    for (const auto& k : cases) {
        INFO(k.method << " " << k.target);
        auto r = svc.send(k.method, k.target, k.body);
        REQUIRE(r);
        CHECK(r->status == k.status);
        CHECK(json_of(*r).contains("error"));
    }
    // None of the locally rejected requests reached a node.
    CHECK(c.node1.metrics().find("method=\"PUT\"") == std::string::npos);
    CHECK(c.node1.metrics().find("method=\"POST\"") == std::string::npos);
}

TEST_CASE("a killed node is named and a hung node times out and a node that comes back rejoins",
          "[integration][root][svc]") {
    Cluster c;
    HangingNode hung;
    Svc svc({"--nodes", c.nodes_flag() + "," + hung.key(), "--node-timeout", "700"});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));

    // The hung node times out; the others' answers still arrive.
    auto r1 = svc.get("/v1/pods");
    REQUIRE(r1);
    CHECK(r1->status == 200);
    CHECK(json_of(*r1).size() == 5);
    CHECK(header(*r1, "x-tracer-failed-nodes") == hung.key());

    // node2 dies mid-test.
    c.node2.kill();
    auto r2 = svc.get("/v1/pods");
    REQUIRE(r2);
    CHECK(r2->status == 200);
    auto m2 = json_of(*r2);
    CHECK(m2.size() == 3);
    CHECK_FALSE(m2.contains("pod-b1"));
    CHECK(m2.contains("pod-same"));  // one node has it now: no need to say which
    auto failed = header(*r2, "x-tracer-failed-nodes");
    CHECK(failed.find(c.node2.key()) != std::string::npos);
    CHECK(failed.find(hung.key()) != std::string::npos);
    CHECK(failed.find(c.node1.key()) == std::string::npos);

    // It comes back on the same address: the pooled connection to the old process is dead, a new one works.
    REQUIRE(c.node2.start());
    auto r3 = svc.get("/v1/pods");
    REQUIRE(r3);
    CHECK(json_of(*r3).contains("pod-b1"));
    CHECK(header(*r3, "x-tracer-failed-nodes") == hung.key());

    // Every node down: 502 naming each.
    c.node1.kill();
    c.node2.kill();
    auto r4 = svc.get("/v1/pods");
    REQUIRE(r4);
    CHECK(r4->status == 502);
    auto err = std::string(json_of(*r4).at("error").as_string());
    CHECK(err.find(c.node1.key()) != std::string::npos);
    CHECK(err.find(hung.key()) != std::string::npos);
    CHECK(err.find("timed out") != std::string::npos);
}

TEST_CASE("tracer-svc rejects invalid flags with exit code 2", "[integration][svc]") {
    auto bin = std::string(CT_BINARY_DIR) + "/tracer-svc/tracer-svc";
    for (std::vector<std::string> args : {std::vector<std::string>{"--nodes", "nohost"},
                                          {"--nodes", "a:0"},
                                          {"--poll", "0", "--nodes", "127.0.0.1:1"},
                                          {"--node-timeout", "x", "--nodes", "127.0.0.1:1"},
                                          {"--address", "bad", "--nodes", "127.0.0.1:1"},
                                          {"--nodes-dns", "noport"},
                                          {"--kube-credentials", "/nonexistent", "--kube-api", "127.0.0.1:1"}}) {
        args.insert(args.begin(), bin);
        ct::SpawnOptions o;
        o.argv = args;
        auto r = ct::run_capture(o, 10s);
        REQUIRE(r);
        INFO(args[1] << " " << args[2] << ": " << r->err);
        CHECK(r->status.code == 2);
        CHECK_FALSE(r->err.empty());
    }
    ct::SpawnOptions o;
    o.argv = {bin, "--help"};
    auto help = ct::run_capture(o, 10s);
    REQUIRE(help);
    CHECK(help->status.code == 0);
    for (const char* flag : {"--address", "--poll", "--pods-selector", "--svc-selector", "--verbose", "--nodes",
                             "--nodes-dns", "--node-timeout", "--dns-server", "TRACE_KUBE_API_ADDRESS"})
        CHECK(help->out.find(flag) != std::string::npos);
}
