// tracer-node with CRI discovery, end to end: a private real containerd runs the seed's jaeger
// pods (tests/support fixtures), the built tracer-node discovers them through CRI and is driven
// only through its HTTP API; events come from the real trace_syscalls hook (ftrace).
// The workload is bench/getppid_loop_static bind-mounted into busybox containers: it waits for a
// start file in a bind-mounted host dir, so the session is running before its first getppid.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tests/support/containerd_fixture.h"
#include "tests/support/cri_pod_runner.h"
#include "tests/support/fixtures.h"

using namespace ct;
using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kOperatorPod = "jaeger-operator-7b46f44865-jvgz8";
constexpr const char* kJaegerPod = "jaeger-599bd8cddd-f6tcj";
constexpr const char* kNamespace = "observability";
constexpr size_t kCalls = 1000;
constexpr const char* kLoopInContainer = "/opt/ct/getppid_loop";
constexpr const char* kSharedInContainer = "/shared";

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A JSON string's text; "" for anything else (null, absent kinds), so checks fail readably.
std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : std::string(); }

bool alive(pid_t pid) { return ::access(fmt::format("/proc/{}", pid).c_str(), F_OK) == 0; }

std::vector<BindMount> loop_mounts(const TempDir& shared) {
    return {{.host_path = built("bench/getppid_loop_static"), .container_path = kLoopInContainer},
            {.host_path = shared.str(), .container_path = kSharedInContainer, .readonly = false}};
}

// The container's init is the loop itself: its host PID is the container's PID.
std::vector<std::string> loop_command(const std::string& start_file) {
    return {kLoopInContainer, std::to_string(kCalls), std::string(kSharedInContainer) + "/" + start_file};
}

struct JaegerPods {
    std::string operator_sandbox, jaeger_sandbox;
    std::map<std::string, std::string> ids;  // container name -> runtime id
};

// The seed's two pods. `commands`/`mounts` by container name; idle containers otherwise.
JaegerPods start_jaeger_pods(CriPodRunner& runner, const std::map<std::string, std::vector<std::string>>& commands = {},
                             const std::vector<BindMount>& mounts = {}) {
    auto spec = [&](const std::string& name) {
        auto c = commands.find(name);
        return ContainerSpec{
            .name = name, .command = c == commands.end() ? idle_command() : c->second, .mounts = mounts};
    };
    JaegerPods out;
    auto op = runner.run_pod({.name = kOperatorPod, .pod_namespace = kNamespace});
    REQUIRE(op);
    out.operator_sandbox = op->sandbox_id;
    for (const char* name : {"jaeger-operator", "kube-rbac-proxy"}) {
        auto id = runner.start_container(op->sandbox_id, spec(name));
        INFO(name << ": " << (id ? "" : id.error().message));
        REQUIRE(id);
        out.ids[name] = *id;
    }
    auto jaeger = runner.run_pod({.name = kJaegerPod, .pod_namespace = kNamespace});
    REQUIRE(jaeger);
    out.jaeger_sandbox = jaeger->sandbox_id;
    auto id = runner.start_container(jaeger->sandbox_id, spec("jaeger"));
    INFO("jaeger: " << (id ? "" : id.error().message));
    REQUIRE(id);
    out.ids["jaeger"] = *id;
    return out;
}

NodeOptions cri_node(const std::vector<std::string>& args) {
    NodeOptions o;
    o.use_procfs = false;
    o.extra_args = args;
    return o;
}

void touch(const TempDir& dir, const std::string& name) { std::ofstream(dir.str() + "/" + name) << "go\n"; }

void wait_exit(pid_t pid, const char* what) {
    for (int i = 0; i < 600 && alive(pid); ++i) std::this_thread::sleep_for(50ms);
    INFO(what << " (pid " << pid << ")");
    REQUIRE_FALSE(alive(pid));
}

json::object session_view(TracerNode& node, const std::string& id) {
    return node.get_json("/v1/trace-session/" + id).as_object().at(id).as_object();
}

// The session's ftrace instance directory, from its trace file (first Output line).
std::string instance_dir(TracerNode& node, const std::string& id) {
    auto v = session_view(node, id);
    INFO(json::serialize(v));
    REQUIRE(v.at("Output").is_array());
    REQUIRE_FALSE(v.at("Output").as_array().empty());
    auto trace = std::string(v.at("Output").as_array()[0].as_string());
    REQUIRE(trace.find("/instances/ctrace_") != std::string::npos);
    return fs::path(trace).parent_path().string();
}

