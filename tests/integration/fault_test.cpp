// Faults and limits against the real tracer-node: every exceeded limit answers its status with an
// error naming the limit and is counted in /metrics; misbehaving hooks (ignoring SIGINT,
// flooding their output), traced processes that exit, tracefs missing from the mount namespace
// and stream readers that vanish leave tracer-node working and holding no more than before.
// Needs root. (tracer-svc losing and regaining nodes: svc_cluster_test.cpp.)
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "tests/integration/process_probe.h"
#include "tests/integration/raw_connection.h"
#include "tests/support/fixtures.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const std::string kFakeHooks = std::string(CT_SOURCE_DIR) + "/tests/support/hooks-fake";

json::object session_of(TracerNode& node, const std::string& id) {
    return node.get_json("/v1/trace-session/" + id).at(id).as_object();
}

std::string error_of(const std::string& body) {
    auto v = json::parse(body);
    REQUIRE(v.is_object());
    REQUIRE(v.as_object().contains("error"));
    return std::string(v.at("error").as_string());
}

double limit_count(TracerNode& node, const std::string& limit) {
    auto r = node.request("GET", "/metrics");
    REQUIRE(r.status == 200);
    return metric_value(r.body, fmt::format("container_tracer_limit_rejections_total{{limit=\"{}\"}}", limit));
}

// Lines of tracer-node's log at warning level or worse ("<time> <level> tracer-node: ...").
size_t complaints(const std::string& log) {
    size_t n = 0;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        auto fields = ct::split_whitespace(line);
        n += fields.size() > 1 && (fields[1] == "warning" || fields[1] == "error" || fields[1] == "critical");
    }
    return n;
}

// Removes an ftrace instance directory at scope end, if still there (a failed check must not
// leave the host's tracefs cluttered).
struct InstanceGuard {
    std::string dir;
    ~InstanceGuard() {
        if (!dir.empty() && fs::exists(dir)) ::rmdir(dir.c_str());
    }
};

// getppid calls of the loops in session `id` (the pods' shells call getppid too).
size_t loop_calls(const TracerNode& node, const std::string& id) {
    size_t n = 0;
    for (const auto& e : node.events())
        n += e.at("event") == "sys_enter_getppid" && e.at("session").as_string() == id && e.at("task") == "getppid_loop";
    return n;
}

}  // namespace

