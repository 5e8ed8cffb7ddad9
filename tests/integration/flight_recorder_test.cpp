// Flight recorder end to end (docs/flight-recorder.md): a real tracer-node runs a real ftrace
// hook in "flight-recorder" mode on a real unshare pod; nothing is read while it runs; dumps (by
// hand and on a fatal signal) hold the pod's last events, read back by the real trace-cmd, as
// trace.json and as JSON lines; each dump is recorded in the JSON-lines file and sent to a
// loopback OTLP receiver; a restarted node keeps them. Needs root (ftrace, unshare).
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/integration/process_probe.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/otlp_receiver.h"
#include "tests/support/viewer_tools.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr long kCalls = 5'000;

std::string flight_body(const std::string& pod, const std::string& extra = "",
                        const std::string& mode = R"("trace-mode": "flight-recorder")") {
    return fmt::format(R"({{"pod": "{}", "container": "*", "trace-hook": "trace_syscalls",
                          "trace-arguments": "-s getppid", "trace-user-context": "flight", {}{}}})",
                       pod, mode, extra);
}

std::string create_flight(TracerNode& node, const std::string& pod, const std::string& extra = "") {
    auto r = node.request("POST", "/v1/trace-session", flight_body(pod, extra));
    INFO(r.body);
    REQUIRE(r.status == 200);
    return std::string(json::parse(r.body).as_object().begin()->key());
}

json::array dumps_of(TracerNode& node, const std::string& id) {
    return node.get_json("/v1/trace-session/" + id + "/dumps").as_array();
}

