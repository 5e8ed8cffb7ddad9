// The export pipeline end to end through tracer-node's real HTTP API: a pod's workload makes
// 1,000,000 getppid calls at full speed under trace_syscalls; every call must arrive once as
// enter and once as exit (or the loss must be counted exactly), two live streams must see what
// the JSON-lines sink saw while a third, stuck reader only loses its own events, and /metrics
// must agree with the session's Stats.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <thread>

#include "tests/integration/export_fixture.h"

namespace {

using namespace ct::test;
namespace json = boost::json;

constexpr long kCalls = 1'000'000;

struct Counted {
    std::uint64_t lines = 0, enter = 0, exit = 0;
    void add_line(std::string_view line, const std::string& pid_field) {
        ++lines;
        if (line.find(pid_field) == std::string_view::npos) return;
        if (line.find("\"event\":\"sys_enter_getppid\"") != std::string_view::npos) ++enter;
        if (line.find("\"event\":\"sys_exit_getppid\"") != std::string_view::npos) ++exit;
    }
};

// Counts the JSON lines of a live stream until the server ends it.
void read_stream(unsigned short port, const std::string& target, const std::string& pid_field, Counted& out,
                 int& status) {
    ct::http::ClientRequest r;
    r.port = port;
    r.target = target;
    r.timeout = std::chrono::milliseconds(600000);
    std::string partial;
    auto res = ct::http::stream(r, [&](std::string_view data) {
        partial.append(data);
        size_t start = 0, nl;
        while ((nl = partial.find('\n', start)) != std::string::npos) {
            out.add_line(std::string_view(partial).substr(start, nl - start), pid_field);
            start = nl + 1;
        }
        partial.erase(0, start);
        return true;
    });
    status = res ? res->status : -1;
}

// A reader that sends its request and then never reads: its queue must overflow on its own.
int stuck_reader(unsigned short port, const std::string& target) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    auto req = fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", target);
    if (::write(fd, req.data(), req.size()) < 0) return -1;
    return fd;
}

