// tracer-node end to end: the real binary on a loopback port, real ftrace through the shipped
// hook, real pods made with unshare. Needs root.
#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"
#include "tests/support/fixtures.h"
#include "tracer-node/sessions/state_store.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Runs getppid_loop N inside the pod; returns the loop's host PID... as the pod sees it and
// as the host sees it is different: the loop prints its pod-namespace pid, so we only use
// counts per pod here.
json::object session_of(TracerNode& node, const std::string& id) {
    auto v = node.get_json("/v1/trace-session/" + id);
    return v.at(id).as_object();
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return done();
}

size_t count_in_pod(TracerNode& node, const std::string& event, const std::string& session, const std::string& comm) {
    size_t n = 0;
    for (const auto& e : node.events())
        if (e.at("event").as_string() == event && e.at("session").as_string() == session &&
            e.at("task").as_string() == comm)
            ++n;
    return n;
}

}  // namespace

TEST_CASE("GET /v1/pods lists unshare pods by hostname with their host PIDs", "[integration][root]") {
    Pod a("jaeger-operator-7b46f44865-jvgz8", 2), b("other-pod-1");
    TracerNode node;
    auto pods = node.get_json("/v1/pods").as_object();
    REQUIRE(pods.contains(a.name()));
    REQUIRE(pods.contains(b.name()));
    auto containers = pods.at(a.name()).at("Containers").as_object();
    REQUIRE(containers.size() == 1);
    auto c = containers.begin()->value().as_object();
    CHECK(c.at("Pod").as_string() == a.name());
    std::vector<pid_t> tasks;
    for (const auto& t : c.at("Tasks").as_array()) tasks.push_back(static_cast<pid_t>(t.as_int64()));
    // The pod's shell, its 2 sleeping children, and possibly a short-lived `sleep 0.02`.
    auto host = a.host_pids();
    // A task is one of the pod's processes, or a short-lived `sleep 0.02` gone since the scan.
    for (pid_t t : tasks)
        CHECK((std::find(host.begin(), host.end(), t) != host.end() ||
               !std::filesystem::exists("/proc/" + std::to_string(t))));
    // The shell and its two long-lived children are always there.
    size_t long_lived = 0;
    for (pid_t t : tasks) long_lived += std::find(host.begin(), host.end(), t) != host.end();
    CHECK(long_lived >= 3);
    CHECK(c.at("Parent") == json::array{a.unshare_pid()});
}

TEST_CASE("a syscall session sees exactly the traced pod's getppid calls", "[integration][root]") {
    Pod traced("jaeger-operator-7b46f44865-jvgz8"), other("other-pod-2");
    TracerNode node;
    auto id = node.create_session("jaeger-op*", "*", "-s getppid");
    auto created = session_of(node, id);
    CHECK(created.at("Running") == false);
    CHECK(created.at("TraceParams") == json::parse(R"(["-s","getppid"])"));
    CHECK(created.at("Containers").as_object().contains(traced.name()));
    CHECK_FALSE(created.at("Containers").as_object().contains(other.name()));

    node.run(id, true);
    auto running = session_of(node, id);
    CHECK(running.at("Running") == true);
    REQUIRE(running.at("Output").is_array());
    CHECK(running.at("Output").as_array()[0].as_string().starts_with("/sys/kernel/tracing/instances/" + node.instance_prefix()));
    CHECK(node.instances().size() == 1);

    constexpr long kCalls = 20'000;
    traced.exec(loop_command(kCalls));
    other.exec(loop_command(kCalls));
    node.run(id, false);

    CHECK(count_in_pod(node, "sys_enter_getppid", id, "getppid_loop") == kCalls);
    CHECK(count_in_pod(node, "sys_exit_getppid", id, "getppid_loop") == kCalls);
    // Every event belongs to the traced pod's processes: none from the other pod.
    auto other_pids = other.host_pids();
    for (const auto& e : node.events()) {
        auto pid = static_cast<pid_t>(e.at("pid").as_int64());
        CHECK(std::find(other_pids.begin(), other_pids.end(), pid) == other_pids.end());
        CHECK(e.at("node") == "test-node");
        CHECK(e.at("hook") == "trace_syscalls");
        CHECK(e.at("context") == "test");
    }
    auto stopped = session_of(node, id);
    CHECK(stopped.at("Running") == false);
    CHECK(stopped.at("Error").is_null());
    CHECK(stopped.at("Stats").at("Delivered").as_int64() >= 2 * kCalls);
    CHECK(node.instances().empty());
}

