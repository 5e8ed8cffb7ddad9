// flight_bench [CALLS] [ROUNDS]: what a flight-recorder session costs a traced workload
// (docs/flight-recorder.md, "Cost"). Each round runs getppid_loop CALLS in a fresh pod (unshare)
// three ways, interleaved so that machine load hits them alike: untraced, under trace_syscalls
// -s getppid in "stream" mode (read, decoded, exported), and the same hook in "flight-recorder"
// mode (written into the ring, never read). Prints the workload's wall time per mode (median over
// rounds), its slowdown against untraced, and the load average. Not a test: nothing is asserted.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "bench/bench_node.h"
#include "common/file_io.h"

namespace {

using Clock = std::chrono::steady_clock;

using ct::bench::call;

// One run of the loop in a pod; "" mode = untraced. Seconds of the loop's wall time, or < 0.
double run_once(unsigned short port, const std::filesystem::path& dir, const std::string& mode, long calls, int seq) {
    auto pod_name = fmt::format("ct-flight-{}-{}", ::getpid(), seq);
    auto start = (dir / fmt::format("start{}", seq)).string();
    ct::SpawnOptions pod_opts;
    pod_opts.argv = {"unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                     fmt::format("hostname {}; exec {}/bench/getppid_loop {} {} >/dev/null", pod_name, CT_BINARY_DIR,
                                 calls, start)};
    pod_opts.capture_stdout = pod_opts.capture_stderr = false;
    auto pod = ct::Subprocess::spawn(pod_opts);
    if (!pod) return -1;
    std::string id;
    if (!mode.empty()) {
        for (int i = 0; i < 100 && id.empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            auto r = call(port, "POST", "/v1/trace-session",
                          boost::json::serialize(boost::json::object{{"pod", pod_name},
                                                                     {"container", "*"},
                                                                     {"trace-hook", "trace_syscalls"},
                                                                     {"trace-arguments", "-s getppid"},
                                                                     {"trace-mode", mode}}));
            if (r && r->status == 200) id = boost::json::parse(r->body).as_object().begin()->key();
        }
        if (id.empty() || !call(port, "PUT", "/v1/trace-session/" + id, R"({"Run": true})")) {
            pod->stop(std::chrono::milliseconds(100), SIGKILL);
            return -1;
        }
    }
    auto t0 = Clock::now();
    { std::ofstream(start) << "go"; }
    pod->wait();
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!id.empty()) (void)call(port, "DELETE", "/v1/trace-session/" + id);
    std::filesystem::remove(start);
    return seconds;
}

}  // namespace

int main(int argc, char** argv) {
    long calls = argc > 1 ? std::stol(argv[1]) : 1'000'000;
    int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
    auto dir = std::filesystem::temp_directory_path() / fmt::format("ct-flight-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    unsigned short port = static_cast<unsigned short>(20000 + ::getpid() % 20000);
    auto node = ct::bench::start_node(port, dir, "/dev/null", {"--record-limit", "0"});
    if (!node) return std::fprintf(stderr, "%s\n", node.error().message.c_str()), 1;
    std::string load;
    (void)ct::read_file("/proc/loadavg", load, 256);
    fmt::print("getppid_loop {} calls, {} rounds; load average before: {}", calls, rounds, load);
    const std::vector<std::pair<std::string, std::string>> modes{
        {"untraced", ""}, {"stream", "stream"}, {"flight-recorder", "flight-recorder"}};
    std::map<std::string, std::vector<double>> times;
    int seq = 0;
    for (int round = 0; round < rounds; ++round)
        for (const auto& [name, mode] : modes)
            if (double s = run_once(port, dir, mode, calls, seq++); s >= 0) times[name].push_back(s);
    auto median = [](std::vector<double> v) {
        if (v.empty()) return -1.0;
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    double base = median(times["untraced"]);
    for (const auto& [name, mode] : modes) {
        double m = median(times[name]);
        fmt::print("{:>16}: {:.3f} s median of {} ({:.0f} ns per call), {:.2f}x untraced\n", name, m,
                   times[name].size(), m / static_cast<double>(calls) * 1e9, base > 0 ? m / base : 0);
    }
    (void)ct::read_file("/proc/loadavg", load, 256);
    fmt::print("load average after: {}", load);
    node->stop(std::chrono::milliseconds(10000));
    std::filesystem::remove_all(dir);
    return 0;
}