std::vector<ReportLine> report_of(TracerNode& node, const std::string& target, const fs::path& to) {
    auto r = node.request("GET", target);
    INFO(target << ": " << r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    std::ofstream(to, std::ios::binary) << r.body;
    return parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", to.string()}));
}

// The getppid events of `pid` in the report, in its order; REQUIREs timestamps not to go back.
std::vector<std::string> getppid_of(const std::vector<ReportLine>& lines, pid_t pid) {
    std::vector<std::string> out;
    std::uint64_t last = 0;
    for (const auto& l : lines) {
        if (l.pid != pid || l.event.find("getppid") == std::string::npos) continue;
        CHECK(l.timestamp_ns >= last);
        last = l.timestamp_ns;
        out.push_back(l.event);
    }
    return out;
}

// The pid with the most sys_enter_getppid events in the report (the pod's getppid_loop).
std::pair<pid_t, std::size_t> busiest(const std::vector<ReportLine>& lines) {
    std::map<pid_t, std::size_t> n;
    for (const auto& l : lines) n[l.pid] += l.event == "sys_enter_getppid";
    std::pair<pid_t, std::size_t> best{0, 0};
    for (auto [pid, c] : n)
        if (c > best.second) best = {pid, c};
    return best;
}

// A dump's JSON lines (GET .../dumps/<id>): REQUIREs 200, the JSON-lines type, and timestamps in
// order.
std::vector<json::object> parse_dump_lines(const ct::http::ClientResponse& r) {
    INFO(r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    CHECK(r.headers.at("content-type") == "application/x-ndjson");
    std::vector<json::object> out;
    std::istringstream in(r.body);
    std::uint64_t last = 0;
    for (std::string line; std::getline(in, line);) {
        out.push_back(json::parse(line).as_object());
        const auto ts = out.back().at("timestamp_ns").to_number<std::uint64_t>();
        CHECK(ts >= last);
        last = ts;
    }
    return out;
}

// The event names of `pid`'s getppid lines, in order.
std::vector<std::string> getppid_lines(const std::vector<json::object>& lines, pid_t pid) {
    std::vector<std::string> out;
    for (const auto& l : lines)
        if (l.at("pid") == pid && l.at("event").as_string().ends_with("_getppid"))
            out.emplace_back(l.at("event").as_string());
    return out;
}

// The dump records (lines with "kind") in the node's JSON-lines file.
std::vector<json::object> dump_records(const TracerNode& node) {
    std::vector<json::object> out;
    for (auto& e : node.events())
        if (e.contains("kind")) out.push_back(std::move(e));
    return out;
}

}  // namespace

TEST_CASE("flight recorder: nothing is read while it runs, and a dump by hand holds the pod's last getppid calls",
          "[integration][root][flight]") {
    Pod pod("flight-pod");
    TracerNode node;
    auto id = create_flight(node, "flight-pod", R"(, "ring-size": "2M")");
    auto session = node.get_json("/v1/trace-session/" + id).at(id).as_object();
    CHECK(session.at("TraceMode") == "flight-recorder");
    CHECK(session.at("RingSize") == "2M");
    CHECK(session.at("TraceParams") == json::array{"-s", "getppid"});  // the seed's field as before
    node.run(id, true);
    // The hook got -b for the ring size, in overwrite mode; the run's trigger instance is the other.
    CHECK(node.instances().size() == 2);
    std::string pipe(node.get_json("/v1/trace-session/" + id).at(id).at("Output").at(0).as_string());
    const auto inst = fs::path(pipe).parent_path().string();
    // 2 MiB, rounded up by the kernel to whole sub-buffers.
    auto kb = std::stoul(read_text(inst + "/buffer_size_kb"));
    CHECK(kb >= 2048);
    CHECK(kb < 2200);
    CHECK(read_text(inst + "/options/overwrite").starts_with("1"));

    pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), kCalls));
    std::this_thread::sleep_for(300ms);  // a reader would have read by now (it drains every ms)
    CHECK(node.count("", 0, id) == 0);
    auto stats = node.get_json("/v1/trace-session/" + id).at(id).at("Stats");
    CHECK(stats.at("Delivered") == 0);

    auto made = node.request("POST", "/v1/trace-session/" + id + "/dump");
    INFO(made.body);
    REQUIRE(made.status == 200);
    auto dump = json::parse(made.body).as_object();
    CHECK(dump.at("Reason") == "by hand");
    CHECK(dump.at("Events").to_number<std::uint64_t>() >= 2 * kCalls);
    CHECK(dump.at("From").is_string());
    CHECK(dump.at("Time").as_string().ends_with("Z"));
    auto list = dumps_of(node, id);
    REQUIRE(list.size() == 1);
    CHECK(list[0].at("Id") == dump.at("Id"));
    const std::string dump_id(dump.at("Id").as_string());

    TempDir dir;
    const auto base = "/v1/trace-session/" + id + "/dumps/" + dump_id;
    auto lines = report_of(node, base + "/trace.dat", dir.path() / "dump.dat");
    auto [pid, enters] = busiest(lines);
    CHECK(enters == static_cast<std::size_t>(kCalls));  // 2 MiB per CPU holds all of them
    auto calls = getppid_of(lines, pid);
    REQUIRE(calls.size() == 2 * kCalls);
    for (std::size_t i = 0; i < calls.size(); ++i)
        CHECK(calls[i] == (i % 2 == 0 ? "sys_enter_getppid" : "sys_exit_getppid"));
    // Named from the hook's exec event although the process is gone.
    for (const auto& l : lines)
        if (l.pid == pid) CHECK(l.comm == "getppid_loop");

    auto doc = node.request("GET", base + "/trace.json");
    INFO(doc.body.substr(0, 300));
    REQUIRE(doc.status == 200);
    std::size_t slices = 0;
    auto parsed = json::parse(doc.body);
    REQUIRE(parsed.is_object());
    for (const auto& e : parsed.at("traceEvents").as_array()) {
        const auto& o = e.as_object();
        slices += o.at("ph") == "X" && o.at("name") == "getppid" && o.at("pid").as_int64() == pid;
    }
    CHECK(slices == static_cast<std::size_t>(kCalls));

    // As JSON lines: the lines a live stream of the session gives, only the pod's, named, in
    // order; no trigger, and no fork/exec bookkeeping.
    auto jl = parse_dump_lines(node.request("GET", base));
    auto enter_exit = getppid_lines(jl, pid);
    REQUIRE(enter_exit == calls);
    for (const auto& l : jl) {
        CHECK(l.at("session") == id.c_str());
        CHECK(l.at("hook") == "trace_syscalls");
        CHECK(l.at("context") == "flight");
        CHECK(l.at("pod") == "flight-pod");
        CHECK(l.at("container") == "flight-pod");
        CHECK_FALSE(l.at("event").as_string().starts_with("sched_process_"));
        if (l.at("pid") == pid) CHECK(l.at("task") == "getppid_loop");
    }
    INFO(json::serialize(jl.front()));
    CHECK(jl.front().at("event") == "sys_enter_getppid");
    CHECK(jl.front().at("cpu").is_int64());
    CHECK(jl.front().at("timestamp").is_string());

    // The JSON-lines sink got one record of it.
    auto records = dump_records(node);
    REQUIRE(records.size() == 1);
    INFO(json::serialize(records[0]));
    CHECK(records[0].at("kind") == "dump");
    CHECK(records[0].at("dump") == dump.at("Id"));
    CHECK(records[0].at("session") == id.c_str());
    CHECK(records[0].at("node") == "test-node");
    CHECK(records[0].at("context") == "flight");
    CHECK(records[0].at("reason") == "by hand");
    CHECK(records[0].at("events") == dump.at("Events"));
    CHECK(records[0].at("lost") == dump.at("Lost"));
    CHECK(records[0].at("time") == dump.at("Time"));
    CHECK(records[0].at("from") == dump.at("From"));
    CHECK(records[0].at("to") == dump.at("To"));

    // Nothing happened since: a second dump by hand is valid, and holds none of those calls.
    auto again = node.request("POST", "/v1/trace-session/" + id + "/dump", "{}");
    REQUIRE(again.status == 200);
    auto second = json::parse(again.body).as_object();
    CHECK(second.at("Id") != dump.at("Id"));
    auto lines2 = report_of(node, "/v1/trace-session/" + id + "/dumps/" + std::string(second.at("Id").as_string()) +
                                      "/trace.dat",
                            dir.path() / "second.dat");
    CHECK(getppid_of(lines2, pid).empty());
    CHECK(getppid_lines(parse_dump_lines(node.request("GET", "/v1/trace-session/" + id + "/dumps/" +
                                                                 std::string(second.at("Id").as_string()))),
                        pid)
              .empty());
    CHECK(dumps_of(node, id).size() == 2);
    records = dump_records(node);
    REQUIRE(records.size() == 2);
    CHECK(records[1].at("dump") == second.at("Id"));

    node.run(id, false);
    CHECK(node.instances().empty());
    CHECK(dumps_of(node, id).size() == 2);  // kept after the run
    auto stopped = node.request("POST", "/v1/trace-session/" + id + "/dump");
    CHECK(stopped.status == 409);
    CHECK_THAT(error_of(stopped), Catch::Contains("not running"));
}

