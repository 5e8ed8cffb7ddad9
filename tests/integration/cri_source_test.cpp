// CriSource and source selection against a private real containerd (tests/support fixtures).
#include <catch2/catch.hpp>

#include <csignal>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/support/containerd_fixture.h"
#include "tests/support/cri_pod_runner.h"
#include "tracer-node/discovery/cri/cri_source.h"
#include "tracer-node/discovery/source_select.h"

using namespace ct;
using namespace ct::node;
using namespace ct::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kOperatorPod = "jaeger-operator-7b46f44865-jvgz8";
constexpr const char* kJaegerPod = "jaeger-599bd8cddd-f6tcj";
constexpr const char* kNamespace = "observability";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The GET /v1/pods-like view, for logs and the report.
std::string dump(const PodMap& pods) {
    std::string out = "{\n";
    for (const auto& [key, pod] : pods) {
        out += fmt::format("  \"{}\": {{ \"Namespace\": \"{}\", \"Containers\": {{\n", key, pod.pod_namespace);
        for (const auto& [name, c] : pod.containers)
            out += fmt::format("    \"{}\": {{ \"Id\": \"{}\", \"Pod\": \"{}\", \"RuntimeId\": \"{}\", "
                               "\"Parent\": [{}], \"Tasks\": [{}] }}\n",
                               name, c.name, c.pod, c.runtime_id, fmt::join(c.parents, ", "),
                               fmt::join(c.tasks, ", "));
        out += "  }}\n";
    }
    return out + "}";
}

struct JaegerPods {
    std::string operator_sandbox, jaeger_sandbox;
    std::map<std::string, std::string> ids;  // container name -> id
};

JaegerPods start_jaeger_pods(CriPodRunner& runner) {
    JaegerPods out;
    auto op = runner.run_pod({.name = kOperatorPod, .pod_namespace = kNamespace});
    REQUIRE(op);
    out.operator_sandbox = op->sandbox_id;
    for (const char* name : {"jaeger-operator", "kube-rbac-proxy"}) {
        auto id = runner.start_container(op->sandbox_id, {.name = name, .command = idle_command()});
        REQUIRE(id);
        out.ids[name] = *id;
    }
    auto jaeger = runner.run_pod({.name = kJaegerPod, .pod_namespace = kNamespace});
    REQUIRE(jaeger);
    out.jaeger_sandbox = jaeger->sandbox_id;
    auto id = runner.start_container(jaeger->sandbox_id, {.name = "jaeger", .command = idle_command()});
    REQUIRE(id);
    out.ids["jaeger"] = *id;
    return out;
}

DiscoveryConfig config_for(const Containerd& cd) {
    DiscoveryConfig config;
    config.cri_endpoint = cd.endpoint();
    return config;
}

}  // namespace

