// stream_fanout [READERS] [CALLS]: live streams at scale. Spawns the built tracer-node and
// tracer-svc, a pod (unshare) whose getppid_loop CALLS is traced under trace_syscalls -s getppid,
// and READERS clients following the session's stream through tracer-svc (one node stream fanned
// out). Prints both programs' thread counts idle / with the readers / after they left, tracer-svc's
// RSS and CPU, and how fast events went out to all readers. Needs root (unshare, ftrace). Not a
// test: nothing is asserted.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/subprocess.h"
#include "tests/integration/process_probe.h"
#include "tests/support/stream_readers.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

ct::Result<ct::http::ClientResponse> call(unsigned short port, const std::string& method, const std::string& target,
                                          std::string body = "") {
    return ct::http::send({.port = port, .method = method, .target = target, .body = std::move(body), .timeout = 10min});
}

bool wait_ready(unsigned short port) {
    for (int i = 0; i < 200; ++i) {
        auto r = call(port, "GET", "/readyz");
        if (r && r->status == 200) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

ct::Subprocess spawn(std::vector<std::string> argv) {
    ct::SpawnOptions o;
    o.argv = std::move(argv);
    o.capture_stdout = o.capture_stderr = false;
    auto p = ct::Subprocess::spawn(o);
    if (!p) throw std::runtime_error(p.error().message);
    return std::move(*p);
}

}  // namespace

int main(int argc, char** argv) try {
    const size_t readers = argc > 1 ? std::stoul(argv[1]) : 1000;
    const long calls = argc > 2 ? std::stol(argv[2]) : 20000;
    ct::http::raise_open_file_limit();
    auto dir = std::filesystem::temp_directory_path() / fmt::format("ct-bench-streams-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const auto node_port = static_cast<unsigned short>(20000 + ::getpid() % 20000);
    const auto svc_port = static_cast<unsigned short>(node_port + 1);
    auto node = spawn({CT_BINARY_DIR "/tracer-node/tracer-node", "--trace-hooks", CT_BINARY_DIR "/trace-hooks",
                       "--use-procfs", "--trace-output", "/dev/null", "--address",
                       fmt::format("127.0.0.1:{}", node_port), "--state-dir", (dir / "state").string()});
    auto svc = spawn({CT_BINARY_DIR "/tracer-svc/tracer-svc", "--address", fmt::format("127.0.0.1:{}", svc_port),
                      "--nodes", fmt::format("127.0.0.1:{}", node_port)});
    if (!wait_ready(node_port) || !wait_ready(svc_port)) throw std::runtime_error("tracer-node or tracer-svc not ready");

    auto pod_name = fmt::format("ct-bench-streams-{}", ::getpid());
    auto start_file = (dir / "start").string();
    auto pod = spawn({"unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                      fmt::format("hostname {}; while [ ! -e {} ]; do sleep 0.01; done; exec {}/bench/getppid_loop {} "
                                  ">/dev/null",
                                  pod_name, start_file, CT_BINARY_DIR, calls)});
    std::string id;
    for (int i = 0; i < 100 && id.empty(); ++i) {
        auto created = call(node_port, "POST", "/v1/trace-session",
                            fmt::format(R"({{"pod":"{}","container":"*","trace-hook":"trace_syscalls",)"
                                        R"("trace-arguments":"-s getppid"}})",
                                        pod_name));
        if (created && created->status == 200) id = boost::json::parse(created->body).as_object().begin()->key();
        else std::this_thread::sleep_for(100ms);
    }
    if (id.empty()) throw std::runtime_error("no session: the pod was not discovered");
    const auto session = "/v1/trace-session/" + id;
    call(node_port, "PUT", session, R"({"Run": true})");
    call(svc_port, "GET", session);  // the svc learns the session's node
    std::this_thread::sleep_for(1s);
    auto node_idle = ct::test::process_figures(node.pid()), svc_idle = ct::test::process_figures(svc.pid());

    fmt::print("readers: {} through tracer-svc, workload: {} getppid calls ({} events)\n", readers, calls, 2 * calls);
    ct::test::StreamReaders streams(svc_port, session + "/trace", readers);
    if (!streams.wait_heads(120s)) throw std::runtime_error("readers did not all get an answer");
    auto node_with = ct::test::process_figures(node.pid()), svc_with = ct::test::process_figures(svc.pid());
    const double svc_cpu0 = ct::test::cpu_seconds(svc.pid());
    const auto t0 = Clock::now();
    { std::ofstream(start_file) << "go"; }
    size_t svc_peak_kib = svc_with.rss_kib;
    while (!pod.wait_for(100ms)) svc_peak_kib = std::max(svc_peak_kib, ct::test::process_figures(svc.pid()).rss_kib);
    call(node_port, "PUT", session, R"({"Run": false})");
    while (!streams.wait_ends(100ms)) svc_peak_kib = std::max(svc_peak_kib, ct::test::process_figures(svc.pid()).rss_kib);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double svc_cpu = ct::test::cpu_seconds(svc.pid()) - svc_cpu0;

    std::uint64_t received = 0, dropped = 0, bytes = 0;
    size_t ended_ok = 0;
    std::string problem;
    for (const auto& r : streams.readers()) {
        if (problem.empty() && (r.status != 200 || !r.dropped))
            problem = fmt::format(" (first other: status {}, {} lines, {})", r.status, r.lines, r.error);
        received += r.lines;
        bytes += r.bytes;
        dropped += r.dropped.value_or(0);
        ended_ok += r.status == 200 && r.dropped.has_value();
    }
    auto stats = boost::json::parse(call(node_port, "GET", session)->body).at(id).at("Stats");
    const auto delivered = stats.at("Delivered").to_number<std::uint64_t>();
    fmt::print("session: {} events delivered; readers ended normally: {} of {}{}\n", delivered, ended_ok, readers,
               problem);
    fmt::print("fan-out: {} events received, {} dropped (received + dropped = {} x delivered: {})\n", received, dropped,
               readers, received + dropped == readers * delivered ? "yes" : "NO");
    fmt::print("throughput: {:.2f} s from workload start to the last stream's end: {:.2f}M events/s out of "
               "tracer-svc ({:.1f} MB/s)\n",
               seconds, static_cast<double>(received) / seconds / 1e6,
               static_cast<double>(bytes) / seconds / 1e6);
    fmt::print("tracer-svc CPU: {:.2f} s, {:.3f} s per million events sent\n", svc_cpu,
               svc_cpu / (static_cast<double>(received) / 1e6));
    streams.close();
    std::this_thread::sleep_for(2s);
    auto node_after = ct::test::process_figures(node.pid()), svc_after = ct::test::process_figures(svc.pid());
    fmt::print("threads     idle  with-readers  after\n");
    fmt::print("tracer-node {:>4}  {:>12}  {:>5}\n", node_idle.threads, node_with.threads, node_after.threads);
    fmt::print("tracer-svc  {:>4}  {:>12}  {:>5}\n", svc_idle.threads, svc_with.threads, svc_after.threads);
    fmt::print("tracer-svc RSS: idle {:.1f} MiB, {} readers subscribed {:.1f} MiB, peak {:.1f} MiB, after {:.1f} MiB\n",
               svc_idle.rss_kib / 1024.0, readers, svc_with.rss_kib / 1024.0, svc_peak_kib / 1024.0,
               svc_after.rss_kib / 1024.0);
    call(node_port, "DELETE", session);
    svc.stop(2s, SIGTERM);
    node.stop(10s, SIGTERM);
    std::filesystem::remove_all(dir);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "stream_fanout: %s\n", e.what());
    return 1;
}