TEST_CASE("flight recorder: dumps survive a node restart and go with their session",
          "[integration][root][flight]") {
    Pod pod("flight-keep");
    TempDir state;
    std::string id, dump_id;
    {
        TracerNode first({.state_dir = state.str()});
        id = create_flight(first, "flight-keep");
        first.run(id, true);
        pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), 100));
        auto made = first.request("POST", "/v1/trace-session/" + id + "/dump");
        REQUIRE(made.status == 200);
        dump_id = std::string(json::parse(made.body).at("Id").as_string());
    }
    TracerNode second({.state_dir = state.str()});
    auto list = dumps_of(second, id);
    REQUIRE(list.size() == 1);
    CHECK(list[0].at("Id") == dump_id.c_str());
    CHECK(list[0].at("Reason") == "by hand");
    TempDir dir;
    auto lines = report_of(second, "/v1/trace-session/" + id + "/dumps/" + dump_id + "/trace.dat",
                           dir.path() / "kept.dat");
    CHECK(busiest(lines).second == 100);
    // The restored session is running again (flight mode kept) and can be dumped.
    CHECK(second.get_json("/v1/trace-session/" + id).at(id).at("TraceMode") == "flight-recorder");
    CHECK(second.request("POST", "/v1/trace-session/" + id + "/dump").status == 200);
    REQUIRE(second.request("DELETE", "/v1/trace-session/" + id).status == 200);
    CHECK_FALSE(fs::exists(fs::path(state.path()) / "dumps" / ("session-" + id)));
}