TEST_CASE("CriSource lists the jaeger pods with names, ids and the tasks /proc shows",
          "[integration][root][cri]") {
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto pods_started = start_jaeger_pods(runner);

    cri::CriSource source((*cd)->endpoint(), config_for(**cd));
    CHECK(source.describe() == "cri:" + (*cd)->endpoint());
    auto pods = source.list_pods();
    REQUIRE(pods);
    INFO(dump(*pods));
    fmt::print("PodMap from {}:\n{}\n", source.describe(), dump(*pods));

    REQUIRE(pods->size() == 2);
    const auto& op = pods->at(kOperatorPod);
    CHECK(op.name == kOperatorPod);
    CHECK(op.pod_namespace == kNamespace);
    REQUIRE(op.containers.size() == 2);  // the pause sandbox is not a container
    REQUIRE(pods->at(kJaegerPod).containers.size() == 1);

    std::vector<std::pair<std::string, const ContainerInfo*>> all = {
        {"jaeger-operator", &op.containers.at("jaeger-operator")},
        {"kube-rbac-proxy", &op.containers.at("kube-rbac-proxy")},
        {"jaeger", &pods->at(kJaegerPod).containers.at("jaeger")},
    };
    for (const auto& [name, c] : all) {
        INFO(name);
        CHECK(c->name == name);
        CHECK(c->pod_namespace == kNamespace);
        CHECK(c->runtime_id == pods_started.ids.at(name));
        auto init = runner.container_pid(c->runtime_id);
        REQUIRE(init);
        CHECK(std::find(c->tasks.begin(), c->tasks.end(), *init) != c->tasks.end());
        CHECK(std::is_sorted(c->tasks.begin(), c->tasks.end()));
        REQUIRE_FALSE(c->tasks.empty());
        for (Pid task : c->tasks) {
            INFO("task " << task);
            // A `sleep 1` child may exit between the listing and this read.
            if (::access(fmt::format("/proc/{}", task).c_str(), F_OK) != 0) continue;
            CHECK(cgroup_names_container(task, c->runtime_id));
        }
        REQUIRE(c->parents.size() == 1);
        CHECK(read_file(fmt::format("/proc/{}/comm", c->parents[0])).starts_with("containerd-shim"));
    }
    // Two containers of one pod never share a task.
    for (Pid t : all[0].second->tasks)
        CHECK(std::find(all[1].second->tasks.begin(), all[1].second->tasks.end(), t) == all[1].second->tasks.end());

    {
        INFO("a restarted container shows up with its new id and pid");
        auto new_id = runner.restart_container(pods_started.jaeger_sandbox, "jaeger");
        REQUIRE(new_id);
        CHECK(*new_id != pods_started.ids.at("jaeger"));
        auto again = source.list_pods();
        REQUIRE(again);
        const auto& jaeger = again->at(kJaegerPod).containers.at("jaeger");
        CHECK(jaeger.runtime_id == *new_id);
        auto init = runner.container_pid(*new_id);
        REQUIRE(init);
        CHECK(std::find(jaeger.tasks.begin(), jaeger.tasks.end(), *init) != jaeger.tasks.end());
    }
    {
        INFO("a container can run a host binary (bind mount) with an environment");
        auto id = runner.start_container(
            pods_started.jaeger_sandbox,
            {.name = "helper",
             .command = {"/opt/host/busybox", "sh", "-c", "test \"$MARK\" = yes && exec /opt/host/busybox sleep 1000"},
             .mounts = {{.host_path = "/bin/busybox", .container_path = "/opt/host/busybox"}},
             .env = {"MARK=yes"}});
        REQUIRE(id);
        Result<PodMap> listed = fail(Errc::kNotFound, "not listed");
        Pid init = 0;
        for (int i = 0; i < 50; ++i) {  // the exec into sleep is immediate but asynchronous
            listed = source.list_pods();
            REQUIRE(listed);
            auto pid = runner.container_pid(*id);
            if (pid && read_file(fmt::format("/proc/{}/cmdline", *pid)).find("sleep") != std::string::npos) {
                init = *pid;
                break;
            }
            std::this_thread::sleep_for(100ms);
        }
        REQUIRE(init != 0);
        listed = source.list_pods();
        REQUIRE(listed);
        const auto& helper = listed->at(kJaegerPod).containers.at("helper");
        CHECK(helper.tasks == std::vector<Pid>{init});
        CHECK(read_file(fmt::format("/proc/{}/cmdline", init)).starts_with("/opt/host/busybox"));
    }
}

TEST_CASE("auto-detection finds containerd under a run path and prefers the runtime running --pod-name",
          "[integration][root][cri]") {
    auto empty = Containerd::start();  // answers, runs nothing
    REQUIRE(empty);
    auto busy = Containerd::start();
    REQUIRE(busy);
    CriPodRunner runner((*busy)->endpoint());
    start_jaeger_pods(runner);

    DiscoveryConfig config;
    config.run_paths = {"/nonexistent-run", (*empty)->run_path(), (*busy)->run_path()};

    // One containerd pair for every case below: sections would restart them for each.
    {
        INFO("without a pod name: the first socket that answers");
        auto source = make_container_source(config);
        REQUIRE(source);
        CHECK(source->describe() == "cri:" + (*empty)->endpoint());
        auto pods = source->list_pods();
        REQUIRE(pods);
        CHECK(pods->empty());
    }
    {
        INFO("with a pod name: the runtime that runs it");
        config.pod_name = kJaegerPod;
        auto source = make_container_source(config);
        CHECK(source->describe() == "cri:" + (*busy)->endpoint());
        auto pods = source->list_pods();
        REQUIRE(pods);
        CHECK(pods->contains(kJaegerPod));
    }
    {
        INFO("a glob pod name works too");
        config.pod_name = "jaeger-op*";
        CHECK(make_container_source(config)->describe() == "cri:" + (*busy)->endpoint());
        config.pod_name = "nobody-runs-this";
        CHECK(make_container_source(config)->describe() == "cri:" + (*empty)->endpoint());
    }
    {
        INFO("an explicit endpoint (a plain path) wins over probing");
        DiscoveryConfig explicit_config = config;
        explicit_config.pod_name = kJaegerPod;
        explicit_config.cri_endpoint = (*empty)->socket_path();
        CHECK(make_container_source(explicit_config)->describe() == "cri:" + (*empty)->endpoint());
    }
    {
        INFO("a stopped runtime is skipped");
        config.pod_name.clear();
        REQUIRE((*empty)->stop());
        CHECK(make_container_source(config)->describe() == "cri:" + (*busy)->endpoint());
    }
    {
        INFO("no answering runtime: procfs");
        DiscoveryConfig none = config;
        none.run_paths = {"/nonexistent-run", (*empty)->run_path()};
        CHECK(make_container_source(none)->describe().starts_with("procfs:"));
    }
    {
        INFO("force_procfs: procfs even with a runtime present");
        config.force_procfs = true;
        CHECK(make_container_source(config)->describe().starts_with("procfs:"));
    }
}

