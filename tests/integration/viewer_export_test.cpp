// Viewer exports end to end (docs/viewers.md): a real tracer-node records a real ftrace session
// of a real unshare pod; its trace.dat is read by the real trace-cmd and its trace.json by a real
// viewer's parser (trace_engine); tracer-svc merges two nodes' recordings into one timeline.
// Needs root (ftrace, unshare).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/viewer_tools.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr long kCalls = 5'000;

json::object stats_of(TracerNode& node, const std::string& id) {
    return node.get_json("/v1/trace-session/" + id).at(id).at("Stats").as_object();
}

// The host PID of the pod's getppid_loop, from the events the JSON-lines sink delivered.
pid_t loop_pid(TracerNode& node, const std::string& id) {
    std::set<pid_t> pids;
    for (const auto& e : node.events())
        if (e.at("session") == id.c_str() && e.at("task") == "getppid_loop")
            pids.insert(static_cast<pid_t>(e.at("pid").as_int64()));
    REQUIRE(pids.size() == 1);
    return *pids.begin();
}

// (event, timestamp) of every getppid event of `pid` the JSON-lines sink delivered.
std::multiset<std::pair<std::string, std::uint64_t>> sink_events(TracerNode& node, pid_t pid) {
    std::multiset<std::pair<std::string, std::uint64_t>> out;
    for (const auto& e : node.events()) {
        if (e.at("pid").as_int64() != pid) continue;
        std::string event(e.at("event").as_string());
        if (event.find("getppid") == std::string::npos) continue;
        out.emplace(event, e.at("timestamp_ns").to_number<std::uint64_t>());
    }
    return out;
}

std::string download(TracerNode& node, const std::string& target, const fs::path& to) {
    auto r = node.request("GET", target);
    INFO(target << ": " << r.body.substr(0, 500));
    REQUIRE(r.status == 200);
    std::ofstream(to, std::ios::binary) << r.body;
    return r.body;
}

// Complete events named `name` of process `pid` in a trace.json document; REQUIREs durations >= 0.
std::size_t complete_events(const json::value& doc, const std::string& name, std::int64_t pid) {
    std::size_t n = 0;
    for (const auto& e : doc.at("traceEvents").as_array()) {
        if (e.at("ph") != "X" || e.at("name") != name.c_str() || e.at("pid").as_int64() != pid) continue;
        CHECK(e.at("dur").to_number<double>() >= 0);
        ++n;
    }
    return n;
}

std::string metadata_name(const json::value& doc, const std::string& kind, std::int64_t pid, std::int64_t tid = -1) {
    for (const auto& e : doc.at("traceEvents").as_array())
        if (e.at("ph") == "M" && e.at("name") == kind.c_str() && e.at("pid").as_int64() == pid &&
            (tid < 0 || e.at("tid").as_int64() == tid))
            return std::string(e.at("args").at("name").as_string());
    return {};
}