TEST_CASE("flight recorder: bad input is refused naming the value, and changes nothing",
          "[integration][root][flight]") {
    Pod pod("flight-bad");
    TracerNode node({.extra_args = {"--max-ring", "1M", "--dump-limit", "2"}});
    auto refused = [&](const std::string& extra, const std::string& mode = R"("trace-mode": "flight-recorder")") {
        auto r = node.request("POST", "/v1/trace-session", flight_body("flight-bad", extra, mode));
        CHECK(r.status == 400);
        return error_of(r);
    };
    CHECK_THAT(refused("", R"("Trace-Mode": "flightrecorder")"), Catch::Contains("\"flightrecorder\""));
    CHECK_THAT(refused(R"(, "ring-size": "eight")"), Catch::Contains("\"eight\" is not a size"));
    CHECK_THAT(refused(R"(, "ring-size": "2M")"), Catch::Contains("\"2M\"") && Catch::Contains("--max-ring"));
    CHECK(node.get_json("/v1/trace-session/all").as_object().empty());

    auto stream = node.create_session("flight-bad", "*", "-s getppid");
    node.run(stream, true);
    auto r = node.request("POST", "/v1/trace-session/" + stream + "/dump");
    CHECK(r.status == 409);
    CHECK_THAT(error_of(r), Catch::Contains("flight-recorder"));
    CHECK(node.request("POST", "/v1/trace-session/123/dump").status == 404);
    CHECK(node.request("POST", "/v1/trace-session/all/dump").status == 400);
    auto id = create_flight(node, "flight-bad", R"(, "ring-size": "1M")");
    node.run(id, true);
    CHECK(node.request("POST", "/v1/trace-session/" + id + "/dump", R"({"now": 1})").status == 400);
    CHECK(node.request("GET", "/v1/trace-session/" + id + "/dumps/007/trace.dat").status == 400);
    CHECK(node.request("GET", "/v1/trace-session/" + id + "/dumps/7/trace.dat").status == 404);
    CHECK(node.request("GET", "/v1/trace-session/" + id + "/dumps/7/trace.json?clock=x").status == 400);
    auto lines_of = [&](const std::string& session, const std::string& dump) {
        return node.request("GET", "/v1/trace-session/" + session + "/dumps/" + dump);
    };
    CHECK_THAT(error_of(lines_of(id, "007")), Catch::Contains("\"007\""));
    CHECK(lines_of(id, "007").status == 400);
    CHECK(lines_of(id, "7").status == 404);
    CHECK_THAT(error_of(lines_of(id, "7")), Catch::Contains("no dump 7"));
    CHECK(lines_of("123", "7").status == 404);
    CHECK(lines_of("all", "7").status == 400);
    CHECK(lines_of(id, "7?clock=trace").status == 400);
    CHECK(dumps_of(node, id).empty());

    // --dump-limit 2: a third dump removes the first.
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        auto made = node.request("POST", "/v1/trace-session/" + id + "/dump");
        REQUIRE(made.status == 200);
        ids.emplace_back(json::parse(made.body).at("Id").as_string());
    }
    auto kept = dumps_of(node, id);
    REQUIRE(kept.size() == 2);
    CHECK(kept[0].at("Id") == ids[1].c_str());
    CHECK(kept[1].at("Id") == ids[2].c_str());
    CHECK(node.request("GET", "/v1/trace-session/" + id + "/dumps/" + ids[0] + "/trace.dat").status == 404);
    CHECK(node.request("GET", "/v1/trace-session/" + id + "/dumps/" + ids[0]).status == 404);
    // Counted in /metrics: one removed, two kept.
    auto metrics = node.request("GET", "/metrics").body;
    CHECK(metric_value(metrics, "container_tracer_dumps_removed_total") == 1);
    CHECK(metric_value(metrics, "container_tracer_dumps") == 2);
}

