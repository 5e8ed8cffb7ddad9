// syscall_stats_bench [--calls N] [--reps R] [--quick] [--manager PATH]: the overhead of the syscall_stats hook
// (trace-hooks/ebpf/manager) on bench/workloads/getppid_loop, as same-run ratios against the
// untraced loop. Modes run interleaved (untraced, counted, bystander, untraced, ...):
//   counted    the manager counts the loop itself (every syscall);
//   bystander  the manager counts another process while the loop runs untraced (what every
//              process outside a session pays while one runs);
//   floor      empty BPF programs on sys_enter/sys_exit (syscall_floor.bpf.c) while the loop
//              runs: what any program there costs every task, before the hook does anything.
// Per run: the loop's CPU time (utime + stime from its rusage; what a shared, loaded machine
// distorts least) and its wall time from the start file to its exit. A counted run also checks
// that the final snapshot shows exactly N getppid calls. Prints the load average at start and
// end. Not a test: nothing is asserted; exits 1 only when a run could not be made.
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"
#include "common/subprocess.h"
#include "common/syscall_stats.h"
#include "syscall_floor.skel.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kLoop = CT_BINARY_DIR "/bench/getppid_loop";
std::string g_manager = CT_BINARY_DIR "/trace-hooks/ebpf/manager";  // --manager: another build's

enum class Mode { kUntraced, kCounted, kBystander, kFloor };
constexpr Mode kModes[] = {Mode::kUntraced, Mode::kCounted, Mode::kBystander, Mode::kFloor};

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::kUntraced: return "untraced";
        case Mode::kCounted: return "counted (syscall_stats on the loop)";
        case Mode::kBystander: return "bystander (syscall_stats on another process)";
        case Mode::kFloor: return "floor (empty BPF programs on sys_enter/exit)";
    }
    return "";
}

struct Sample {
    double cpu_ms = 0;
    double wall_ms = 0;
};

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return fmt::format("{} {} {}", a, b, c);
}

double cpu_ms_of_children() {
    rusage ru{};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    auto ms = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3; };
    return ms(ru.ru_utime) + ms(ru.ru_stime);
}

ct::SpawnOptions quiet(std::vector<std::string> argv, bool capture_stdout) {
    ct::SpawnOptions o;
    o.argv = std::move(argv);
    o.capture_stdout = capture_stdout;
    o.capture_stderr = false;
    return o;
}

// The manager counting `pid`, once it has printed its snapshot path.
std::optional<std::pair<ct::Subprocess, std::string>> start_manager(pid_t pid) {
    auto m = ct::Subprocess::spawn(quiet({g_manager, "--run", "syscall_stats", "--args", "--pid", std::to_string(pid),
                                          "--interval", "3600000"},
                                         true));
    if (!m) return std::nullopt;
    std::string out;
    auto deadline = Clock::now() + 30s;
    while (out.find('\n') == std::string::npos && Clock::now() < deadline) {
        pollfd p{m->stdout_fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) > 0 && !ct::read_available(m->stdout_fd(), out, 4096)) break;
    }
    auto nl = out.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    return std::pair{std::move(*m), out.substr(0, nl)};
}

// getppid calls of every group in a final snapshot; nullopt when unreadable.
std::optional<uint64_t> counted_getppid(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto snapshot = ct::stats::parse_snapshot(text.str());
    if (!snapshot) return std::nullopt;
    uint64_t n = 0;
    for (const auto& [group, table] : snapshot->groups)
        if (auto it = table.find("getppid"); it != table.end()) n += it->second.count;
    return n;
}

// The floor programs, attached until destruction.
struct Floor {
    syscall_floor* skel = syscall_floor__open_and_load();
    bool attached = skel && syscall_floor__attach(skel) == 0;
    ~Floor() { syscall_floor__destroy(skel); }
};