TEST_CASE("each exceeded limit answers its status, names the limit and is counted in /metrics",
          "[integration][root]") {
    Pod pod("limits-pod");
    TracerNode node({.extra_args = {"--max-sessions", "2", "--max-streams", "1", "--max-connections", "4",
                                    "--max-body", "1024"}});
    for (auto kind : {"body", "header", "connections", "sessions", "streams"}) CHECK(limit_count(node, kind) == 0);

    auto body = node.request("POST", "/v1/trace-session", std::string(4096, ' '));
    CHECK(body.status == 413);
    CHECK_THAT(error_of(body.body), Catch::Contains("body too large") && Catch::Contains("limit 1024 bytes"));

    auto header = ct::http::send({.port = node.port(), .target = "/v1/pods",
                                  .headers = {{"X-Big", std::string(20000, 'h')}}, .timeout = 10s});
    REQUIRE(header);
    CHECK(header->status == 431);
    CHECK_THAT(error_of(header->body), Catch::Contains("headers too large") && Catch::Contains("limit 16384 bytes"));

    auto id = node.create_session("limits-pod", "*", "-s getppid");
    node.create_session("limits-pod", "*", "-s getppid");
    auto third = node.request("POST", "/v1/trace-session",
                              R"({"pod":"limits-pod","container":"*","trace-hook":"trace_syscalls"})");
    CHECK(third.status == 429);
    CHECK_THAT(error_of(third.body), Catch::Contains("too many trace sessions") && Catch::Contains("limit 2"));

    node.run(id, true);
    {
        // The server counts a connection until it has seen the client close it: right after the
        // requests above, a new one may still be past --max-connections 4 (503). Retry until in.
        std::unique_ptr<RawConnection> reader;
        CHECK(wait_until([&] {
            reader = std::make_unique<RawConnection>(node.port());
            return reader->ok() && reader->send_all(get_request("/v1/trace-session/" + id + "/trace")) &&
                   reader->read_until("\r\n\r\n", 10s) && reader->received().starts_with("HTTP/1.1 200");
        }, 10s));
        REQUIRE(reader->received().starts_with("HTTP/1.1 200"));
        ct::http::ClientResponse second;
        CHECK(wait_until([&] {
            second = node.request("GET", "/v1/trace-session/" + id + "/trace");
            return second.status != 503;  // past --max-connections for the same reason
        }, 10s));
        CHECK(second.status == 429);
        CHECK_THAT(error_of(second.body), Catch::Contains("stream") && Catch::Contains("limit 1"));
    }

    {
        // Four idle connections fill the limit; the fifth is told so.
        std::vector<std::unique_ptr<RawConnection>> idle;
        for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawConnection>(node.port()));
        for (auto& c : idle) REQUIRE(c->ok());
        // The server counts a connection once it has accepted it: wait until the limit bites.
        ct::Result<ct::http::ClientResponse> over;
        CHECK(wait_until([&] {
            over = ct::http::send({.port = node.port(), .target = "/v1/pods", .timeout = 5s});
            return over && over->status == 503;
        }, 10s));
        REQUIRE(over);
        CHECK_THAT(error_of(over->body), Catch::Contains("too many connections") && Catch::Contains("limit 4"));
        // Probes are still answered.
        auto health = ct::http::send({.port = node.port(), .target = "/healthz", .timeout = 5s});
        REQUIRE(health);
        CHECK(health->status == 200);
    }

    // The stream reader and the idle connections are gone: requests are served again.
    CHECK(wait_until([&] {
        auto r = ct::http::send({.port = node.port(), .target = "/healthz", .timeout = 5s});
        return r && r->status == 200;
    }, 10s));
    CHECK(limit_count(node, "body") == 1);
    CHECK(limit_count(node, "header") == 1);
    CHECK(limit_count(node, "sessions") == 1);
    CHECK(limit_count(node, "streams") == 1);
    CHECK(limit_count(node, "connections") >= 1);
    node.request("DELETE", "/v1/trace-session/" + id);  // not "all": its --clear would touch other tests' instances
    CHECK(leftover_instances(node.log()).empty());
}

TEST_CASE("a hook that ignores SIGINT is killed on stop and its ftrace instance removed", "[integration][root]") {
    Pod pod("stubborn-inst-pod");
    TracerNode node({.hooks_dir = kFakeHooks, .extra_args = {"--stop-grace", "300"}});
    auto id = node.create_session("stubborn-inst-pod", "*", "", "stubborn_instance_hook");
    node.run(id, true);
    auto running = session_of(node, id);
    REQUIRE(running.at("Output").is_array());
    std::string trace_path(running.at("Output").as_array()[0].as_string());
    InstanceGuard guard{fs::path(trace_path).parent_path().string()};
    REQUIRE(guard.dir.starts_with("/sys/kernel/tracing/instances/ctrace_fake_"));
    CHECK(fs::exists(guard.dir));

    node.run(id, false);
    auto stopped = session_of(node, id);
    CHECK(stopped.at("Running") == false);
    CHECK_FALSE(fs::exists(guard.dir));
    CHECK_THAT(node.log(), Catch::Contains("ignored SIGINT"));
    CHECK(child_pids(node.pid()).empty());
}