TEST_CASE("flight recorder: a SIGSEGV sent to a pod's process dumps its last getppid calls and the signal",
          "[integration][root][flight]") {
    Pod pod("flight-crash");
    TracerNode node;
    auto id = create_flight(node, "flight-crash");
    node.run(id, true);
    pod.exec(fmt::format("{} {} - pause > /dev/null 2>&1 &", built("bench/getppid_loop"), kCalls));
    // Its host PID once it has made its calls and waits (state S in pause()).
    pid_t pid = 0;
    for (int i = 0; i < 200 && pid == 0; ++i) {
        for (pid_t p : pod.host_pids()) {
            auto stat = read_text(fmt::format("/proc/{}/stat", p));
            if (read_text(fmt::format("/proc/{}/comm", p)).starts_with("getppid_loop") &&
                stat.find(") S ") != std::string::npos)
                pid = p;
        }
        if (pid == 0) std::this_thread::sleep_for(25ms);
    }
    REQUIRE(pid != 0);
    // The trigger filter takes up new processes of the session every 50 ms (trigger_watch.h).
    std::this_thread::sleep_for(250ms);
    CHECK(dumps_of(node, id).empty());
    REQUIRE(::kill(pid, SIGSEGV) == 0);
    const auto sent = std::chrono::steady_clock::now();
    json::array list;
    while (list.empty() && std::chrono::steady_clock::now() - sent < 5s) {
        std::this_thread::sleep_for(50ms);
        list = dumps_of(node, id);
    }
    REQUIRE(list.size() == 1);
    const auto& dump = list[0].as_object();
    INFO(json::serialize(dump));
    CHECK_THAT(std::string(dump.at("Reason").as_string()),
               Catch::Contains("signal SIGSEGV to pid " + std::to_string(pid)) && Catch::Contains("flight-crash"));
    // The trigger's own event, from the trigger instance, in the dump's description.
    REQUIRE(dump.contains("Trigger"));
    CHECK(dump.at("Trigger").at("Event") == "signal_generate");
    CHECK(dump.at("Trigger").at("Fields").at("sig") == SIGSEGV);
    CHECK(dump.at("Trigger").at("Fields").at("pid") == pid);

    TempDir dir;
    auto lines = report_of(node, "/v1/trace-session/" + id + "/dumps/" + std::string(dump.at("Id").as_string()) +
                                     "/trace.dat",
                           dir.path() / "crash.dat");
    auto calls = getppid_of(lines, pid);
    REQUIRE(calls.size() == 2 * kCalls);  // the default 8 MiB per CPU holds them all
    for (std::size_t i = 0; i < calls.size(); ++i)
        CHECK(calls[i] == (i % 2 == 0 ? "sys_enter_getppid" : "sys_exit_getppid"));

    // As JSON lines: the same calls, then the signal (the trigger's own event) in its time
    // position, its task the target.
    auto jl = parse_dump_lines(node.request("GET", "/v1/trace-session/" + id + "/dumps/" +
                                                       std::string(dump.at("Id").as_string())));
    CHECK(getppid_lines(jl, pid) == calls);
    std::optional<std::size_t> signal_at;
    std::size_t last_call = 0;
    for (std::size_t i = 0; i < jl.size(); ++i) {
        if (jl[i].at("event") == "signal_generate") {
            CHECK_FALSE(signal_at);
            signal_at = i;
        } else if (jl[i].at("pid") == pid) {
            last_call = i;
        }
    }
    REQUIRE(signal_at);
    const auto& sig = jl[*signal_at];
    INFO(json::serialize(sig));
    CHECK(*signal_at > last_call);
    CHECK(sig.at("pid") == pid);
    CHECK(sig.at("pod") == "flight-crash");
    CHECK(sig.at("task") == "getppid_loop");
    CHECK(sig.at("fields").at("sig") == SIGSEGV);
    CHECK(sig.at("fields").at("pid") == pid);
    CHECK(sig.at("timestamp_ns") == dump.at("Trigger").at("TimestampNs"));
    CHECK(sig.at("cpu").as_int64() >= 0);
    // Its record in the JSON-lines file names the signal too.
    auto records = dump_records(node);
    REQUIRE(records.size() == 1);
    CHECK(records[0].at("reason") == dump.at("Reason"));
    // Only this agent's instances, and the run's trigger instance goes with the run.
    CHECK(node.instances().size() == 2);
    node.run(id, false);
    CHECK(node.instances().empty());
}