TEST_CASE("events carry the pod and container of their pid", "[integration][root]") {
    Pod traced("enrich-pod", 1);
    TracerNode node;
    auto id = node.create_session("enrich-pod", "*", "-s getppid");
    node.run(id, true);
    traced.exec(loop_command(100));
    std::this_thread::sleep_for(1500ms);  // let discovery see the loop's pid on a later lookup
    traced.exec(loop_command(100));
    node.run(id, false);
    size_t attributed = 0;
    for (const auto& e : node.events())
        if (e.at("pod") == "enrich-pod") {
            CHECK(e.at("container") == "enrich-pod");
            ++attributed;
        }
    CHECK(attributed > 0);
}

TEST_CASE("PUT is idempotent and DELETE of a running session stops it", "[integration][root]") {
    Pod pod("idem-pod");
    TracerNode node;
    auto id = node.create_session("idem-pod", "*", "-s getppid");
    node.run(id, true);
    node.run(id, true);
    CHECK(node.instances().size() == 1);
    CHECK(session_of(node, id).at("Stats").at("Runs") == 1);
    node.run(id, false);
    node.run(id, false);
    CHECK(node.instances().empty());
    node.run(id, true);
    CHECK(session_of(node, id).at("Running") == true);
    auto del = node.request("DELETE", "/v1/trace-session/" + id);
    CHECK(del.status == 200);
    CHECK(del.body == "{}");
    CHECK(node.instances().empty());
    CHECK(node.request("GET", "/v1/trace-session/" + id).status == 404);
}

TEST_CASE("\"all\" lists and deletes every session", "[integration][root]") {
    Pod a("all-pod-a"), b("all-pod-b");
    TracerNode node;
    auto id1 = node.create_session("all-pod-a", "*", "-s getppid");
    auto id2 = node.create_session("all-pod-*", "*", "", "trace_syscalls", "second");
    CHECK(id1 != id2);
    node.run(id1, true);
    auto all = node.get_json("/v1/trace-session/all").as_object();
    CHECK(all.size() == 2);
    CHECK(all.at(id2).at("Containers").as_object().size() == 2);
    CHECK(all.at(id2).at("Context") == "second");
    // Instances this node did not create survive: a person's probe, and another agent's.
    fs::path probe = fs::path("/sys/kernel/tracing/instances") / fmt::format("ctrace_probe_{}", ::getpid());
    fs::path other = fs::path("/sys/kernel/tracing/instances") / fmt::format("ctrace_0000beef_{}_00", ::getpid());
    REQUIRE(fs::create_directory(probe));
    REQUIRE(fs::create_directory(other));
    auto del = node.request("DELETE", "/v1/trace-session/all");
    bool probe_survived = fs::exists(probe), other_survived = fs::exists(other);
    ::rmdir(probe.c_str());
    ::rmdir(other.c_str());
    CHECK(del.status == 200);
    CHECK(del.body == "{}");
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
    CHECK(node.instances().empty());
    CHECK(probe_survived);
    CHECK(other_survived);
}