bool has_pid(const std::string& set_event_pid, pid_t pid) {
    std::istringstream in(set_event_pid);
    for (std::string w; in >> w;)
        if (w == std::to_string(pid)) return true;
    return false;
}

bool names_container(const json::object& session, const std::string& pod, const std::string& container) {
    const auto& cs = session.at("Containers").as_object();
    if (!cs.contains(pod)) return false;
    for (const auto& c : cs.at(pod).as_array())
        if (c.as_string() == container) return true;
    return false;
}

}  // namespace

TEST_CASE("GET /v1/pods through CRI lists the jaeger pods with namespace, runtime id and host tasks",
          "[integration][root][cri]") {
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto started = start_jaeger_pods(runner);
    TracerNode node(cri_node({"--cri-endpoint", (*cd)->endpoint()}));
    CHECK_THAT(node.log(), Catch::Contains("discovery: cri:" + (*cd)->endpoint()));

    auto pods = node.get_json("/v1/pods").as_object();
    INFO(json::serialize(pods));
    fmt::print("GET /v1/pods (CRI, {}):\n{}\n", (*cd)->endpoint(), json::serialize(pods));
    REQUIRE(pods.size() == 2);
    REQUIRE(pods.contains(kOperatorPod));
    REQUIRE(pods.contains(kJaegerPod));
    const auto& op = pods.at(kOperatorPod).as_object().at("Containers").as_object();
    const auto& jaeger = pods.at(kJaegerPod).as_object().at("Containers").as_object();
    REQUIRE(op.size() == 2);  // the pause sandbox is no container
    REQUIRE(jaeger.size() == 1);

    std::vector<std::tuple<std::string, std::string, const json::object*>> all = {
        {kOperatorPod, "jaeger-operator", &op.at("jaeger-operator").as_object()},
        {kOperatorPod, "kube-rbac-proxy", &op.at("kube-rbac-proxy").as_object()},
        {kJaegerPod, "jaeger", &jaeger.at("jaeger").as_object()},
    };
    std::set<int64_t> seen_tasks;
    for (const auto& [pod, name, c] : all) {
        INFO(pod << "/" << name);
        CHECK(c->at("Id").as_string() == name);
        CHECK(c->at("Pod").as_string() == pod);
        CHECK(c->at("Namespace").as_string() == kNamespace);
        std::string runtime_id(c->at("RuntimeId").as_string());
        CHECK(runtime_id == started.ids.at(name));
        auto init = runner.container_pid(runtime_id);
        REQUIRE(init);
        const auto& tasks = c->at("Tasks").as_array();
        REQUIRE_FALSE(tasks.empty());
        bool init_listed = false;
        for (const auto& t : tasks) {
            auto pid = static_cast<pid_t>(t.as_int64());
            INFO("task " << pid);
            init_listed |= pid == *init;
            CHECK(seen_tasks.insert(pid).second);  // no task in two containers
            if (!alive(pid)) continue;             // a `sleep 1` child may have ended since
            CHECK(cgroup_names_container(pid, runtime_id));
        }
        CHECK(init_listed);
        const auto& parents = c->at("Parent").as_array();
        REQUIRE(parents.size() == 1);
        CHECK(slurp(fmt::format("/proc/{}/comm", parents[0].as_int64())).starts_with("containerd-shim"));
    }
}