TEST_CASE("flight recorder: tracer-svc makes, lists and relays a node's dumps", "[integration][root][flight][svc]") {
    Pod pod("flight-svc");
    TracerNode node({.node_name = "node-f"});
    auto id = create_flight(node, "flight-svc");
    node.run(id, true);
    pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), 300));
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(ct::svctest::wait_status(svc.port(), "/readyz"));

    auto made = svc.send("POST", "/v1/trace-session/" + id + "/dump");
    REQUIRE(made);
    INFO(made->body);
    REQUIRE(made->status == 200);
    auto dump_id = std::string(json::parse(made->body).at("Id").as_string());
    auto list = svc.get("/v1/trace-session/" + id + "/dumps");
    REQUIRE(list);
    REQUIRE(list->status == 200);
    auto dumps = json::parse(list->body).as_array();
    REQUIRE(dumps.size() == 1);
    CHECK(dumps[0].at("Id") == dump_id.c_str());
    auto dat = svc.get("/v1/trace-session/" + id + "/dumps/" + dump_id + "/trace.dat");
    REQUIRE(dat);
    REQUIRE(dat->status == 200);
    CHECK(dat->headers["content-type"] == "application/octet-stream");
    TempDir dir;
    std::ofstream(dir.path() / "svc.dat", std::ios::binary) << dat->body;
    auto [loop_pid, loop_calls] =
        busiest(parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (dir.path() / "svc.dat").string()})));
    CHECK(loop_calls == 300);
    auto doc = svc.get("/v1/trace-session/" + id + "/dumps/" + dump_id + "/trace.json");
    REQUIRE(doc);
    CHECK(doc->status == 200);
    CHECK(json::parse(doc->body).as_object().contains("traceEvents"));
    auto jl = svc.get("/v1/trace-session/" + id + "/dumps/" + dump_id);
    REQUIRE(jl);
    auto lines = parse_dump_lines(*jl);
    CHECK(getppid_lines(lines, loop_pid).size() == 600);  // enter and exit of each call
    for (const auto& l : lines) CHECK(l.at("node") == "node-f");
    auto unknown_lines = svc.get("/v1/trace-session/" + id + "/dumps/7");
    REQUIRE(unknown_lines);
    CHECK(unknown_lines->status == 404);
    // The node's refusals pass through; ids are checked by tracer-svc first.
    auto unknown = svc.get("/v1/trace-session/" + id + "/dumps/7/trace.dat");
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
    auto all = svc.send("POST", "/v1/trace-session/all/dump");
    REQUIRE(all);
    CHECK(all->status == 400);
}

TEST_CASE("flight recorder: a container of the session ending makes a dump", "[integration][root][flight]") {
    Pod stays("flight-end-a");
    std::optional<Pod> goes;
    goes.emplace("flight-end-b");
    // Without a holdoff, the SIGKILLs that end the pod make dumps of their own, and the end of
    // its container (seen by the janitor) one more.
    TracerNode node({.extra_args = {"--dump-holdoff", "0"}});
    auto id = create_flight(node, "flight-end-*");
    node.run(id, true);
    goes->exec(fmt::format("{} {}", built("bench/getppid_loop"), 200));
    CHECK(dumps_of(node, id).empty());
    goes.reset();  // the pod's init is SIGKILLed, and with it the namespace
    const std::string ended = "container flight-end-b/flight-end-b ended";
    auto has_end = [&] {
        for (const auto& d : dumps_of(node, id))
            if (d.at("Reason") == ended.c_str()) return true;
        return false;
    };
    for (int i = 0; i < 100 && !has_end(); ++i) std::this_thread::sleep_for(50ms);  // the janitor looks once a second
    CHECK(has_end());
    // The other pod goes on: its container did not end.
    for (const auto& d : dumps_of(node, id)) CHECK(d.at("Reason").as_string().find("flight-end-a") == std::string::npos);
}