std::vector<fs::path> segments_of(const fs::path& session_dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(session_dir))
        if (e.path().extension() == ".ctrec") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("trace.dat and trace.json hold exactly a pod's 5,000 getppid calls, while running and after",
          "[integration][root][record]") {
    Pod pod("viewer-pod");
    TracerNode node;
    auto id = node.create_session("viewer-pod", "*", "-s getppid");
    node.run(id, true);
    pod.exec(loop_command(kCalls));
    TempDir dir;

    // While it runs: what the sink delivered is in the recording already (pages are recorded
    // before they are decoded).
    auto delivered = [&] { return node.count("sys_exit_getppid", 0, id) >= static_cast<std::size_t>(kCalls); };
    for (int i = 0; i < 200 && !delivered(); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(delivered());
    const pid_t pid = loop_pid(node, id);
    download(node, "/v1/trace-session/" + id + "/trace.dat", dir.path() / "running.dat");
    {
        auto lines = parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (dir.path() / "running.dat").string()}));
        std::size_t enters = 0;
        for (const auto& l : lines) enters += l.pid == pid && l.event == "sys_enter_getppid";
        CHECK(enters == kCalls);
    }
    node.run(id, false);

    {  // trace-cmd reports the same events and timestamps as the JSON-lines sink delivered
        download(node, "/v1/trace-session/" + id + "/trace.dat", dir.path() / "trace.dat");
        auto lines = parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (dir.path() / "trace.dat").string()}));
        std::multiset<std::pair<std::string, std::uint64_t>> reported;
        std::size_t enters = 0, exits = 0;
        for (const auto& l : lines) {
            if (l.pid != pid) continue;
            enters += l.event == "sys_enter_getppid";
            exits += l.event == "sys_exit_getppid";
            if (l.event.find("getppid") != std::string::npos) reported.emplace(l.event, l.timestamp_ns);
            CHECK(l.comm == "getppid_loop");  // from the saved cmdlines
        }
        CHECK(enters == kCalls);
        CHECK(exits == kCalls);
        CHECK(reported == sink_events(node, pid));
        auto summary = trace_cmd({"dump", "--summary", "-i", (dir.path() / "trace.dat").string()});
        CHECK(summary.find("zstd\t[Compression algorithm]") != std::string::npos);

        auto record = stats_of(node, id).at("Exporters").at("record");
        CHECK(record.at("Exported").as_int64() >= 2 * kCalls);
        CHECK(record.at("Dropped").as_int64() == 0);
    }

    {  // trace.json has one complete getppid event per call, and a real viewer's parser loads it
        auto body = download(node, "/v1/trace-session/" + id + "/trace.json", dir.path() / "trace.json");
        auto doc = json::parse(body);
        CHECK(complete_events(doc, "getppid", pid) == kCalls);
        CHECK(metadata_name(doc, "thread_name", pid, pid) == "getppid_loop");
        CHECK(metadata_name(doc, "process_name", pid).find("viewer-pod/") != std::string::npos);

        auto summary = json::parse(trace_engine_summary((dir.path() / "trace.json").string()));
        std::int64_t seen = -1;
        for (const auto& t : summary.at("threads").as_array())
            if (t.at("tid").as_int64() == pid) {
                CHECK(t.at("name") == "getppid_loop");
                seen = t.at("entries").as_object().contains("getppid") ? t.at("entries").at("getppid").as_int64() : 0;
            }
        CHECK(seen == kCalls);
        // The node-wide file: CLOCK_REALTIME, so its times are now-ish (Unix microseconds).
        auto all = json::parse(download(node, "/v1/trace-session/all/trace.json", dir.path() / "all.json"));
        auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
        std::size_t checked = 0;
        for (const auto& e : all.at("traceEvents").as_array())
            if (e.at("ph") == "X" && e.at("pid").as_int64() == pid) {
                CHECK(std::abs(e.at("ts").to_number<double>() - static_cast<double>(now_us)) < 600e6);
                ++checked;
            }
        CHECK(checked == kCalls);
    }
}