TEST_CASE("bad requests get a status and an error naming the bad value, and change nothing",
          "[integration][root]") {
    Pod pod("err-pod");
    TracerNode node;
    auto id = node.create_session("err-pod", "*", "-s getppid");
    auto check = [&](const std::string& method, const std::string& target, const std::string& body, int status,
                     const std::string& mention) {
        auto r = node.request(method, target, body);
        INFO(method << " " << target << " -> " << r.status << " " << r.body);
        CHECK(r.status == status);
        CHECK_THAT(error_of(r), Catch::Contains(mention));
    };
    check("POST", "/v1/trace-session", "{not json", 400, "not valid JSON");
    check("POST", "/v1/trace-session", R"({"pod":"err-pod","container":"*","trace-hook":"no_such_hook"})", 404,
          "\"no_such_hook\"");
    check("POST", "/v1/trace-session", R"({"pod":"nomatch*","container":"*","trace-hook":"trace_syscalls"})", 404,
          "\"nomatch*\"");
    check("POST", "/v1/trace-session", R"({"pod":"err-pod","container":"*"})", 400, "\"trace-hook\"");
    check("GET", "/v1/trace-session/12abc", "", 400, "\"12abc\"");
    check("GET", "/v1/trace-session/42", "", 404, "42");
    check("PUT", "/v1/trace-session/42", R"({"Run": true})", 404, "42");
    check("PUT", "/v1/trace-session/" + id, R"({"Run": "yes"})", 400, "\"Run\"");
    check("PUT", "/v1/trace-session/" + id, "", 400, "request body is empty");
    check("POST", "/v1/trace-session", "", 400, "request body is empty");
    check("POST", "/v1/trace-session",
          R"({"pod":"err-pod","container":"*","trace-hook":"trace_syscalls","trace-arguments":null})", 400,
          "\"trace-arguments\" must be a string, got null");
    check("POST", "/v1/trace-session", R"({"pod":"err-pod","pod":"x*","container":"*","trace-hook":"trace_syscalls"})",
          400, "\"pod\" is given twice");
    check("POST", "/v1/trace-session",
          fmt::format(R"({{"pod":"err-pod","container":"*","trace-hook":"trace_syscalls","trace-user-context":"{}"}})",
                      std::string(10240, 'c')),
          400, "\"trace-user-context\" is 10240 bytes long; the limit is 256 bytes");
    check("POST", "/v1/trace-session",
          fmt::format(R"({{"pod":"{}","container":"*","trace-hook":"trace_syscalls"}})", std::string(300, '*')), 400,
          "\"pod\" is 300 bytes long");
    for (auto method : {"GET", "PUT", "DELETE"})
        check(method, "/v1/trace-session/000000000000000000000000000001", R"({"Run": true})", 400,
              "\"000000000000000000000000000001\"");
    check("GET", "/v1/trace-session/0" + id, "", 400, "leading zeros");
    check("PUT", "/v1/trace-session/all", R"({"Run": true})", 400, "all");
    check("DELETE", "/v1/trace-session/42", "", 404, "42");
    check("PATCH", "/v1/pods", "", 405, "PATCH");
    check("POST", "/v1/pods", "", 405, "POST");
    check("GET", "/v1/nothing-here", "", 404, "/v1/nothing-here");
    check("POST", "/v1/trace-session", std::string(2 << 20, 'x'), 413, "too large");
    // Nothing changed: the one session is still there, not running.
    auto all = node.get_json("/v1/trace-session/all").as_object();
    CHECK(all.size() == 1);
    CHECK(all.at(id).at("Running") == false);
    CHECK(node.request("GET", "/healthz").status == 200);
}

TEST_CASE("an unknown syscall fails the start with the hook's error and leaves no instance",
          "[integration][root]") {
    Pod pod("badarg-pod");
    TracerNode node;
    auto id = node.create_session("badarg-pod", "*", "-s no_such_syscall");
    auto r = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    CHECK(r.status == 400);
    CHECK_THAT(error_of(r), Catch::Contains("no_such_syscall"));
    // The hook had exited by itself: reported as its own exit, not waited for and killed.
    CHECK_THAT(node.log(), Catch::Contains("exited with code 2"));
    CHECK_THAT(node.log(), !Catch::Contains("ignored SIGINT"));
    auto s = session_of(node, id);
    CHECK(s.at("Running") == false);
    REQUIRE(s.at("Error").is_array());
    CHECK_THAT(std::string(s.at("Error").as_array()[0].as_string()), Catch::Contains("no_such_syscall"));
    CHECK(node.instances().empty());
}

TEST_CASE("session arguments never add PIDs: --pid is refused at POST", "[integration][root]") {
    Pod pod("scope-pod");
    TracerNode node;
    for (auto args : {"--pid 4833 -s openat", "-s openat --pid=1", "--pid 1"}) {
        auto r = node.request("POST", "/v1/trace-session",
                              json::serialize(json::object{{"pod", "scope-pod"}, {"container", "*"},
                                                           {"trace-hook", "trace_syscalls"}, {"trace-arguments", args}}));
        INFO(args);
        CHECK(r.status == 400);
        CHECK_THAT(error_of(r), Catch::Contains("\"trace-arguments\" must not contain \"--pid"));
    }
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
}