TEST_CASE("flight recorder: the OTLP exporter sends a span of every dump", "[integration][root][flight]") {
    Pod pod("flight-otlp");
    OtlpReceiver receiver;
    TracerNode node({.extra_args = receiver.node_args()});
    auto id = create_flight(node, "flight-otlp");
    node.run(id, true);
    pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), 100));
    auto made = node.request("POST", "/v1/trace-session/" + id + "/dump");
    REQUIRE(made.status == 200);
    auto dump = json::parse(made.body).as_object();
    auto dump_spans = [&] {
        std::vector<json::object> out;
        for (auto& s : receiver.spans())
            if (s.at("name") == "flight-recorder dump") out.push_back(std::move(s));
        return out;
    };
    REQUIRE(wait_until([&] { return !dump_spans().empty(); }, 10s));  // the exporter sends every second
    auto spans = dump_spans();
    REQUIRE(spans.size() == 1);
    auto attrs = otlp_attributes(spans[0]);
    INFO(json::serialize(spans[0]));
    CHECK(attrs["ct.session.id"] == id.c_str());
    CHECK(attrs["ct.context"] == "flight");
    CHECK(attrs["ct.dump.id"] == dump.at("Id"));
    CHECK(attrs["ct.dump.reason"] == "by hand");
    CHECK(attrs["ct.dump.events"] == std::to_string(dump.at("Events").to_number<std::uint64_t>()).c_str());
    CHECK(attrs["ct.dump.lost"] == std::to_string(dump.at("Lost").to_number<std::uint64_t>()).c_str());
    CHECK(attrs["ct.dump.from"] == dump.at("From"));
    CHECK(attrs["ct.dump.to"] == dump.at("To"));
    CHECK_FALSE(spans[0].contains("parentSpanId"));  // a trace of its own
    CHECK(std::stoull(std::string(spans[0].at("startTimeUnixNano").as_string())) <=
          std::stoull(std::string(spans[0].at("endTimeUnixNano").as_string())));
    // Counted with the session's exports (once the receiver's answer is back).
    CHECK(wait_until(
        [&] {
            return node.get_json("/v1/trace-session/" + id).at(id).at("Stats").at("Exporters").at("otlp").at("Exported") ==
                   1;
        },
        5s));
}

TEST_CASE("flight recorder: a dump's JSON lines, trace.dat and trace.json keep to the session's containers",
          "[integration][root][flight]") {
    Pod ours("flight-scope-a");
    Pod other("flight-scope-b");
    TracerNode node;
    auto id = create_flight(node, "flight-scope-a");
    node.run(id, true);
    // The other pod's processes get into the hook's pid filter (as a process moving out of the
    // session's containers would): their events are in the ring, but not the session's.
    std::string pipe(node.get_json("/v1/trace-session/" + id).at(id).at("Output").at(0).as_string());
    const auto instance = fs::path(pipe).parent_path().string();
    REQUIRE(ct::node::ftrace::add_event_pids(instance, {other.host_pids().front()}));  // its shell runs each exec
    other.exec(fmt::format("{} {}", built("bench/getppid_loop"), 100));
    ours.exec(fmt::format("{} {}", built("bench/getppid_loop"), 100));
    auto made = node.request("POST", "/v1/trace-session/" + id + "/dump");
    REQUIRE(made.status == 200);
    const auto base = "/v1/trace-session/" + id + "/dumps/" + std::string(json::parse(made.body).at("Id").as_string());
    TempDir dir;
    std::multiset<std::pair<std::int64_t, std::uint64_t>> in_lines;  // (pid, timestamp) of each getppid call
    for (const auto& l : parse_dump_lines(node.request("GET", base))) {
        CHECK(l.at("pod") == "flight-scope-a");
        if (l.at("event") == "sys_enter_getppid")
            in_lines.emplace(l.at("pid").as_int64(), l.at("timestamp_ns").to_number<std::uint64_t>());
    }
    CHECK(in_lines.size() >= 100);  // the session's pod's calls
    // The other pod's calls were in the ring; the files leave them out as the lines do.
    std::multiset<std::pair<std::int64_t, std::uint64_t>> in_dat;
    for (const auto& l : report_of(node, base + "/trace.dat", dir.path() / "scope.dat"))
        if (l.event == "sys_enter_getppid") in_dat.emplace(l.pid, l.timestamp_ns);
    CHECK(in_dat == in_lines);
    auto doc = json::parse(node.request("GET", base + "/trace.json").body);
    std::size_t in_json = 0;
    for (const auto& e : doc.at("traceEvents").as_array())
        in_json += e.at("ph") == "X" && e.at("name") == "getppid";
    CHECK(in_json == in_lines.size());
}