TEST_CASE("a CRI session traces exactly the getppid calls of the selected pod's containers",
          "[integration][root][cri]") {
    TempDir shared("ct-crinode");
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto started = start_jaeger_pods(
        runner, {{"jaeger-operator", loop_command("go-operator")}, {"jaeger", loop_command("go-jaeger")}},
        loop_mounts(shared));
    auto op_loop = runner.container_pid(started.ids.at("jaeger-operator"));
    auto jaeger_loop = runner.container_pid(started.ids.at("jaeger"));
    REQUIRE(op_loop);
    REQUIRE(jaeger_loop);
    REQUIRE(slurp(fmt::format("/proc/{}/cmdline", *op_loop)).starts_with(kLoopInContainer));

    std::string instance;
    {
        TracerNode node(cri_node({"--cri-endpoint", (*cd)->endpoint()}));
        auto id = node.create_session("jaeger-operator*", "*", "-s getppid");
        auto created = session_view(node, id);
        INFO(json::serialize(created));
        CHECK(names_container(created, kOperatorPod, "jaeger-operator"));
        CHECK(names_container(created, kOperatorPod, "kube-rbac-proxy"));
        CHECK_FALSE(created.at("Containers").as_object().contains(kJaegerPod));

        node.run(id, true);
        instance = instance_dir(node, id);
        CHECK(has_pid(slurp(instance + "/set_event_pid"), *op_loop));
        CHECK_FALSE(has_pid(slurp(instance + "/set_event_pid"), *jaeger_loop));
        // Both loops run at once; only the operator's is in the session.
        touch(shared, "go-operator");
        touch(shared, "go-jaeger");
        wait_exit(*op_loop, "the jaeger-operator loop ends");
        wait_exit(*jaeger_loop, "the jaeger loop ends");
        node.run(id, false);
        CHECK_FALSE(fs::exists(instance));

        INFO(node.log());
        CHECK(node.count("sys_enter_getppid", *op_loop, id) == kCalls);
        CHECK(node.count("sys_exit_getppid", *op_loop, id) == kCalls);
        CHECK(node.count("sys_enter_getppid", *jaeger_loop, "") == 0);
        CHECK(node.count("sys_exit_getppid", *jaeger_loop, "") == 0);
        CHECK(node.count("", 0, id) == 2 * kCalls);  // nothing else: not the idle container, no other syscall

        size_t checked = 0;
        for (const auto& e : node.events()) {
            if (e.at("pid").as_int64() != *op_loop) continue;
            INFO(json::serialize(e));
            CHECK(str(e.at("pod")) == kOperatorPod);
            CHECK(str(e.at("namespace")) == kNamespace);
            CHECK(str(e.at("container")) == "jaeger-operator");
            CHECK(str(e.at("session")) == id);
            CHECK(str(e.at("hook")) == "trace_syscalls");
            ++checked;
        }
        CHECK(checked == 2 * kCalls);
        auto stats = session_view(node, id).at("Stats").as_object();
        INFO(json::serialize(stats));
        CHECK(stats.at("Lost").to_number<uint64_t>() == 0);
    }
    auto left = ftrace_instances();
    CHECK(std::find(left.begin(), left.end(), fs::path(instance).filename().string()) == left.end());
}

TEST_CASE("tracer-node finds containerd under --run-path and prefers the runtime running --pod-name",
          "[integration][root][cri]") {
    auto empty = Containerd::start();  // answers, runs nothing
    REQUIRE(empty);
    auto busy = Containerd::start();
    REQUIRE(busy);
    CriPodRunner runner((*busy)->endpoint());
    start_jaeger_pods(runner);
    auto run_paths = fmt::format("/nonexistent-run,{},{}", (*empty)->run_path(), (*busy)->run_path());

    {
        INFO("only the busy runtime's run path: its pods");
        TracerNode node(cri_node({"--run-path", (*busy)->run_path()}));
        INFO(node.log());
        CHECK_THAT(node.log(), Catch::Contains("discovery: cri:" + (*busy)->endpoint()));
        auto pods = node.get_json("/v1/pods").as_object();
        INFO(json::serialize(pods));
        CHECK(pods.size() == 2);
        CHECK(pods.contains(kOperatorPod));
        CHECK(pods.contains(kJaegerPod));
    }
    {
        INFO("two runtimes, no pod name: the first that answers");
        TracerNode node(cri_node({"--run-path", run_paths}));
        INFO(node.log());
        CHECK_THAT(node.log(), Catch::Contains("discovery: cri:" + (*empty)->endpoint()));
        CHECK(node.get_json("/v1/pods").as_object().empty());
    }
    {
        INFO("two runtimes, --pod-name: the one that runs it");
        TracerNode node(cri_node({"--run-path", run_paths, "--pod-name", kJaegerPod}));
        INFO(node.log());
        CHECK_THAT(node.log(), Catch::Contains("discovery: cri:" + (*busy)->endpoint()));
        auto pods = node.get_json("/v1/pods").as_object();
        INFO(json::serialize(pods));
        CHECK(pods.size() == 2);
        CHECK(pods.contains(kJaegerPod));
    }
}

