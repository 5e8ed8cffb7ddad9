// discovery_bench [--quick] [PODS] [REPS]: what one procfs discovery listing costs with PODS
// one-process pods (default 1,000; --quick: 20), the full scan every listing made before
// discovery became incremental beside the incremental one, in the same run and alternating so
// both see the same machine load. Pods are `unshare --uts sh -c "hostname <name>; exec sleep"`
// (bench/run.sh's API part starts the same), killed by PID at the end. Printed per kind: median
// and p99 of REPS listings (default 30), in wall time and in CPU time (which a loaded machine
// distorts less), and the load average. Needs root (unshare, setns).
//   full         a fresh ProcfsSource per listing: every process read in full (the old cost)
//   incremental  one ProcfsSource kept: only new and changed processes read in full, settled
//                ones not even checked (measured once the pods' processes have settled)
//   scan full / scan incremental   the process table alone (no hostnames, no pod map)
// GET /v1/pods adds the JSON rendering and HTTP on top (bench/pods_latency.sh measures that).
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/subprocess.h"
#include "tracer-node/discovery/procfs_source.h"
#include "tracer-node/discovery/process_table.h"

using namespace ct::node;
using Clock = std::chrono::steady_clock;

namespace {

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

struct Figures {
    double median = 0, p99 = 0;
};

Figures figures(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    if (ms.empty()) return {};
    const size_t p99 = std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99));
    return {ms[(ms.size() - 1) / 2], ms[p99]};
}

double cpu_ms() {  // this process's CPU time (every thread: the hostname resolver's too)
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Sample {
    std::vector<double> wall, cpu;
};

void time_ms(Sample& into, const std::function<bool()>& f) {
    const double c0 = cpu_ms();
    auto t0 = Clock::now();
    if (!f()) {
        std::fprintf(stderr, "discovery_bench: a listing failed\n");
        std::exit(1);
    }
    into.wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    into.cpu.push_back(cpu_ms() - c0);
}

}  // namespace

int main(int argc, char** argv) {
    int pods = 1000, reps = 30;
    int arg = 1;
    if (arg < argc && std::string(argv[arg]) == "--quick") {
        pods = 20;
        reps = 5;
        ++arg;
    }
    if (arg < argc) pods = std::stoi(argv[arg++]);
    if (arg < argc) reps = std::stoi(argv[arg++]);

    const std::string prefix = fmt::format("ctdisc{}-", ::getpid());
    std::vector<ct::Subprocess> children;
    children.reserve(pods);
    for (int i = 0; i < pods; ++i) {
        ct::SpawnOptions o;
        o.argv = {"unshare", "--uts", "sh", "-c", fmt::format("hostname {}{}; exec sleep 3600", prefix, i)};
        o.capture_stdout = o.capture_stderr = false;
        auto p = ct::Subprocess::spawn(o);
        if (!p) {
            std::fprintf(stderr, "discovery_bench: %s\n", p.error().message.c_str());
            return 1;
        }
        children.push_back(std::move(*p));
    }
    auto ours = [&](const PodMap& map) {
        return std::count_if(map.begin(), map.end(), [&](const auto& kv) { return kv.first.starts_with(prefix); });
    };
    ProcfsSource kept{ProcfsSourceOptions{}};
    long seen = 0;
    for (auto deadline = Clock::now() + std::chrono::seconds(120); Clock::now() < deadline;) {
        auto listed = kept.list_pods();
        if (listed && (seen = ours(*listed)) == pods) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    int status = 0;
    if (seen != pods) {
        std::fprintf(stderr, "discovery_bench: only %ld of %d pods visible\n", seen, pods);
        status = 1;
    } else {
        ProcessScanner scanner("/proc");
        (void)scanner.scan();
        // Steady state: the pods' processes have settled (checked only about every 30 s since).
        std::this_thread::sleep_for(ProcessScannerOptions{}.settle);
        (void)scanner.scan();
        (void)kept.list_pods();
        Sample full, incremental, scan_full, scan_incremental;
        size_t processes = 0;
        const std::string load_before = loadavg();
        for (int i = 0; i < reps; ++i) {
            // Alternate the order so neither kind always runs second (warm caches, load spikes).
            auto a = [&] { time_ms(full, [] { return ProcfsSource(ProcfsSourceOptions{}).list_pods().has_value(); }); };
            auto b = [&] { time_ms(incremental, [&] { return kept.list_pods().has_value(); }); };
            auto c = [&] {
                time_ms(scan_full, [&] {
                    auto t = ProcessTable::scan("/proc");
                    if (t) processes = t->processes().size();
                    return t.has_value();
                });
            };
            auto d = [&] { time_ms(scan_incremental, [&] { return scanner.scan().has_value(); }); };
            if (i % 2) { a(); b(); c(); d(); } else { b(); a(); d(); c(); }
        }
        const std::string load_after = loadavg();
        std::printf("discovery_bench: %d pods (ours), %zu processes on the node, %d listings each; load %s -> %s, %u cores\n",
                    pods, processes, reps, load_before.c_str(), load_after.c_str(), std::thread::hardware_concurrency());
        std::printf("  %-18s %-26s %s\n", "", "wall time", "CPU time (all threads)");
        for (auto& [name, sample] : std::vector<std::pair<const char*, Sample*>>{
                 {"full", &full}, {"incremental", &incremental}, {"scan full", &scan_full},
                 {"scan incremental", &scan_incremental}}) {
            auto w = figures(sample->wall);
            auto c = figures(sample->cpu);
            std::printf("  %-18s median %7.2f ms  p99 %7.2f ms   median %7.2f ms  p99 %7.2f ms\n", name, w.median, w.p99,
                        c.median, c.p99);
        }
    }
    for (auto& c : children) c.send_signal(SIGKILL);
    for (auto& c : children) c.wait();
    return status;
}