std::optional<Sample> run_once(Mode mode, long calls, const fs::path& dir, int seq, ct::Subprocess& bystander_target) {
    fs::path start = dir / fmt::format("start{}", seq);
    auto loop = ct::Subprocess::spawn(quiet({kLoop, std::to_string(calls), start.string()}, true));  // one line
    if (!loop) return std::nullopt;
    std::optional<Floor> floor;
    if (mode == Mode::kFloor && !floor.emplace().attached) {
        fmt::print(stderr, "bench: the floor programs did not load\n");
        return std::nullopt;
    }
    std::optional<std::pair<ct::Subprocess, std::string>> manager;
    if (mode == Mode::kCounted || mode == Mode::kBystander) {
        manager = start_manager(mode == Mode::kCounted ? loop->pid() : bystander_target.pid());
        if (!manager) {
            fmt::print(stderr, "bench: the manager did not start\n");
            return std::nullopt;
        }
    }
    double cpu_before = cpu_ms_of_children();
    auto t0 = Clock::now();
    { std::ofstream(start) << "go"; }
    auto status = loop->wait();
    auto wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    double cpu = cpu_ms_of_children() - cpu_before;
    if (!status.ok()) return std::nullopt;
    if (manager) {
        auto end = manager->first.stop(10s);
        if (!end.ok()) fmt::print(stderr, "bench: manager {}\n", end.describe());
        if (mode == Mode::kCounted) {
            auto n = counted_getppid(manager->second);
            if (!n || *n != static_cast<uint64_t>(calls))
                fmt::print(stderr, "bench: counted {} getppid calls, expected {}\n", n ? std::to_string(*n) : "?", calls);
        }
        fs::remove_all(fs::path(manager->second).parent_path());  // the reader removes it (docs/hooks.md)
    }
    return Sample{cpu, wall};
}

double median(std::vector<double> v) {
    std::ranges::sort(v);
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    long calls = 2'000'000;
    int reps = 7;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--quick") calls = 20'000, reps = 1;
        else if (a == "--calls") calls = std::stol(next());
        else if (a == "--reps") reps = std::stoi(next());
        else if (a == "--manager") g_manager = next();
        else return std::fprintf(stderr, "usage: syscall_stats_bench [--calls N] [--reps R] [--quick] [--manager PATH]\n"), 2;
    }
    fs::path dir = fs::temp_directory_path() / fmt::format("ct-stats-bench-{}", ::getpid());
    fs::create_directories(dir);
    // The bystander session's process: idle, outside the measured loop.
    auto sleeper = ct::Subprocess::spawn(quiet({"sleep", "3600"}, false));
    if (!sleeper) return std::fprintf(stderr, "bench: cannot start sleep\n"), 1;

    std::string load_start = loadavg();
    std::map<Mode, std::vector<Sample>> samples;
    int seq = 0;
    for (int rep = 0; rep < reps; ++rep)
        for (Mode mode : kModes) {
            auto s = run_once(mode, calls, dir, seq++, *sleeper);
            if (!s) {
                fs::remove_all(dir);
                return std::fprintf(stderr, "bench: a %s run failed\n", mode_name(mode)), 1;
            }
            samples[mode].push_back(*s);
        }
    std::string load_end = loadavg();
    sleeper->stop(1s);
    fs::remove_all(dir);

    fmt::print("syscall_stats overhead: getppid_loop {} calls, {} interleaved repetition(s), {} CPUs\n", calls, reps,
               ::sysconf(_SC_NPROCESSORS_ONLN));
    fmt::print("load average at start / end: {} / {}\n", load_start, load_end);
    fmt::print("{:<48} {:>12} {:>10} {:>12} {:>10} {:>8}\n", "mode", "CPU median", "CPU ratio", "wall median",
               "wall ratio", "ns/call");
    for (Mode mode : kModes) {
        std::vector<double> cpu, wall, cpu_ratio, wall_ratio;
        for (size_t i = 0; i < samples[mode].size(); ++i) {
            const auto& s = samples[mode][i];
            const auto& base = samples[Mode::kUntraced][i];
            cpu.push_back(s.cpu_ms);
            wall.push_back(s.wall_ms);
            cpu_ratio.push_back(s.cpu_ms / base.cpu_ms);
            wall_ratio.push_back(s.wall_ms / base.wall_ms);
        }
        fmt::print("{:<48} {:>9.1f} ms {:>9.3f}x {:>9.1f} ms {:>9.3f}x {:>8.1f}\n", mode_name(mode), median(cpu),
                   median(cpu_ratio), median(wall), median(wall_ratio), median(cpu) * 1e6 / static_cast<double>(calls));
    }
    fmt::print("ratios are medians of same-repetition ratios; CPU = the loop's utime + stime\n");
    return 0;
}
