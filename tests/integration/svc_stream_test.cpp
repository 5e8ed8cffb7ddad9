// tracer-svc relays a session's live stream from the node that owns it: a real tracer-node with
// real ftrace behind a real tracer-svc, a pod's getppid loop traced, and the stream read through
// the svc must carry every event the node's own JSON-lines sink got for that workload.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/integration/export_fixture.h"
#include "tests/integration/svc_fixture.h"

namespace {

using namespace ct::test;
using ct::svctest::Svc;
namespace json = boost::json;

constexpr long kCalls = 20'000;

struct StreamRead {
    int status = 0;
    std::string body;
    std::uint64_t enter = 0, exit = 0, lines = 0;
    std::optional<std::uint64_t> dropped;  // the X-Tracer-Dropped trailer
};

// Reads a stream to its end, counting the workload's getppid events.
StreamRead read_all(unsigned short port, const std::string& target, pid_t workload) {
    StreamRead out;
    ct::http::ClientRequest r{.port = port, .target = target, .timeout = std::chrono::seconds(300)};
    auto res = ct::http::stream(r, [&](std::string_view piece) {
        out.body.append(piece);
        return true;
    });
    out.status = res ? res->status : -1;
    if (res && res->headers.contains("x-tracer-dropped")) out.dropped = std::stoull(res->headers.at("x-tracer-dropped"));
    auto pid_field = fmt::format("\"pid\":{},", workload);
    std::istringstream in(out.body);
    for (std::string line; std::getline(in, line);) {
        ++out.lines;
        if (line.find(pid_field) == std::string::npos) continue;
        if (line.find("\"event\":\"sys_enter_getppid\"") != std::string::npos) ++out.enter;
        if (line.find("\"event\":\"sys_exit_getppid\"") != std::string::npos) ++out.exit;
    }
    return out;
}

}  // namespace

TEST_CASE("tracer-svc relays a running session's live stream from its node", "[integration][root][svc]") {
    TempDir dir;
    auto start_file = (dir.path() / "start").string();
    // Every event must arrive (Lost 0 below): under a sanitizer, exporting even these 40k events
    // after the stop takes seconds, so the stop may wait longer than the default --drain-limit.
    TracerNodeProc node((dir.path() / "events.jsonl").string(), {"--drain-limit", "120000"});
    Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port()), "--poll", "1"});
    REQUIRE(svc.started());
    auto pod_name = "ctx-svcstream-" + random_suffix();
    WaitingPod pod(pod_name, start_file, fmt::format("{}/bench/getppid_loop {}", CT_BINARY_DIR, kCalls));
    pid_t workload = pod.shell_pid();
    REQUIRE(workload > 0);
    bool ready = false;
    for (int i = 0; i < 100 && !ready; ++i) {
        auto pods = svc.get("/v1/pods");
        ready = pods && pods->status == 200 && json::parse(pods->body).as_object().contains(pod_name);
        if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(ready);

    auto created = svc.send("POST", "/v1/trace-session",
                            json::serialize(json::object{{"pod", pod_name}, {"container", "*"},
                                                         {"trace-hook", "trace_syscalls"},
                                                         {"trace-arguments", "-s getppid"},
                                                         {"trace-user-context", "svc-stream"}}));
    REQUIRE(created);
    REQUIRE(created->status == 200);
    std::string id = json::parse(created->body).as_object().begin()->key();
    auto target = "/v1/trace-session/" + id;

    // Bad input and sessions with nothing to stream answer like the node would.
    auto all = svc.get("/v1/trace-session/all/trace");
    REQUIRE(all);
    CHECK(all->status == 400);
    auto bad = svc.get("/v1/trace-session/x1/trace");
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(bad->body.find("x1") != std::string::npos);
    auto unknown = svc.get("/v1/trace-session/12345/trace");
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
    auto not_running = svc.get(target + "/trace");  // the node's own 404, passed on
    REQUIRE(not_running);
    CHECK(not_running->status == 404);
    CHECK(not_running->body.find("error") != std::string::npos);

    REQUIRE(svc.send("PUT", target, R"({"Run": true})")->status == 200);

    // A client that leaves mid-stream must not disturb the one that stays.
    auto leaver = std::thread([&] {
        ct::http::ClientRequest r{.port = svc.port(), .target = target + "/trace", .timeout = std::chrono::seconds(60)};
        // Leaves at its first data; its own result is not this test's subject (and Catch is not
        // thread-safe): the one that stays is checked below.
        (void)ct::http::stream(r, [](std::string_view piece) { return piece.empty(); });
    });
    StreamRead via_svc;
    std::thread reader([&] { via_svc = read_all(svc.port(), target + "/trace", workload); });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // both subscribed on the node

    { std::ofstream(start_file) << "go"; }
    auto exited = pod.wait_for(std::chrono::seconds(120));
    REQUIRE(exited);
    CHECK(exited->ok());
    auto stop = ct::svctest::call(svc.port(), "PUT", target, R"({"Run": false})", std::chrono::seconds(120));  // drains first
    REQUIRE(stop);
    CHECK(stop->status == 200);
    reader.join();
    leaver.join();

    auto view = node.json("GET", target).as_object().at(id).as_object();
    auto stats = view.at("Stats").as_object();
    INFO("Stats: " << json::serialize(stats));
    CHECK(via_svc.status == 200);
    CHECK(stats.at("Lost").to_number<std::uint64_t>() == 0);
    // Every event reached the reader, or its trailer counts what it lost (tracer-svc's own drops
    // plus the node's drops of the one stream tracer-svc reads).
    REQUIRE(via_svc.dropped);
    CHECK(via_svc.lines + *via_svc.dropped == stats.at("Delivered").to_number<std::uint64_t>());
    if (*via_svc.dropped == 0) {
        CHECK(via_svc.enter == static_cast<std::uint64_t>(kCalls));
        CHECK(via_svc.exit == static_cast<std::uint64_t>(kCalls));
    }

    // The svc is still healthy and serves the next request.
    auto after = svc.get("/v1/trace-session/" + id);
    REQUIRE(after);
    CHECK(after->status == 200);
}