TEST_CASE("hook size arguments are capped: -b past 64 MiB per CPU is a 400 naming the value and the maximum",
          "[integration][root]") {
    Pod pod("bigbuf-pod");
    TracerNode node;
    auto id = node.create_session("bigbuf-pod", "*", "-s getppid -b 4000000");
    auto r = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    CHECK(r.status == 400);
    CHECK_THAT(error_of(r), Catch::Contains("\"4000000\"") && Catch::Contains("65536 KB per CPU"));
    auto negative = node.create_session("bigbuf-pod", "*", "-s getppid -t -5");
    auto t = node.request("PUT", "/v1/trace-session/" + negative, R"({"Run": true})");
    CHECK(t.status == 400);
    CHECK_THAT(error_of(t), Catch::Contains("\"-5\" for -t: it is negative"));
    CHECK(node.instances().empty());
    CHECK(session_of(node, id).at("Running") == false);
}

TEST_CASE("request keys match without regard to case on every session route; answers keep the seed's keys",
          "[integration][root]") {
    Pod pod("case-pod");
    TracerNode node;
    // The original's decoder (Go encoding/json) matched keys so; its own run flag was "run".
    auto created = node.request("POST", "/v1/trace-session",
                                R"({"Pod": "case-pod", "CONTAINER": "*", "Trace-Hook": "trace_syscalls",
                                    "trace-ARGUMENTS": "-s getppid", "Trace-User-Context": "mixed"})");
    REQUIRE(created.status == 200);
    auto id = std::string(json::parse(created.body).as_object().begin()->key());
    auto s = session_of(node, id);
    CHECK(s.at("Context") == "mixed");
    CHECK(s.at("TraceHook") == "trace_syscalls");
    CHECK(s.at("TraceParams") == json::parse(R"(["-s","getppid"])"));
    auto on = node.request("PUT", "/v1/trace-session/" + id, R"({"run": true})");
    CHECK(on.status == 200);
    CHECK(on.body == "{}");
    CHECK(session_of(node, id).at("Running") == true);
    auto off = node.request("PUT", "/v1/trace-session/" + id, R"({"RUN": false})");
    CHECK(off.status == 200);
    CHECK(session_of(node, id).at("Running") == false);

    auto twice = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true, "run": false})");
    CHECK(twice.status == 400);
    CHECK_THAT(error_of(twice), Catch::Contains("\"Run\" and \"run\""));
    auto unknown = node.request("POST", "/v1/trace-session",
                                R"({"pod": "case-pod", "container": "*", "trace-hook": "trace_syscalls", "Hook": "x"})");
    CHECK(unknown.status == 400);
    CHECK_THAT(error_of(unknown), Catch::Contains("unknown field \"Hook\"") &&
                                      Catch::Contains("pod, container, trace-hook, trace-arguments, trace-user-context"));
    CHECK(session_of(node, id).at("Running") == false);
    CHECK(node.get_json("/v1/trace-session/all").as_object().size() == 1);
    CHECK(node.request("DELETE", "/v1/trace-session/" + id).status == 200);
    CHECK(node.instances().empty());
}

TEST_CASE("a hook that dies on its own leaves the session stopped with its error", "[integration][root]") {
    Pod pod("crash-pod");
    TracerNode node({.hooks_dir = std::string(CT_SOURCE_DIR) + "/tests/support/hooks-fake"});
    auto hooks = node.get_json("/v1/trace-hooks").as_object();
    REQUIRE(hooks.contains("hooks-fake/fake"));
    auto id = node.create_session("crash-pod", "*", "", "crash_hook");
    node.run(id, true);
    CHECK(wait_for([&] { return session_of(node, id).at("Running") == false; }, 5s));
    auto s = session_of(node, id);
    REQUIRE(s.at("Error").is_array());
    CHECK_THAT(std::string(s.at("Error").as_array()[0].as_string()), Catch::Contains("boom"));
    CHECK(s.at("Output") == json::parse(R"(["/dev/null"])"));
    // It can be started again.
    node.run(id, true);
    CHECK(session_of(node, id).at("Stats").at("Runs") == 2);
}