TEST_CASE("a start that times out while its hook holds an ftrace instance leaves no instance and no process",
          "[integration][root]") {
    // The hook makes an instance named as its own and never announces it, ignoring SIGINT: a
    // manager still in the kernel allocating its buffers when the start timeout came (issue 14.2).
    Pod pod("hang-inst-pod");
    TracerNode node({.hooks_dir = kFakeHooks, .extra_args = {"--hook-start-timeout", "700", "--stop-grace", "300"}});
    auto id = node.create_session("hang-inst-pod", "*", "", "hang_instance_hook");
    auto r = node.request("PUT", "/v1/trace-session/" + id, R"({"Run": true})");
    auto left = node.instances();
    for (const auto& name : left) InstanceGuard{"/sys/kernel/tracing/instances/" + name};  // never leave them
    CHECK(r.status == 504);
    CHECK_THAT(error_of(r.body), Catch::Contains("no trace path within 700 ms"));
    CHECK(left.empty());
    CHECK(child_pids(node.pid()).empty());
    CHECK_THAT(node.log(), Catch::Contains("removed 1 ftrace instance(s) of trace hook pid"));
    auto s = session_of(node, id);
    CHECK(s.at("Running") == false);
    REQUIRE(s.at("Error").is_array());
    CHECK_THAT(std::string(s.at("Error").as_array()[0].as_string()), Catch::Contains("no trace path"));
}

TEST_CASE("a hook flooding stdout and stderr is drained without growing tracer-node or its session",
          "[integration][root]") {
    Pod pod("flood-pod");
    TracerNode node({.hooks_dir = kFakeHooks});
    TempDir dir("ct-flood");
    auto done_marker = dir.str() + "/flooded";
    auto id = node.create_session("flood-pod", "*", done_marker, "flood_hook");
    auto before = process_figures(node.pid());
    node.run(id, true);

    // 100 MB pass through tracer-node's pipes: it keeps answering and its memory stays flat.
    size_t peak_kib = before.rss_kib, answered = 0, asked = 0;
    bool drained = wait_until([&] {
        peak_kib = std::max(peak_kib, process_figures(node.pid()).rss_kib);
        auto r = ct::http::send({.port = node.port(), .target = "/v1/trace-session/" + id, .timeout = 30s});
        ++asked;
        answered += r && r->status == 200;
        return fs::exists(done_marker);
    }, 180s);
    REQUIRE(drained);  // the hook was never blocked on a full pipe
    CHECK(answered == asked);
    INFO("RSS before " << before.rss_kib << " KiB, peak " << peak_kib << " KiB");
    if (kMemoryFiguresMeaningful) CHECK(peak_kib < before.rss_kib + 32 * 1024);

    node.run(id, false);
    auto s = session_of(node, id);
    CHECK(s.at("Running") == false);
    for (auto field : {"Output", "Error"}) {
        INFO(field);
        REQUIRE(s.at(field).is_array());
        const auto& lines = s.at(field).as_array();
        CHECK(!lines.empty());
        CHECK(lines.size() <= 200);
        for (const auto& l : lines) CHECK(l.as_string().size() <= 4096);
    }
    CHECK(child_pids(node.pid()).empty());
}

TEST_CASE("traced processes exiting mid-session leave the session running and stopping cleanly",
          "[integration][root]") {
    auto pod = std::make_unique<Pod>("exiting-pod", 2);
    TracerNode node;
    auto id = node.create_session("exiting-pod", "*", "-s getppid");
    node.run(id, true);
    auto complaints_before = complaints(node.log());

    for (int i = 0; i < 5; ++i) pod->exec(loop_command(100));  // short-lived processes come and go
    auto pids = pod->host_pids();
    REQUIRE(pids.size() >= 3);
    ::kill(pids.back(), SIGKILL);  // one of the pod's own long-lived processes dies
    std::this_thread::sleep_for(2500ms);  // janitor ticks see the changed pod
    CHECK(session_of(node, id).at("Running") == true);

    pod.reset();  // the whole pod goes away
    std::this_thread::sleep_for(2500ms);
    auto s = session_of(node, id);
    CHECK(s.at("Error").is_null());
    node.run(id, false);
    s = session_of(node, id);
    CHECK(s.at("Running") == false);
    CHECK(s.at("Error").is_null());
    CHECK(s.at("Stats").at("Delivered").as_int64() >= 5 * 100 * 2);
    CHECK(leftover_instances(node.log()).empty());
    INFO(node.log());
    CHECK(complaints(node.log()) == complaints_before);
}