std::optional<double> metric(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(name + "{") && line != name && !line.starts_with(name + " ")) continue;
        bool all = true;
        for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
        if (!all) continue;
        return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("1M getppid calls at full speed: every event delivered once or counted as lost, streams and metrics agree",
          "[integration][root]") {
    TempDir dir;
    auto out_path = (dir.path() / "events.jsonl").string();
    auto start_file = (dir.path() / "start").string();
    TracerNodeProc node(out_path);
    auto pod_name = "ctx-getppid-" + random_suffix();
    WaitingPod pod(pod_name, start_file, fmt::format("{}/bench/getppid_loop {}", CT_BINARY_DIR, kCalls));
    pid_t workload = pod.shell_pid();
    REQUIRE(workload > 0);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; ++i) {
        seen = node.has_pod(pod_name);
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(seen);

    auto created = node.json("POST", "/v1/trace-session",
                             json::serialize(json::object{{"pod", pod_name},
                                                          {"container", "*"},
                                                          {"trace-hook", "trace_syscalls"},
                                                          {"trace-arguments", "-s getppid"},
                                                          {"trace-user-context", "export-test"}}));
    REQUIRE(created.as_object().size() == 1);
    std::string id = created.as_object().begin()->key();
    auto target = "/v1/trace-session/" + id;

    // Not running yet: no stream.
    auto early = node.call("GET", target + "/trace");
    REQUIRE(early);
    CHECK(early->status == 404);

    node.json("PUT", target, R"({"Run": true})");

    std::string pid_field = fmt::format("\"pid\":{},", workload);
    Counted a, b;
    int status_a = 0, status_b = 0;
    std::thread reader_a([&] { read_stream(node.port(), target + "/trace", pid_field, a, status_a); });
    std::thread reader_b([&] { read_stream(node.port(), target + "/trace", pid_field, b, status_b); });
    int stuck = stuck_reader(node.port(), target + "/trace");
    REQUIRE(stuck >= 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the readers subscribe

    { std::ofstream(start_file) << "go"; }
    auto exited = pod.wait_for(std::chrono::milliseconds(300000));
    REQUIRE(exited);
    CHECK(exited->ok());

    auto stop = node.call("PUT", target, R"({"Run": false})", std::chrono::milliseconds(600000));
    reader_a.join();
    reader_b.join();
    ::close(stuck);
    INFO((stop ? stop->body : stop.error().message));
    REQUIRE(stop);
    REQUIRE(stop->status == 200);

    auto view = node.json("GET", target).as_object().at(id).as_object();
    CHECK_FALSE(view.at("Running").as_bool());
    auto stats = view.at("Stats").as_object();
    auto u = [&](const char* k) { return stats.at(k).to_number<std::uint64_t>(); };
    INFO("Stats: " << json::serialize(stats));

    // What the JSON-lines sink got.
    Counted file;
    {
        std::ifstream in(out_path);
        std::string line;
        while (std::getline(in, line))
            if (line.find(fmt::format("\"session\":\"{}\"", id)) != std::string::npos) file.add_line(line, pid_field);
    }
    INFO("file: " << file.lines << " lines, enter " << file.enter << ", exit " << file.exit);

    CHECK(u("Lost") == u("Overrun") + u("Dropped") + u("Unparsed") + u("QueueDropped"));
    CHECK(u("Delivered") == file.lines);
    if (u("Lost") == 0) {
        CHECK(file.enter == static_cast<std::uint64_t>(kCalls));
        CHECK(file.exit == static_cast<std::uint64_t>(kCalls));
    } else {
        // Whatever was lost is accounted for exactly.
        CHECK(file.enter + file.exit + (file.lines - file.enter - file.exit) + u("Lost") ==
              2 * static_cast<std::uint64_t>(kCalls) + (file.lines - file.enter - file.exit));
    }
    CHECK(file.enter <= static_cast<std::uint64_t>(kCalls));
    CHECK(file.exit <= static_cast<std::uint64_t>(kCalls));

    // Live streams: both active readers saw exactly the sink's events; the stuck one lost its own.
    CHECK(status_a == 200);
    CHECK(status_b == 200);
    // A reader that falls behind loses from its own stream only, and every event is either
    // queued to or counted as dropped for each of the three readers.
    CHECK(a.lines <= file.lines);
    CHECK(b.lines <= file.lines);
    CHECK(a.lines > 0);
    CHECK(b.lines > 0);
    auto exporters = stats.at("Exporters").as_object();
    auto stream_stats = exporters.at("stream").as_object();
    // (the stuck reader is cut off by the server's write timeout, after which it gets nothing)
    auto offered = stream_stats.at("Exported").to_number<std::uint64_t>() + stream_stats.at("Dropped").to_number<std::uint64_t>();
    CHECK(offered >= 2 * file.lines);
    CHECK(offered <= 3 * file.lines);
    CHECK(stream_stats.at("Dropped").to_number<std::uint64_t>() > 0);
    CHECK(stream_stats.at("Exported").to_number<std::uint64_t>() >= a.lines + b.lines);
    CHECK(exporters.at("jsonl").as_object().at("Exported").to_number<std::uint64_t>() == file.lines);
    CHECK(exporters.at("stream").as_object().at("Dropped").to_number<std::uint64_t>() > 0);

    // /metrics: Prometheus text whose figures match the session's Stats.
    auto m = node.call("GET", "/metrics");
    REQUIRE(m);
    REQUIRE(m->status == 200);
    std::istringstream lines(m->body);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line.starts_with("#")) continue;
        auto space = line.rfind(' ');
        INFO(line);
        REQUIRE(space != std::string::npos);
        CHECK_NOTHROW(std::stod(line.substr(space + 1)));
    }
    auto session_label = fmt::format("session=\"{}\"", id);
    CHECK(metric(m->body, "container_tracer_session_events", {session_label, "kind=\"delivered\""}) ==
          static_cast<double>(u("Delivered")));
    CHECK(metric(m->body, "container_tracer_session_events", {session_label, "kind=\"lost\""}) ==
          static_cast<double>(u("Lost")));
    CHECK(metric(m->body, "container_tracer_events_total", {"kind=\"delivered\""}) ==
          static_cast<double>(u("Delivered")));
    CHECK(metric(m->body, "container_tracer_exported_events_total", {"exporter=\"jsonl\""}) ==
          static_cast<double>(file.lines));
    CHECK(metric(m->body, "container_tracer_sessions", {"state=\"stopped\""}) == 1.0);
}