TEST_CASE("a hook that ignores SIGINT is killed on stop", "[integration][root]") {
    Pod pod("stubborn-pod");
    TracerNode node({.hooks_dir = std::string(CT_SOURCE_DIR) + "/tests/support/hooks-fake",
                     .extra_args = {"--stop-grace", "500"}});
    auto id = node.create_session("stubborn-pod", "*", "", "stubborn_hook");
    node.run(id, true);
    node.run(id, false);
    CHECK(session_of(node, id).at("Running") == false);
    CHECK_THAT(node.log(), Catch::Contains("ignored SIGINT"));
}

TEST_CASE("a hook that never prints its path fails the start after a bounded wait", "[integration][root]") {
    Pod pod("silent-pod");
    TracerNode node({.hooks_dir = std::string(CT_SOURCE_DIR) + "/tests/support/hooks-fake",
                     .extra_args = {"--hook-start-timeout", "700"}});
    auto id = node.create_session("silent-pod", "*", "", "silent_hook");
    auto r = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    CHECK(r.status == 504);
    CHECK_THAT(error_of(r), Catch::Contains("no trace path within 700 ms"));
    CHECK(session_of(node, id).at("Running") == false);
}

TEST_CASE("concurrent requests are safe", "[integration][root]") {
    Pod pod("conc-pod");
    TracerNode node;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 5; ++i) {
                auto r = ct::http::send({.port = node.port(),
                                         .method = "POST",
                                         .target = "/v1/trace-session",
                                         .body = R"({"pod":"conc-pod","container":"*","trace-hook":"trace_syscalls",
                                                     "trace-arguments":"-s getppid"})",
                                         .timeout = 30s});
                if (!r || r->status != 200) continue;
                auto id = std::string(json::parse(r->body).as_object().begin()->key());
                auto on = ct::http::send({.port = node.port(), .method = "PUT", .target = "/v1/trace-session/" + id,
                                          .body = R"({"Run": true})", .timeout = 30s});
                auto del = ct::http::send({.port = node.port(), .method = "DELETE",
                                           .target = "/v1/trace-session/" + id, .timeout = 30s});
                if (on && on->status == 200 && del && del->status == 200) ++ok;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(ok == 40);
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
    CHECK(node.instances().empty());
}

TEST_CASE("flags: --help lists every flag, bad values exit 2, flags win over the environment", "[integration]") {
    auto bin = built("tracer-node/tracer-node");
    auto help = ct::run_capture({.argv = {bin, "--help"}}, 5s);
    REQUIRE(help);
    CHECK(help->status.code == 0);
    for (auto flag : {"--address", "--node-name", "--trace-hooks", "--procfs-path", "--sysfs-path", "--use-procfs",
                      "--verbose", "TRACER_API_ADDRESS", "TRACER_NODE_NAME", "TRACER_HOOKS", "TRACER_PROCFS_PATH",
                      "TRACER_SYSFS_PATH", "TRACER_FORCE_PROCFS", "TRACER_VERBOSE", "--state-dir", "TRACE_KUBE_STATE_DIR"})
        CHECK_THAT(help->out, Catch::Contains(flag));
    auto bad = ct::run_capture({.argv = {bin, "--address", "nope", "--trace-hooks", CT_HOOKS_DIR}}, 5s);
    REQUIRE(bad);
    CHECK(bad->status.code == 2);
    CHECK_THAT(bad->err, Catch::Contains("\"nope\""));
    auto bad_env = ct::run_capture({.argv = {bin, "--trace-hooks", CT_HOOKS_DIR}, .extra_env = {"TRACER_API_ADDRESS=:0"}}, 5s);
    REQUIRE(bad_env);
    CHECK(bad_env->status.code == 2);
    auto bad_dir = ct::run_capture({.argv = {bin, "--trace-hooks", "/nonexistent-hooks"}}, 5s);
    REQUIRE(bad_dir);
    CHECK(bad_dir->status.code == 2);
    CHECK_THAT(bad_dir->err, Catch::Contains("/nonexistent-hooks"));
    auto bad_bool = ct::run_capture({.argv = {bin, "--trace-hooks", CT_HOOKS_DIR}, .extra_env = {"TRACER_FORCE_PROCFS=maybe"}}, 5s);
    REQUIRE(bad_bool);
    CHECK(bad_bool->status.code == 2);
}

