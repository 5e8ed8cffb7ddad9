// Pure endpoint selection: normalisation, candidate order, choice with --pod-name.
#include <catch2/catch.hpp>

#include "tracer-node/discovery/source_select.h"

using namespace ct;
using namespace ct::node;

TEST_CASE("endpoints normalise to unix:// targets", "[unit][cri]") {
    CHECK(normalize_endpoint("unix:///run/containerd/containerd.sock").value() ==
          "unix:///run/containerd/containerd.sock");
    CHECK(normalize_endpoint("/var/run/crio/crio.sock").value() == "unix:///var/run/crio/crio.sock");
    for (const char* bad : {"tcp://127.0.0.1:1234", "relative/sock", "unix://relative", "", "npipe:////./pipe/x"}) {
        INFO(bad);
        auto r = normalize_endpoint(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::kInvalidArgument);
        CHECK_THAT(r.error().message, Catch::Contains(bad));
    }
}

TEST_CASE("a configured endpoint is the only candidate", "[unit][cri]") {
    DiscoveryConfig config;
    config.cri_endpoint = "/tmp/x/containerd.sock";
    auto c = endpoint_candidates(config);
    REQUIRE(c);
    REQUIRE(c->size() == 1);
    CHECK(c->front().endpoint == "unix:///tmp/x/containerd.sock");
    CHECK(c->front().path == "/tmp/x/containerd.sock");
    CHECK(c->front().runtime == "configured");

    config.cri_endpoint = "tcp://node:10010";
    auto bad = endpoint_candidates(config);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::kInvalidArgument);
}

TEST_CASE("known sockets under each run path, in probe order", "[unit][cri]") {
    DiscoveryConfig config;  // run_paths /run, /var/run
    auto c = endpoint_candidates(config);
    REQUIRE(c);
    std::vector<std::string> paths;
    for (const auto& x : *c) paths.push_back(x.path);
    CHECK(paths == std::vector<std::string>{
                       "/run/containerd/containerd.sock", "/run/crio/crio.sock", "/run/cri-dockerd.sock",
                       "/run/k3s/containerd/containerd.sock", "/var/run/containerd/containerd.sock",
                       "/var/run/crio/crio.sock", "/var/run/cri-dockerd.sock",
                       "/var/run/k3s/containerd/containerd.sock"});
    CHECK(c->at(1).runtime == "cri-o");
    CHECK(c->at(1).endpoint == "unix:///run/crio/crio.sock");
    CHECK_THAT(c->at(4).reason, Catch::Contains("/var/run"));
}

TEST_CASE("run paths are trimmed, deduplicated and relative ones skipped", "[unit][cri]") {
    DiscoveryConfig config;
    config.run_paths = {"/tmp/node/run/", "/tmp/node/run", "relative", "", "/"};
    auto c = endpoint_candidates(config);
    REQUIRE(c);
    REQUIRE(c->size() == 8);
    CHECK(c->at(0).path == "/tmp/node/run/containerd/containerd.sock");
    CHECK(c->at(4).path == "/containerd/containerd.sock");
}

static std::vector<EndpointCandidate> three() {
    DiscoveryConfig config;
    config.run_paths = {"/run"};
    auto c = endpoint_candidates(config).value();
    c.resize(3);  // containerd, cri-o, cri-dockerd
    return c;
}

TEST_CASE("the first answering runtime is chosen", "[unit][cri]") {
    auto c = three();
    std::vector<ProbeResult> probes(3);
    probes[1].answered = true;
    probes[1].runtime_name = "cri-o 1.28";
    probes[2].answered = true;
    auto choice = choose_endpoint(c, probes, "");
    REQUIRE(choice);
    CHECK(choice->index == 1);
    CHECK_THAT(choice->reason, Catch::Contains("cri-o 1.28"));
}

TEST_CASE("with a pod name the runtime running that pod wins", "[unit][cri]") {
    auto c = three();
    std::vector<ProbeResult> probes(3);
    probes[0].answered = true;
    probes[2].answered = true;
    probes[2].runs_pod = true;
    auto choice = choose_endpoint(c, probes, "jaeger-599bd8cddd-f6tcj");
    REQUIRE(choice);
    CHECK(choice->index == 2);
    CHECK_THAT(choice->reason, Catch::Contains("runs pod \"jaeger-599bd8cddd-f6tcj\""));

    probes[2].runs_pod = false;  // nobody runs it: first answering, and the log says so
    choice = choose_endpoint(c, probes, "jaeger-599bd8cddd-f6tcj");
    REQUIRE(choice);
    CHECK(choice->index == 0);
    CHECK_THAT(choice->reason, Catch::Contains("no probed runtime runs pod"));
}

TEST_CASE("a pod seen by a runtime that does not answer is not chosen; none answering is nullopt",
          "[unit][cri]") {
    auto c = three();
    std::vector<ProbeResult> probes(3);
    probes[0].runs_pod = true;  // inconsistent probe: never trusted without an answer
    CHECK_FALSE(choose_endpoint(c, probes, "p"));
    CHECK_FALSE(choose_endpoint(c, probes, ""));
    CHECK_FALSE(choose_endpoint({}, {}, ""));
}