TEST_CASE("containerd stopped under a running tracer-node: 500 with an error, then recovery by itself",
          "[integration][root][cri]") {
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto started = start_jaeger_pods(runner);
    TracerNode node(cri_node({"--cri-endpoint", (*cd)->endpoint()}));
    REQUIRE(node.get_json("/v1/pods").as_object().size() == 2);

    REQUIRE((*cd)->stop());
    for (int i = 0; i < 2; ++i) {  // repeated requests on a dead runtime answer the same way
        auto t0 = std::chrono::steady_clock::now();
        auto r = node.request("GET", "/v1/pods");
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        fmt::print("GET /v1/pods with containerd stopped: {} in {} ms: {}\n", r.status, took.count(), r.body);
        INFO(r.body);
        CHECK(r.status == 500);
        auto body = json::parse(r.body).as_object();
        REQUIRE(body.contains("error"));
        CHECK_THAT(std::string(body.at("error").as_string()), Catch::Contains((*cd)->endpoint()));
        CHECK(took < 10s);
    }
    CHECK(node.request("GET", "/healthz").status == 200);  // the node itself keeps serving

    REQUIRE((*cd)->restart());
    auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    json::object pods;
    while (std::chrono::steady_clock::now() - t0 < 30s) {
        auto r = node.request("GET", "/v1/pods");
        status = r.status;
        if (status == 200) {
            pods = json::parse(r.body).as_object();
            if (pods.size() == 2) break;
        }
        std::this_thread::sleep_for(200ms);
    }
    fmt::print("GET /v1/pods answered 200 again {} ms after containerd's restart\n",
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
    REQUIRE(status == 200);
    INFO(json::serialize(pods));
    REQUIRE(pods.size() == 2);
    CHECK(str(pods.at(kOperatorPod).at("Containers").at("kube-rbac-proxy").at("RuntimeId")) ==
          started.ids.at("kube-rbac-proxy"));
}

TEST_CASE("a container restarted during a running session is traced again",
          "[integration][root][cri]") {
    TempDir shared("ct-crinode");
    auto cd = Containerd::start();
    REQUIRE(cd);
    CriPodRunner runner((*cd)->endpoint());
    auto started = start_jaeger_pods(runner, {}, loop_mounts(shared));
    auto old_pid = runner.container_pid(started.ids.at("jaeger-operator"));
    REQUIRE(old_pid);

    std::string instance;
    {
        TracerNode node(cri_node({"--cri-endpoint", (*cd)->endpoint()}));
        auto id = node.create_session(fmt::format("{}/jaeger-operator*", kNamespace), "jaeger-operator", "-s getppid");
        node.run(id, true);
        instance = instance_dir(node, id);
        REQUIRE(has_pid(slurp(instance + "/set_event_pid"), *old_pid));

        auto new_id = runner.restart_container(started.operator_sandbox, "jaeger-operator", loop_command("go"));
        REQUIRE(new_id);
        REQUIRE(*new_id != started.ids.at("jaeger-operator"));
        auto new_pid = runner.container_pid(*new_id);
        REQUIRE(new_pid);
        REQUIRE(*new_pid != *old_pid);

        // The node re-resolves running sessions about once a second.
        auto t0 = std::chrono::steady_clock::now();
        while (!has_pid(slurp(instance + "/set_event_pid"), *new_pid) && std::chrono::steady_clock::now() - t0 < 15s)
            std::this_thread::sleep_for(100ms);
        fmt::print("restarted container followed after {} ms\n",
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
        INFO(node.log());
        REQUIRE(has_pid(slurp(instance + "/set_event_pid"), *new_pid));
        auto running = session_view(node, id);
        INFO(json::serialize(running));
        CHECK(running.at("Running").as_bool());
        CHECK(names_container(running, kOperatorPod, "jaeger-operator"));

        touch(shared, "go");
        wait_exit(*new_pid, "the restarted container's loop ends");
        node.run(id, false);
        CHECK(node.count("sys_enter_getppid", *new_pid, id) == kCalls);
        CHECK(node.count("sys_exit_getppid", *new_pid, id) == kCalls);
        CHECK(node.count("", 0, id) == 2 * kCalls);
        auto stopped = session_view(node, id);
        INFO(json::serialize(stopped));
        CHECK(names_container(stopped, kOperatorPod, "jaeger-operator"));
        CHECK_FALSE(stopped.at("Containers").as_object().contains(kJaegerPod));
        for (const auto& e : node.events())
            if (e.at("pid").as_int64() == *new_pid) {
                INFO(json::serialize(e));
                CHECK(str(e.at("container")) == "jaeger-operator");
                CHECK(str(e.at("pod")) == kOperatorPod);
                break;
            }
    }
    CHECK_FALSE(fs::exists(instance));
    auto left = ftrace_instances();
    CHECK(std::find(left.begin(), left.end(), fs::path(instance).filename().string()) == left.end());
}