TEST_CASE("with tracefs unmounted in tracer-node's mount namespace the ftrace hook mounts it there",
          "[integration][root]") {
    Pod pod("notracefs-pod");
    // A private mount namespace: unmounting tracefs there leaves the host's mount alone.
    TracerNode node({.wrapper = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 "umount /sys/kernel/tracing && ! mountpoint -q /sys/kernel/tracing && exec \"$@\"",
                                 "sh"}});
    auto tracefs_in = [](pid_t pid) {
        std::ifstream in(fmt::format("/proc/{}/mountinfo", pid));
        std::string line;
        while (std::getline(in, line))
            if (line.find(" /sys/kernel/tracing ") != std::string::npos && line.find(" tracefs ") != std::string::npos)
                return true;
        return false;
    };
    // The wrapper started tracer-node only with tracefs gone (`! mountpoint`); a hook mounts it on
    // first need, which may already be while the hooks are described (trace_events lists the
    // kernel's events) — always inside tracer-node's own namespace.
    auto id = node.create_session("notracefs-pod", "*", "-s getppid");
    node.run(id, true);
    pod.exec(loop_command(1000));
    node.run(id, false);
    CHECK(loop_calls(node, id) == 1000);
    CHECK(tracefs_in(node.pid()));    // mounted by the hook, inside tracer-node's namespace
    CHECK(tracefs_in(::getpid()));    // the host's mount was never touched
    CHECK(leftover_instances(node.log()).empty());
}

TEST_CASE("stream readers that disconnect mid-stream are freed while other readers and the sink go on",
          "[integration][root]") {
    Pod pod("stream-drop-pod");
    TracerNode node;
    auto id = node.create_session("stream-drop-pod", "*", "-s getppid");
    node.run(id, true);
    auto target = "/v1/trace-session/" + id + "/trace";
    // Baseline with the session running and one stream served and gone (lazy pools warmed up).
    {
        RawConnection warm(node.port());
        REQUIRE(warm.send_all(get_request(target)));
        REQUIRE(warm.read_until("\r\n\r\n", 10s));
    }
    std::this_thread::sleep_for(1500ms);
    auto baseline = process_figures(node.pid());

    std::vector<std::unique_ptr<RawConnection>> readers;
    for (int i = 0; i < 8; ++i) {
        readers.push_back(std::make_unique<RawConnection>(node.port()));
        REQUIRE(readers.back()->send_all(get_request(target)));
        REQUIRE(readers.back()->read_until("\r\n\r\n", 10s));
        CHECK(readers.back()->received().starts_with("HTTP/1.1 200"));
    }
    pod.exec(loop_command(2000));
    for (auto& r : readers) CHECK(r->read_until("sys_enter_getppid", 10s));
    // Seven go away mid-stream: half close politely, half reset.
    for (size_t i = 1; i < readers.size(); ++i) {
        if (i % 2) readers[i]->reset();
        else readers[i].reset();
    }
    readers.resize(1);
    auto& survivor = *readers.front();
    auto seen_before = survivor.received().size();
    pod.exec(loop_command(3000));
    CHECK(survivor.read_until("\"sys_exit_getppid\"", 10s));
    CHECK(wait_until([&] { survivor.read_some(100ms); return survivor.received().size() > seen_before + 3000 * 50; }, 10s));
    readers.clear();

    // Every reader gone, the session still running: back to the baseline.
    auto now = process_figures(node.pid());
    CHECK(wait_until([&] {
        now = process_figures(node.pid());
        return now.fds <= baseline.fds && now.threads <= baseline.threads;
    }, 10s));
    INFO("fds " << baseline.fds << " -> " << now.fds << ", threads " << baseline.threads << " -> " << now.threads);
    CHECK(now.fds <= baseline.fds);
    CHECK(now.threads <= baseline.threads);
    node.run(id, false);
    CHECK(loop_calls(node, id) == 5000);  // the JSON-lines sink missed nothing
    CHECK(leftover_instances(node.log()).empty());
}