TEST_CASE("trace exports answer 404, 400 and 409 with clear errors", "[integration][root][record]") {
    TempDir hooks;
    fs::create_symlink(fs::path(CT_HOOKS_DIR) / "ftrace", hooks.path() / "ftrace");
    fs::create_directories(hooks.path() / "text");
    {
        std::ofstream m(hooks.path() / "text" / "manager");
        m << "#!/bin/sh\ncase \"$1\" in\n  --get-all) echo text_hook ;;\n  --describe) echo \"writes text\" ;;\n"
             "  --clear) ;;\n  --run) trap 'exit 0' INT; echo /dev/null; while true; do sleep 0.1; done ;;\nesac\n";
    }
    fs::permissions(hooks.path() / "text" / "manager", fs::perms::owner_all);
    Pod pod("viewer-errors");
    TracerNode node({.hooks_dir = hooks.str()});

    auto unknown = node.request("GET", "/v1/trace-session/123/trace.dat");
    CHECK(unknown.status == 404);
    CHECK(error_of(unknown).find("123") != std::string::npos);
    CHECK(node.request("GET", "/v1/trace-session/123/trace.json").status == 404);
    CHECK(node.request("GET", "/v1/trace-session/x1/trace.json").status == 400);
    CHECK(node.request("GET", "/v1/trace-session/all/trace.dat").status == 400);

    auto ftrace = node.create_session("viewer-errors", "*", "-s getppid");
    auto never_ran = node.request("GET", "/v1/trace-session/" + ftrace + "/trace.dat");
    CHECK(never_ran.status == 409);
    CHECK(error_of(never_ran).find("keeps no ftrace data") != std::string::npos);
    auto bad_query = node.request("GET", "/v1/trace-session/" + ftrace + "/trace.json?clock=tai");
    CHECK(bad_query.status == 400);
    CHECK(error_of(bad_query).find("tai") != std::string::npos);

    auto text = node.create_session("viewer-errors", "*", "", "text_hook");
    node.run(text, true);
    auto no_ftrace = node.request("GET", "/v1/trace-session/" + text + "/trace.json");
    CHECK(no_ftrace.status == 409);
    CHECK(error_of(no_ftrace).find("text_hook") != std::string::npos);
    node.run(text, false);
}

TEST_CASE("a recording survives a restart, damage is a clear error for its session only, delete removes it",
          "[integration][root][record]") {
    Pod pod("viewer-restart");
    TempDir state;
    std::string kept, truncated, foreign;
    {
        TracerNode node({.state_dir = state.str()});
        for (auto* id : {&kept, &truncated, &foreign}) {
            *id = node.create_session("viewer-restart", "*", "-s getppid");
            node.run(*id, true);
            pod.exec(loop_command(300));
            node.run(*id, false);
        }
    }
    // Damage two of them while the node is down: cut a segment short, drop a foreign file in.
    auto recordings = fs::path(state.str()) / "recordings";
    auto segs = segments_of(recordings / ("session-" + truncated));
    REQUIRE(!segs.empty());
    fs::resize_file(segs.back(), fs::file_size(segs.back()) - 3);
    auto foreign_run = segments_of(recordings / ("session-" + foreign)).back().parent_path();
    std::ofstream(foreign_run / "notes.txt") << "not a recording\n";

    TracerNode node({.state_dir = state.str()});
    TempDir dir;
    download(node, "/v1/trace-session/" + kept + "/trace.dat", dir.path() / "kept.dat");
    std::size_t enters = 0;
    for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (dir.path() / "kept.dat").string()})))
        enters += l.comm == "getppid_loop" && l.event == "sys_enter_getppid";
    CHECK(enters == 300);

    auto cut = node.request("GET", "/v1/trace-session/" + truncated + "/trace.dat");
    CHECK(cut.status == 500);
    CHECK(error_of(cut).find(segs.back().filename().string()) != std::string::npos);
    CHECK(error_of(cut).find("cut short") != std::string::npos);
    auto odd = node.request("GET", "/v1/trace-session/" + foreign + "/trace.json");
    CHECK(odd.status == 500);
    CHECK(error_of(odd).find("notes.txt") != std::string::npos);
    // The node and its other sessions are fine; the node-wide file names what it left out.
    CHECK(node.request("GET", "/v1/trace-session/" + truncated).status == 200);
    auto all = json::parse(download(node, "/v1/trace-session/all/trace.json", dir.path() / "all.json"));
    CHECK(all.at("otherData").at("sessions") == "1");
    CHECK(std::string(all.at("otherData").at("unreadable_sessions").as_string()).find("notes.txt") != std::string::npos);

    CHECK(node.request("DELETE", "/v1/trace-session/" + kept).status == 200);
    CHECK_FALSE(fs::exists(recordings / ("session-" + kept)));
    CHECK(node.request("GET", "/v1/trace-session/" + kept + "/trace.dat").status == 404);
}