TEST_CASE("the environment configures tracer-node when no flag is given", "[integration][root]") {
    auto port = free_port();
    TempDir dir;
    auto p = ct::Subprocess::spawn({.argv = {built("tracer-node/tracer-node")},
                                    .extra_env = {fmt::format("TRACER_API_ADDRESS=127.0.0.1:{}", port),
                                                  std::string("TRACER_HOOKS=") + CT_HOOKS_DIR,
                                                  "TRACER_NODE_NAME=env-node", "TRACER_FORCE_PROCFS=true",
                                                  "TRACER_TRACE_OUTPUT=" + dir.str() + "/out.jsonl",
                                                  "TRACE_KUBE_STATE_DIR=" + dir.str() + "/state"},
                                    .capture_stdout = false,
                                    .capture_stderr = false});
    REQUIRE(p);
    CHECK(wait_for([&] {
        auto r = ct::http::send({.port = port, .target = "/readyz", .timeout = 500ms});
        return r && r->status == 200;
    }, 10s));
    p->stop(5s, SIGTERM);
    // The flag wins: --address overrides TRACER_API_ADDRESS.
    auto port2 = free_port();
    auto q = ct::Subprocess::spawn({.argv = {built("tracer-node/tracer-node"), "--address",
                                             fmt::format("127.0.0.1:{}", port2)},
                                    .extra_env = {fmt::format("TRACER_API_ADDRESS=127.0.0.1:{}", port),
                                                  std::string("TRACER_HOOKS=") + CT_HOOKS_DIR,
                                                  "TRACER_FORCE_PROCFS=1",
                                                  "TRACER_TRACE_OUTPUT=" + dir.str() + "/out.jsonl",
                                                  "TRACE_KUBE_STATE_DIR=" + dir.str() + "/state"},
                                    .capture_stdout = false,
                                    .capture_stderr = false});
    REQUIRE(q);
    CHECK(wait_for([&] {
        auto r = ct::http::send({.port = port2, .target = "/readyz", .timeout = 500ms});
        return r && r->status == 200;
    }, 10s));
    CHECK_FALSE(ct::http::send({.port = port, .target = "/readyz", .timeout = 500ms}));
    q->stop(5s, SIGTERM);
}

// Orphans of this binary's nodes (a hook whose tracer-node died) are reparented to us, not to
// init: the last test can then see them without looking at other tests' processes on the machine.
const bool kSubreaper = ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;

TEST_CASE("no hook process is left behind", "[integration][root]") {
    // Every test above checks its own node's ftrace instances; processes are checked here.
    REQUIRE(kSubreaper);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {}  // orphans that already exited: not leaks
    std::vector<std::string> children;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        auto stat = ct::node::read_process_stat("/proc", std::atoi(entry.path().filename().c_str()));
        if (stat && stat->ppid == ::getpid()) children.push_back(entry.path().filename().string());
    }
    CHECK(children.empty());
}

TEST_CASE("a trace_events session exports exactly the pod's process exits, filtered by the session's -f",
          "[integration][root]") {
    constexpr int kRuns = 200;
    Pod traced("events-e2e-pod"), other("events-e2e-other");
    TracerNode node;
    // As a user writes it in a request: tracer-node splits it on whitespace, the hook rejoins
    // the filter's words and drops the quotes around the whole (docs/hooks.md, "trace_events").
    auto id = node.create_session("events-e2e-pod", "*", R"(-e sched:sched_process_exit -f 'comm == "true"')",
                                  "trace_events");
    node.run(id, true);
    CHECK(node.instances().size() == 1);  // no target-scoped event: no companion
    const auto loop = fmt::format("i=0; while [ $i -lt {} ]; do /bin/true; /bin/false; i=$((i+1)); done", kRuns);
    traced.exec(loop);
    other.exec(loop);
    node.run(id, false);

    size_t exits = 0;
    for (const auto& e : node.events()) {
        if (e.at("session").as_string() != id) continue;
        CHECK(e.at("hook") == "trace_events");
        CHECK(e.at("event") == "sched_process_exit");
        CHECK(e.at("task") == "true");  // the filter left /bin/false's exits out
        // Short-lived children are attributed through the fork events the hook enables.
        CHECK(e.at("pod") == "events-e2e-pod");
        ++exits;
    }
    CHECK(exits == kRuns);
    auto stopped = session_of(node, id);
    CHECK(stopped.at("Error").is_null());
    CHECK(node.instances().empty());

    // A typo fails the start with an Error naming the event (exit 2 -> 400); nothing is left.
    auto typo = node.create_session("events-e2e-pod", "*", "-e sched:sched_proces_exit", "trace_events");
    auto r = node.request("PUT", "/v1/trace-session/" + typo, R"({"Run": true})");
    CHECK(r.status == 400);
    CHECK_THAT(error_of(r), Catch::Contains("unknown event \"sched:sched_proces_exit\""));
    CHECK(node.instances().empty());
}

