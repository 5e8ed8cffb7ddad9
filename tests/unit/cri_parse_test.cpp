// Pure CRI parsing: verbose container info JSON, task sets, pod map assembly.
#include <catch2/catch.hpp>

#include "tracer-node/discovery/cri/cri_parse.h"

using namespace ct;
using namespace ct::node;
using namespace ct::node::cri;

// Shape of containerd 1.6's ContainerStatus(verbose) info["info"] (trimmed).
static constexpr const char* kContainerdInfo = R"({
  "sandboxID": "5f2b3c0c8d0e4a1b9c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b",
  "pid": 1002496,
  "removing": false,
  "snapshotKey": "0a1b",
  "snapshotter": "overlayfs",
  "runtimeType": "io.containerd.runc.v2",
  "runtimeOptions": {"binary_name": "/usr/sbin/runc"},
  "config": {"metadata": {"name": "jaeger-operator"}},
  "runtimeSpec": {"ociVersion": "1.0.2-dev", "process": {"args": ["/bin/sh"]}}
})";

TEST_CASE("verbose info gives the container's host pid and sandbox id", "[unit][cri]") {
    auto info = parse_verbose_info(kContainerdInfo);
    REQUIRE(info);
    CHECK(info->pid == 1002496);
    CHECK(info->sandbox_id == "5f2b3c0c8d0e4a1b9c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b");
}

TEST_CASE("verbose info without sandbox id still gives the pid", "[unit][cri]") {
    auto info = parse_verbose_info(R"({"pid": 42})");
    REQUIRE(info);
    CHECK(info->pid == 42);
    CHECK(info->sandbox_id.empty());
}

TEST_CASE("verbose info that cannot name a running process is an error", "[unit][cri]") {
    for (const char* bad : {"", "not json", "[1,2]", R"({"sandboxID":"x"})", R"({"pid":0})",
                            R"({"pid":-5})", R"({"pid":"42"})", R"({"pid":99999999999})", R"({"pid":1.5})"}) {
        INFO(bad);
        auto info = parse_verbose_info(bad);
        REQUIRE_FALSE(info);
        CHECK(info.error().code == Errc::kInvalidArgument);
    }
    CHECK_THAT(parse_verbose_info(R"({"pid":0})").error().message, Catch::Contains("pid"));
}

TEST_CASE("label_or falls back on missing or empty labels", "[unit][cri]") {
    std::map<std::string, std::string> labels{{"io.kubernetes.pod.name", "jaeger-599bd8cddd-f6tcj"},
                                              {"io.kubernetes.pod.namespace", ""}};
    CHECK(label_or(labels, kPodNameLabel, "x") == "jaeger-599bd8cddd-f6tcj");
    CHECK(label_or(labels, kPodNamespaceLabel, "fallback") == "fallback");
    CHECK(label_or(labels, kContainerNameLabel, "") == "");
}

TEST_CASE("task set: init plus descendants, parents outside the container", "[unit][cri]") {
    // shim 7337 -> init 100 -> {101 -> 103, 102}; 200 (exec'd, child of shim) passed as member.
    std::map<Pid, Pid> ppid{{100, 7337}, {101, 100}, {102, 100}, {103, 101}, {200, 7337}, {7337, 1}};
    auto lookup = [&](Pid p) -> std::optional<Pid> {
        auto it = ppid.find(p);
        return it == ppid.end() ? std::nullopt : std::optional(it->second);
    };
    auto set = task_set(100, {103, 101, 102, 200, 101}, lookup);
    CHECK(set.tasks == std::vector<Pid>{100, 101, 102, 103, 200});
    CHECK(set.parents == std::vector<Pid>{7337});

    auto lone = task_set(100, {}, [](Pid) { return std::nullopt; });
    CHECK(lone.tasks == std::vector<Pid>{100});
    CHECK(lone.parents.empty());
}

