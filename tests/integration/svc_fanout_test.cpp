// tracer-svc's fan-out against many stand-in nodes (svc_stand_ins.h: real HTTP over loopback, one
// thread for all of them): the FanoutClient on its own (concurrent calls, pooled connections, a
// call's deadline, replies handed over as they arrive, retries), and the real tracer-svc with 200
// nodes of which one hangs and one answers after 2 s, and its /readyz.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "tests/integration/svc_fixture.h"
#include "tests/integration/svc_stand_ins.h"
#include "tracer-svc/fanout/fanout_client.h"

using namespace ct::svctest;
using ct::svc::Call;
using ct::svc::FanoutClient;
using ct::svc::FanoutOptions;
using ct::svc::NodeAddress;
using ct::svc::NodeReply;
using Behaviour = StandInNodes::Behaviour;
using Clock = std::chrono::steady_clock;

namespace {

const Call kPods{"GET", "/v1/pods", ""};

std::vector<NodeAddress> addresses(const StandInNodes& nodes, size_t n) {
    std::vector<NodeAddress> out;
    for (size_t i = 0; i < n; ++i) out.push_back(ct::svc::make_node_address("127.0.0.1", nodes.ports()[i]));
    return out;
}

// n answering nodes, with the given exceptions.
std::vector<StandInNodes::Node> nodes_with(size_t n, std::vector<std::pair<size_t, StandInNodes::Node>> special) {
    std::vector<StandInNodes::Node> out;
    for (size_t i = 0; i < n; ++i) out.push_back({StandInNodes::pods_body(i)});
    for (auto& [i, node] : special) {
        node.body = StandInNodes::pods_body(i);
        out[i] = node;
    }
    return out;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

TEST_CASE("FanoutClient: concurrent calls to 300 nodes each get every node's answer on pooled connections",
          "[integration][svc]") {
    constexpr int kThreads = 6, kCalls = 4;
    StandInNodes nodes(300, 1);
    FanoutClient fan(FanoutOptions{.timeout = 20s, .max_idle_per_node = kThreads});
    auto all = addresses(nodes, 300);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            for (int c = 0; c < kCalls; ++c) {
                auto replies = fan.send(all, kPods);
                for (size_t i = 0; i < replies.size(); ++i)
                    if (!replies[i].ok() || replies[i].body != StandInNodes::pods_body(i) || replies[i].node != all[i].key)
                        ++wrong;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(wrong == 0);
    CHECK(nodes.requests() == size_t(300 * kThreads * kCalls));
    auto stats = fan.stats();
    CHECK(stats.connects + stats.reused == 300u * kThreads * kCalls);
    CHECK(stats.reused > 0);
    CHECK(stats.connects <= 300u * kThreads);  // never more connections than calls at once, all kept
}

TEST_CASE("FanoutClient: a hung node fails at the call's deadline, a late node within it answers",
          "[integration][svc]") {
    StandInNodes nodes(nodes_with(50, {{0, {.behaviour = Behaviour::kHang}},
                                       {1, {.behaviour = Behaviour::kLate, .delay = 300ms}}}));
    // Fewer in-flight slots than nodes: the queued exchanges share the call's deadline.
    FanoutClient fan(FanoutOptions{.timeout = 1500ms, .max_in_flight = 8});
    auto t0 = Clock::now();
    auto replies = fan.send(addresses(nodes, 50), kPods);
    double took = seconds_since(t0);
    REQUIRE(replies.size() == 50);
    REQUIRE(replies[0].failure);
    CHECK(*replies[0].failure == "read timed out after 1500 ms");
    for (size_t i = 1; i < 50; ++i) {
        INFO(i << ": " << replies[i].failure.value_or(""));
        CHECK(replies[i].ok());
        CHECK(replies[i].body == StandInNodes::pods_body(i));
    }
    CHECK(took >= 1.5);
    CHECK(took < 1.5 + 5);  // the hung node did not hold the call past its deadline (bound generous for sanitizers)
    // The hung node's connection was closed, not pooled: the next call times out on a new one.
    auto again = fan.send(addresses(nodes, 1), kPods);
    CHECK(again[0].failure.value_or("").find("timed out") != std::string::npos);
}

TEST_CASE("FanoutClient: replies are handed over as they arrive, on the client's thread", "[integration][svc]") {
    StandInNodes nodes(nodes_with(20, {{3, {.behaviour = Behaviour::kLate, .delay = 400ms}}}));
    FanoutClient fan(FanoutOptions{.timeout = 10s});
    std::vector<size_t> order;
    std::set<std::thread::id> threads;
    fan.send(addresses(nodes, 20), kPods, [&](size_t i, NodeReply reply) {
        CHECK(reply.ok());
        order.push_back(i);
        threads.insert(std::this_thread::get_id());
    });
    REQUIRE(order.size() == 20);
    CHECK(order.back() == 3u);  // the late one last, the others before it came
    CHECK(std::set<size_t>(order.begin(), order.end()).size() == 20);
    CHECK(threads.size() == 1);
    CHECK_FALSE(threads.contains(std::this_thread::get_id()));
}

TEST_CASE("FanoutClient: a pooled connection the node closed is retried once on a new one", "[integration][svc]") {
    StandInNodes nodes(nodes_with(3, {{1, {.behaviour = Behaviour::kAnswerThenClose}}}));
    FanoutClient fan(FanoutOptions{.timeout = 10s});
    auto all = addresses(nodes, 3);
    for (int round = 0; round < 3; ++round) {
        auto replies = fan.send(all, kPods);
        for (const auto& r : replies) {
            INFO(r.node << ": " << r.failure.value_or(""));
            CHECK(r.ok());
        }
    }
    // Nodes 0 and 2 kept their connection; node 1 needed a new one each round.
    CHECK(fan.stats().connects == 2u + 3u);
}

TEST_CASE("FanoutClient: a node that refuses connections is named with the reason", "[integration][svc]") {
    unsigned short closed = ct::test::free_port();  // nothing listens there
    FanoutClient fan(FanoutOptions{.timeout = 5s});
    auto replies = fan.send({ct::svc::make_node_address("127.0.0.1", closed)}, kPods);
    REQUIRE(replies[0].failure);
    CHECK(replies[0].failure->find("connect failed") != std::string::npos);
}

TEST_CASE("svc with 200 nodes, one hung and one answering after 2 s: complete for the others by --node-timeout, "
          "failed nodes named, other requests not held up",
          "[integration][svc]") {
    StandInNodes nodes(nodes_with(200, {{0, {.behaviour = Behaviour::kHang}},
                                        {1, {.behaviour = Behaviour::kLate, .delay = 2000ms}}}));
    TempDir tmp;
    const auto hung = nodes.key(0), slow = nodes.key(1);

    SECTION("--node-timeout 3000: the slow node is in, the hung one named") {
        auto log = tmp.path() / "svc.log";
        Svc svc({"--nodes", nodes.list(200), "--node-timeout", "3000", "--poll", "60"}, {}, log);
        REQUIRE(svc.started());
        REQUIRE(wait_status(svc.port(), "/readyz"));  // 199 of 200 answer

        auto t0 = Clock::now();
        auto first = std::async(std::launch::async, [&] {
            auto r = call(svc.port(), "GET", "/v1/pods", {}, 30s);
            return std::make_pair(std::move(r), seconds_since(t0));
        });
        std::this_thread::sleep_for(300ms);
        // Sent while the first waits for the hung node.
        auto second = std::async(std::launch::async, [&] {
            auto r = call(svc.port(), "GET", "/v1/pods", {}, 30s);
            return std::make_pair(std::move(r), seconds_since(t0));
        });
        std::vector<std::pair<std::string, double>> quick;  // path, when it answered
        for (const char* path : {"/healthz", "/readyz", "/metrics", "/v1/trace-session/all"}) {
            auto r = call(svc.port(), "GET", path, {}, 30s);
            REQUIRE(r);
            if (std::string(path) != "/v1/trace-session/all") CHECK(r->status == 200);
            quick.emplace_back(path, seconds_since(t0));
        }
        auto [r1, t1] = first.get();
        auto [r2, t2] = second.get();
        REQUIRE(r1);
        CHECK(r1->status == 200);
        CHECK(json_of(*r1).size() == 199);
        CHECK_FALSE(json_of(*r1).contains("pod-0-0"));
        CHECK(json_of(*r1).contains("pod-1-0"));  // the slow node, within the deadline
        CHECK(header(*r1, "x-tracer-failed-nodes") == hung);
        CHECK(header(*r1, "x-tracer-nodes") == "200");
        CHECK(t1 >= 3.0);
        CHECK(t1 < 3.0 + 5);  // by the deadline, not by the hung node (bound generous for sanitizers)
        REQUIRE(r2);
        CHECK(json_of(*r2).size() == 199);
        // The second ran beside the first, not after it.
        CHECK(t2 < t1 + 2.5);
        // Requests that ask no node (/healthz, /readyz, /metrics) answered while the first waited;
        // the session list (every node, the hung one too) took its own deadline.
        for (const auto& [path, at] : quick) {
            INFO(path);
            if (path != "/v1/trace-session/all") CHECK(at < t1);
        }
        std::string text = read_file(log);
        CHECK(text.find(fmt::format("GET /v1/pods: 1 of 200 nodes failed: {}: read timed out after 3000 ms", hung)) !=
              std::string::npos);
    }

    SECTION("--node-timeout 1000: both named, the others' answer by then") {
        Svc svc({"--nodes", nodes.list(200), "--node-timeout", "1000", "--poll", "60"});
        REQUIRE(svc.started());
        REQUIRE(wait_status(svc.port(), "/readyz"));
        auto t0 = Clock::now();
        auto r = svc.get("/v1/pods");
        double took = seconds_since(t0);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(json_of(*r).size() == 198);
        auto failed = header(*r, "x-tracer-failed-nodes");
        CHECK(failed.find(hung) != std::string::npos);
        CHECK(failed.find(slow) != std::string::npos);
        CHECK(took < 1.0 + 5);
        // The slow node's late answer did not end up in a later answer.
        auto again = svc.get("/v1/pods");
        REQUIRE(again);
        CHECK(json_of(*again).size() == 198);
    }
}

TEST_CASE("svc /readyz: 503 while no node answers, 200 while one does, from a cached state", "[integration][svc]") {
    SECTION("no node answers: 503 naming why") {
        unsigned short closed = ct::test::free_port();
        Svc svc({"--nodes", fmt::format("127.0.0.1:{}", closed), "--poll", "1", "--node-timeout", "500"});
        REQUIRE(svc.started());
        REQUIRE(wait_listed(svc.port()));
        ct::http::ClientResponse r;
        for (int i = 0; i < 100; ++i) {  // until the first probe ended
            r = *svc.get("/readyz");
            if (r.body.find("asked yet") == std::string::npos) break;
            std::this_thread::sleep_for(100ms);
        }
        CHECK(r.status == 503);
        CHECK(json_of(r).at("error").as_string().find("connect failed") != std::string::npos);
        CHECK(json_of(r).at("nodes").as_int64() == 1);
    }
    SECTION("a node answers: 200; it stops answering: 503 after the next poll") {
        StandInNodes nodes(2, 1);
        Svc svc({"--nodes", nodes.list(2), "--poll", "1", "--node-timeout", "500"});
        REQUIRE(svc.started());
        REQUIRE(wait_status(svc.port(), "/readyz", 200));
        // Probes answer from the cached state: 20 of them ask no node.
        size_t before = nodes.requests();
        for (int i = 0; i < 20; ++i) REQUIRE(svc.get("/readyz")->status == 200);
        CHECK(nodes.requests() - before <= 2 * 2);  // at most the poll's own probes meanwhile
        // One node hanging is not a reason to be unready; both are.
        nodes.set_behaviour(0, Behaviour::kHang);
        std::this_thread::sleep_for(2500ms);
        CHECK(svc.get("/readyz")->status == 200);
        nodes.set_behaviour(1, Behaviour::kHang);
        REQUIRE(wait_status(svc.port(), "/readyz", 503, 20s));
        auto r = svc.get("/readyz");
        CHECK(json_of(*r).at("error").as_string().find("timed out after 500 ms") != std::string::npos);
        // Back: ready again.
        nodes.set_behaviour(1, Behaviour::kAnswer);
        CHECK(wait_status(svc.port(), "/readyz", 200, 20s));
    }
}