namespace {

// True once every thread of `pid` is in the stopped state ('T' in its stat), within 5 s.
bool wait_all_threads_stopped(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
        bool all = true;
        std::error_code ec;
        for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
            std::ifstream in(task.path() / "stat");
            std::string text((std::istreambuf_iterator<char>(in)), {});
            auto close = text.rfind(')');
            if (close == std::string::npos || close + 2 >= text.size()) continue;  // thread gone
            all = all && text[close + 2] == 'T';
        }
        if (all && !ec) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

TEST_CASE("containerd stopped mid-run: kUnavailable quickly, then recovery on restart",
          "[integration][root][cri]") {
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto started = start_jaeger_pods(runner);

    cri::CriSource source((*cd)->endpoint(), config_for(**cd));
    auto before = source.list_pods();
    REQUIRE(before);
    REQUIRE(before->size() == 2);
    auto jaeger_init = runner.container_pid(started.ids.at("jaeger"));
    REQUIRE(jaeger_init);

    {
        INFO("a frozen runtime (SIGSTOP): the call's deadline ends it, nothing hangs");
        auto pid = (*cd)->pid();
        REQUIRE(pid);
        REQUIRE(::kill(*pid, SIGSTOP) == 0);
        // kill() returns before every thread has stopped: a thread still running could answer.
        REQUIRE(wait_all_threads_stopped(*pid));
        auto t0 = std::chrono::steady_clock::now();
        auto frozen = source.list_pods();
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        ::kill(*pid, SIGCONT);
        fmt::print("list_pods with containerd frozen took {} ms: {}\n", took.count(),
                   frozen ? "ok?!" : frozen.error().message);
        REQUIRE_FALSE(frozen);
        CHECK(frozen.error().code == Errc::kUnavailable);
        auto thawed = source.list_pods();  // and it answers again once thawed
        REQUIRE(thawed);
        CHECK(thawed->size() == 2);
    }

    REQUIRE((*cd)->stop());
    for (int i = 0; i < 2; ++i) {  // repeated calls on a dead runtime fail the same way
        auto t0 = std::chrono::steady_clock::now();
        auto down = source.list_pods();
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        fmt::print("list_pods with containerd stopped took {} ms: {}\n", took.count(),
                   down ? "ok?!" : down.error().message);
        REQUIRE_FALSE(down);
        CHECK(down.error().code == Errc::kUnavailable);
        CHECK_THAT(down.error().message, Catch::Contains((*cd)->endpoint()));
    }

    REQUIRE((*cd)->restart());
    // containerd reloads its state and reconnects to the shims; the same source recovers
    // without being recreated.
    Result<PodMap> after = fail(Errc::kUnavailable, "not tried");
    for (int attempt = 0; attempt < 50 && !(after && after->size() == 2); ++attempt) {
        after = source.list_pods();
        if (!(after && after->size() == 2)) std::this_thread::sleep_for(200ms);
    }
    REQUIRE(after);
    REQUIRE(after->size() == 2);
    CHECK(after->at(kOperatorPod).containers.at("kube-rbac-proxy").runtime_id == started.ids.at("kube-rbac-proxy"));
    const auto& jaeger_tasks = after->at(kJaegerPod).containers.at("jaeger").tasks;
    CHECK(std::find(jaeger_tasks.begin(), jaeger_tasks.end(), *jaeger_init) != jaeger_tasks.end());
}