TEST_CASE("tracer-svc relays a session's exports and merges two nodes' recordings into one timeline",
          "[integration][root][record][svc]") {
    Pod pod_a("viewer-svc-a"), pod_b("viewer-svc-b");
    TracerNode node_a({.node_name = "node-a"}), node_b({.node_name = "node-b"});
    auto id_a = node_a.create_session("viewer-svc-a", "*", "-s getppid");
    auto id_b = node_b.create_session("viewer-svc-b", "*", "-s getppid");
    node_a.run(id_a, true);
    node_b.run(id_b, true);
    pod_a.exec(loop_command(400));
    pod_b.exec(loop_command(600));
    node_a.run(id_a, false);
    node_b.run(id_b, false);
    const pid_t pid_a = loop_pid(node_a, id_a), pid_b = loop_pid(node_b, id_b);

    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{},127.0.0.1:{}", node_a.port(), node_b.port()), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(ct::svctest::wait_status(svc.port(), "/readyz"));

    auto dat = svc.get("/v1/trace-session/" + id_b + "/trace.dat");
    REQUIRE(dat);
    REQUIRE(dat->status == 200);
    CHECK(dat->headers["content-type"] == "application/octet-stream");
    TempDir dir;
    std::ofstream(dir.path() / "b.dat", std::ios::binary) << dat->body;
    std::size_t enters = 0;
    for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (dir.path() / "b.dat").string()})))
        enters += l.pid == pid_b && l.event == "sys_enter_getppid";
    CHECK(enters == 600);
    auto missing = svc.get("/v1/trace-session/42/trace.json");
    REQUIRE(missing);
    CHECK(missing->status == 404);

    auto merged = svc.get("/v1/trace-session/all/trace.json");
    REQUIRE(merged);
    REQUIRE(merged->status == 200);
    std::ofstream(dir.path() / "cluster.json") << merged->body;
    auto doc = json::parse(merged->body);
    // Node k (in the directory's order) has its processes numbered from (k+1) x 10^7, named after it.
    auto numbered = [&](const std::string& node, pid_t pid) -> std::int64_t {
        for (std::int64_t base : {10'000'000, 20'000'000})
            if (metadata_name(doc, "process_name", base + pid).starts_with(node + " ")) return base + pid;
        FAIL("no process " << pid << " of " << node << " in the merged file");
        return 0;
    };
    const std::int64_t a = numbered("node-a", pid_a), b = numbered("node-b", pid_b);
    CHECK(a / 10'000'000 != b / 10'000'000);
    CHECK(complete_events(doc, "getppid", a) == 400);
    CHECK(complete_events(doc, "getppid", b) == 600);
    CHECK(metadata_name(doc, "process_name", a).starts_with("node-a viewer-svc-a/"));
    CHECK(metadata_name(doc, "process_name", b).starts_with("node-b viewer-svc-b/"));
    CHECK(doc.at("otherData").at("nodes") == "2");
    CHECK_FALSE(doc.at("otherData").as_object().contains("failed_nodes"));
    // On one clock: both pods ran within this test, seconds apart, not boot times apart.
    double first_a = 1e300, first_b = 1e300;
    for (const auto& e : doc.at("traceEvents").as_array()) {
        if (e.at("ph") != "X") continue;
        auto ts = e.at("ts").to_number<double>();
        if (e.at("pid").as_int64() == a) first_a = std::min(first_a, ts);
        if (e.at("pid").as_int64() == b) first_b = std::min(first_b, ts);
    }
    CHECK(std::abs(first_a - first_b) < 120e6);
    // A real viewer's parser sees both nodes' threads.
    auto summary = json::parse(trace_engine_summary((dir.path() / "cluster.json").string()));
    std::set<std::int64_t> pids;
    for (const auto& t : summary.at("threads").as_array())
        if (t.at("entries").as_object().contains("getppid")) pids.insert(t.at("pid").as_int64());
    CHECK(pids.contains(a));
    CHECK(pids.contains(b));
    for (auto p : pids) CHECK((p / 10'000'000 == 1 || p / 10'000'000 == 2));  // the pod shells' calls too
}