namespace {

// The session's exported signal_generate events whose target (field "pid") is `target`.
std::vector<json::object> signals_to(TracerNode& node, const std::string& id, pid_t target) {
    std::vector<json::object> out;
    for (auto& e : node.events())
        if (e.at("session").as_string() == id && e.at("event") == "signal_generate" &&
            e.at("fields").at("pid").as_int64() == target)
            out.push_back(std::move(e));
    return out;
}

}  // namespace

TEST_CASE("a trace_events session exports a signal sent to its pod from outside, attributed to the target's pod",
          "[integration][root]") {
    Pod traced("events-sig-pod", 1), other("events-sig-other", 1);
    auto target = traced.sleepers();
    REQUIRE(target.size() == 1);
    // Outside every pod: a process of the test's own.
    auto outsider = ct::Subprocess::spawn({.argv = {"sleep", "30"}, .capture_stdout = false, .capture_stderr = false});
    REQUIRE(outsider);
    TracerNode node;
    auto id = node.create_session("events-sig-pod", "*", "-e signal:signal_generate", "trace_events");
    node.run(id, true);
    // The target-scoped event lives in the run's companion instance (docs/hooks.md, "trace_events").
    CHECK(node.instances().size() == 2);

    // This test process is outside the pod: the sender. SIGUSR1 ends the sleeper.
    REQUIRE(::kill(target[0], SIGUSR1) == 0);
    REQUIRE(::kill(outsider->pid(), SIGUSR1) == 0);          // outside to outside: not the session's
    REQUIRE(::kill(other.sleepers().at(0), SIGUSR1) == 0);  // to another pod: not the session's
    // A process of the pod signalling itself (ignored, still generated); the sleep lets the
    // companion's pid filter take the new shell in (docs/hooks.md: new children join within ~100 ms).
    traced.exec("trap '' USR2; sleep 0.5; kill -USR2 $$");
    node.run(id, false);

    auto to_target = signals_to(node, id, target[0]);
    REQUIRE(to_target.size() == 1);
    const auto& e = to_target[0];
    CHECK(e.at("pod") == "events-sig-pod");
    CHECK(e.at("container") == "events-sig-pod");
    CHECK(e.at("fields").at("sig") == SIGUSR1);
    // The sender is this test process, outside the pod: the event's own task.
    CHECK(e.at("pid") == ::gettid());
    CHECK(signals_to(node, id, outsider->pid()).empty());
    for (const auto& ev : node.events()) {
        if (ev.at("session").as_string() != id) continue;
        CHECK(ev.at("event") == "signal_generate");
        CHECK(ev.at("pod") == "events-sig-pod");  // nothing of the other pod, nothing of the host
    }
    // The pod's shell signalling itself: sender and target are the same task of the pod.
    size_t own = 0;
    for (const auto& ev : node.events())
        if (ev.at("session").as_string() == id && ev.at("fields").at("sig") == SIGUSR2) {
            CHECK(ev.at("pid") == ev.at("fields").at("pid"));
            ++own;
        }
    CHECK(own == 1);
    auto stopped = session_of(node, id);
    CHECK(stopped.at("Error").is_null());
    CHECK(stopped.at("Stats").at("Lost").as_int64() == 0);
    CHECK(node.instances().empty());  // the companion went with its main instance
}
