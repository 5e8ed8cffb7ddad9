// pipeline_bench [CALLS] [RUNS]: how many events per second the full tracer-node pipeline
// (raw ftrace capture -> decode -> JSON lines) takes with zero loss, and tracer-node's CPU time
// per million events. Spawns the built tracer-node, a pod (unshare) running getppid_loop CALLS
// under trace_syscalls -s getppid, and prints figures. Not a test: nothing is asserted.
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "bench/bench_node.h"

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto close = text.rfind(')');
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

using ct::bench::call;

}  // namespace

int main(int argc, char** argv) {
    long calls = argc > 1 ? std::stol(argv[1]) : 2'000'000;
    int runs = argc > 2 ? std::stoi(argv[2]) : 1;
    auto dir = std::filesystem::temp_directory_path() / fmt::format("ct-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    unsigned short port = static_cast<unsigned short>(20000 + ::getpid() % 20000);
    auto node = ct::bench::start_node(port, dir, (dir / "events.jsonl").string());
    if (!node) return std::fprintf(stderr, "%s\n", node.error().message.c_str()), 1;
    fmt::print("calls per run: {} ({} events)\n", calls, 2 * calls);
    for (int run = 0; run < runs; ++run) {
        auto pod_name = fmt::format("ct-bench-{}-{}", ::getpid(), run);
        auto start = (dir / fmt::format("start{}", run)).string();
        ct::SpawnOptions pod_opts;
        pod_opts.argv = {"unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                         fmt::format("hostname {}; while [ ! -e {} ]; do sleep 0.01; done; exec {}/bench/getppid_loop {} >/dev/null",
                                     pod_name, start, CT_BINARY_DIR, calls)};
        pod_opts.capture_stdout = pod_opts.capture_stderr = false;
        auto pod = ct::Subprocess::spawn(pod_opts);
        if (!pod) return 1;
        std::string id;
        for (int i = 0; i < 100 && id.empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            auto r = call(port, "POST", "/v1/trace-session",
                          boost::json::serialize(boost::json::object{{"pod", pod_name},
                                                                     {"container", "*"},
                                                                     {"trace-hook", "trace_syscalls"},
                                                                     {"trace-arguments", "-s getppid"}}));
            if (r && r->status == 200) id = boost::json::parse(r->body).as_object().begin()->key();
        }
        if (id.empty()) {
            std::fprintf(stderr, "session not created\n");
            pod->stop(std::chrono::milliseconds(100), SIGKILL);
            node->stop(std::chrono::milliseconds(10000));
            return 1;
        }
        if (auto r = call(port, "PUT", "/v1/trace-session/" + id, R"({"Run": true})"); !r || r->status != 200)
            return std::fprintf(stderr, "starting session %s failed\n", id.c_str()), 1;
        double cpu0 = cpu_seconds(node->pid());
        auto t0 = Clock::now();
        { std::ofstream(start) << "go"; }
        pod->wait();
        auto t_workload = Clock::now();
        if (auto r = call(port, "PUT", "/v1/trace-session/" + id, R"({"Run": false})"); !r || r->status != 200)
            return std::fprintf(stderr, "stopping session %s failed\n", id.c_str()), 1;
        auto t_done = Clock::now();
        double cpu = cpu_seconds(node->pid()) - cpu0;
        auto view = boost::json::parse(call(port, "GET", "/v1/trace-session/" + id)->body);
        auto stats = view.as_object().at(id).as_object().at("Stats").as_object();
        auto delivered = stats.at("Delivered").to_number<double>();
        auto lost = stats.at("Lost").to_number<double>();
        double workload_s = std::chrono::duration<double>(t_workload - t0).count();
        double total_s = std::chrono::duration<double>(t_done - t0).count();
        fmt::print("run {}: delivered {:.0f} lost {:.0f} | workload {:.2f} s ({:.0f} events/s produced) | "
                   "pipeline done after {:.2f} s ({:.0f} events/s sustained) | tracer-node CPU {:.2f} s = {:.2f} s "
                   "per million events\n",
                   run, delivered, lost, workload_s, 2 * calls / workload_s, total_s, delivered / total_s, cpu,
                   cpu / (delivered / 1e6));
        (void)call(port, "DELETE", "/v1/trace-session/" + id);  // the next run makes its own session
        // Truncated, not removed: tracer-node keeps it open (appending), and an unlinked file
        // would keep growing, until the kernel's dirty-page writeback throttles later runs.
        std::filesystem::resize_file(dir / "events.jsonl", 0);
    }
    node->stop(std::chrono::milliseconds(10000));
    std::filesystem::remove_all(dir);
    return 0;
}