static ContainerInfo container(std::string pod, std::string ns, std::string name, std::vector<Pid> tasks) {
    ContainerInfo c;
    c.pod = std::move(pod);
    c.pod_namespace = std::move(ns);
    c.name = std::move(name);
    c.runtime_id = c.name + "-id";
    c.tasks = std::move(tasks);
    return c;
}

TEST_CASE("containers are grouped into pods keyed by pod name", "[unit][cri]") {
    PodMap pods;
    insert_container(pods, container("jaeger-operator-7b46f44865-jvgz8", "observability", "jaeger-operator", {1}));
    insert_container(pods, container("jaeger-operator-7b46f44865-jvgz8", "observability", "kube-rbac-proxy", {2}));
    insert_container(pods, container("jaeger-599bd8cddd-f6tcj", "observability", "jaeger", {3}));
    REQUIRE(pods.size() == 2);
    const auto& op = pods.at("jaeger-operator-7b46f44865-jvgz8");
    CHECK(op.name == "jaeger-operator-7b46f44865-jvgz8");
    CHECK(op.pod_namespace == "observability");
    REQUIRE(op.containers.size() == 2);
    CHECK(op.containers.at("kube-rbac-proxy").tasks == std::vector<Pid>{2});
    CHECK(pods.at("jaeger-599bd8cddd-f6tcj").containers.at("jaeger").runtime_id == "jaeger-id");
}

TEST_CASE("same pod name in another namespace is keyed namespace/name", "[unit][cri]") {
    PodMap pods;
    insert_container(pods, container("web", "prod", "nginx", {1}));
    insert_container(pods, container("web", "staging", "nginx", {2}));
    insert_container(pods, container("web", "staging", "sidecar", {3}));
    REQUIRE(pods.size() == 2);
    CHECK(pods.at("web").pod_namespace == "prod");
    REQUIRE(pods.contains("staging/web"));
    CHECK(pods.at("staging/web").name == "web");
    CHECK(pods.at("staging/web").containers.size() == 2);
}

TEST_CASE("a duplicate container name keeps the entry with more tasks", "[unit][cri]") {
    PodMap pods;
    insert_container(pods, container("p", "ns", "c", {1, 2}));
    insert_container(pods, container("p", "ns", "c", {3}));
    CHECK(pods.at("p").containers.at("c").tasks == std::vector<Pid>{1, 2});
    insert_container(pods, container("p", "ns", "c", {4, 5, 6}));
    CHECK(pods.at("p").containers.at("c").tasks == std::vector<Pid>{4, 5, 6});
}

TEST_CASE("the runtime's last list holds until /proc shows a container it did not list or a listed one ended",
          "[unit][cri]") {
    const std::string a(64, 'a'), b(64, 'b'), sandbox(64, 'c');
    auto proc = [](Pid pid, Pid ppid, const std::string& id) {
        ProcessEntry e;
        e.pid = pid;
        e.ppid = ppid;
        e.comm = "app";
        if (!id.empty()) e.cgroup = CgroupIdentity{"", id};
        return e;
    };
    const std::set<std::string> known = {a, sandbox};  // listed a; the sandbox's pause is not listed
    const std::map<std::string, Pid> inits = {{a, 100}};
    auto table = ProcessTable::from_entries({proc(50, 1, ""), proc(99, 50, sandbox), proc(100, 50, a), proc(101, 100, a)});
    CHECK(listing_still_holds(table, known, inits));

    // A new container: a process names an id the runtime did not list.
    auto started = ProcessTable::from_entries({proc(50, 1, ""), proc(100, 50, a), proc(200, 50, b)});
    CHECK_FALSE(listing_still_holds(started, known, inits));
    // A listed container ended: its init is gone...
    CHECK_FALSE(listing_still_holds(ProcessTable::from_entries({proc(50, 1, "")}), known, inits));
    // ...or its PID now runs in another container's cgroup (reused)...
    CHECK_FALSE(listing_still_holds(ProcessTable::from_entries({proc(100, 50, sandbox)}), known, inits));
    // ...or its init pid was never learnt.
    CHECK_FALSE(listing_still_holds(table, known, {{a, 0}}));
}
