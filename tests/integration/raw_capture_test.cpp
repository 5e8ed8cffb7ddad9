// RawCapture on real ftrace. Needs root.
// - The node-wide raw capture queue (CaptureOptions::queue_budget): two captures of two instances
//   share one small budget; while nobody decodes, their readers keep draining the kernel buffers
//   into the queue until the budget is full, then drop pages and count their events. Every event
//   is then either delivered or counted, and the budget is whole again.
// - Task names: a forked child is named by the fork event, an exec'd one by the exec event, with
//   no /proc to ask (procfs_root is an empty directory).
// - CPUs merged: two children on two CPUs at once; every event comes out once, each CPU's in its
//   order (how far the merged stream strays from time order is printed: see docs/api.md).
// - A stop's drain limit (CaptureRun::wait_finished): a backlog that exports slower than the limit
//   is cut there, and every event is still either delivered or counted.
// - A run's companion instance (trace_events' target-scoped events) read with its main one.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <map>
#include <set>

#include <fmt/format.h>

#include "tracer-node/capture/capture_run.h"
#include "tracer-node/capture/raw_capture.h"

using namespace std::chrono_literals;
using ct::node::ByteBudget;
using ct::node::RawCapture;

namespace {

constexpr const char* kTracing = "/sys/kernel/tracing";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    REQUIRE(out.good());
}

// A tracefs instance of this test, tracing getppid enter/exit of this process's main thread.
// Removed on destruction (tracing off first, as rmdir needs no open files and no users).
// With `follow_children`, also the children this process forks (event-fork) and the fork/exec
// events that name them, as the trace hooks enable them.
class Instance {
public:
    explicit Instance(int n, bool follow_children = false)
        : dir_(fmt::format("{}/instances/ctbudget_{}_{}", kTracing, ::getpid(), n)) {
        REQUIRE(::mkdir(dir_.c_str(), 0755) == 0);
        write_file(dir_ + "/buffer_size_kb", "4096");  // the kernel must not overwrite: we count our drops
        write_file(dir_ + "/set_event_pid", std::to_string(::getpid()));
        std::string events = "syscalls:sys_enter_getppid\nsyscalls:sys_exit_getppid\n";
        if (follow_children) {
            write_file(dir_ + "/options/event-fork", "1");
            events += "sched:sched_process_fork\nsched:sched_process_exec\n";
        }
        write_file(dir_ + "/set_event", events);
        write_file(dir_ + "/tracing_on", "1");
    }
    // A companion of `main` (`<main>_t`, as the trace_events hook makes one): the signals sent to
    // this process, in a buffer small enough to overflow.
    struct CompanionOf {
        const Instance& main;
    };
    explicit Instance(CompanionOf of) : dir_(of.main.dir() + "_t") {
        REQUIRE(::mkdir(dir_.c_str(), 0755) == 0);
        write_file(dir_ + "/buffer_size_kb", "4");
        write_file(dir_ + "/events/signal/signal_generate/filter", fmt::format("pid == {}", ::getpid()));
        write_file(dir_ + "/events/signal/signal_generate/enable", "1");
        write_file(dir_ + "/tracing_on", "1");
    }
    ~Instance() {
        write_file(dir_ + "/tracing_on", "0");
        write_file(dir_ + "/set_event", "");
        for (int i = 0; i < 100 && ::rmdir(dir_.c_str()) != 0; ++i) std::this_thread::sleep_for(20ms);
    }
    const std::string& dir() const { return dir_; }
    void stop() { write_file(dir_ + "/tracing_on", "0"); }

private:
    std::string dir_;
};

struct Outcome {
    std::uint64_t delivered = 0;
    ct::node::CaptureLoss loss;
};

// Every event the capture hands out until it ends.
std::vector<ct::node::TraceEvent> drain_events(RawCapture& capture) {
    std::vector<ct::node::TraceEvent> events;
    for (int i = 0; i < 2000 && capture.poll(events, 50ms); ++i) {
    }
    return events;
}

Outcome drain(RawCapture& capture) {
    Outcome o;
    o.delivered = drain_events(capture).size();
    o.loss = capture.loss();
    return o;
}

}  // namespace

TEST_CASE("captures share one raw queue budget: past it pages are dropped and counted, and it is returned",
          "[integration][root][export]") {
    constexpr int kCalls = 50'000;  // 100k events, ~1.6 MB of raw pages per instance
    constexpr std::size_t kBudget = 256u << 10;
    auto budget = std::make_shared<ByteBudget>(kBudget);
    Instance a(0), b(1);
    auto capture_a = RawCapture::open(a.dir(), {.queue_budget = budget});
    auto capture_b = RawCapture::open(b.dir(), {.queue_budget = budget});
    REQUIRE(capture_a);
    REQUIRE(capture_b);

    for (int i = 0; i < kCalls; ++i) ::syscall(SYS_getppid);
    // Nobody decodes yet: the readers fill the shared budget, then drop what does not fit.
    std::this_thread::sleep_for(300ms);
    CHECK(budget->used() <= kBudget);
    CHECK(budget->used() > kBudget / 2);
    a.stop();
    b.stop();

    auto got_a = drain(**capture_a);
    auto got_b = drain(**capture_b);
    INFO("a: delivered " << got_a.delivered << ", queue_dropped " << got_a.loss.queue_dropped << ", lost "
                         << got_a.loss.total());
    INFO("b: delivered " << got_b.delivered << ", queue_dropped " << got_b.loss.queue_dropped << ", lost "
                         << got_b.loss.total());
    // Each instance saw every call once as enter and once as exit: delivered or counted.
    CHECK(got_a.delivered + got_a.loss.total() == 2u * kCalls);
    CHECK(got_b.delivered + got_b.loss.total() == 2u * kCalls);
    // Together they held no more than the budget, so most of the 2 x 1.6 MB was dropped...
    CHECK(got_a.loss.queue_dropped + got_b.loss.queue_dropped > 2u * kCalls);
    CHECK(got_a.delivered + got_b.delivered > 0);
    // ...by tracer-node's queue, not by the kernel.
    CHECK(got_a.loss.overrun + got_b.loss.overrun == 0);
    // Everything taken was given back.
    CHECK(budget->used() == 0);
}

TEST_CASE("raw capture names forked and exec'd tasks from their fork and exec events, without /proc",
          "[integration][root][export]") {
    constexpr int kExecCalls = 10;
    // Nothing under this "procfs": a task not named by an event would be "<...>".
    auto empty_proc = std::filesystem::temp_directory_path() / fmt::format("ct-noproc-{}", ::getpid());
    std::filesystem::create_directories(empty_proc);
    const auto workload = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "bench/getppid_loop";
    REQUIRE(std::filesystem::exists(workload));
    std::string parent_comm;
    std::getline(std::ifstream("/proc/self/comm"), parent_comm);

    Instance instance(2, /*follow_children=*/true);
    auto capture = RawCapture::open(instance.dir(), {.procfs_root = empty_proc.string()});
    REQUIRE(capture);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::syscall(SYS_getppid);  // still the parent's name
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, STDOUT_FILENO);
        auto n = std::to_string(kExecCalls);
        ::execl(workload.c_str(), workload.c_str(), n.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    instance.stop();
    auto events = drain_events(**capture);
    std::filesystem::remove_all(empty_proc);

    std::map<std::string, int> child_getppid_by_comm;
    for (const auto& e : events)
        if (e.pid == child && e.name() == "sys_enter_getppid") ++child_getppid_by_comm[e.comm];
    INFO("events: " << events.size());
    CHECK(child_getppid_by_comm[parent_comm] == 1);
    CHECK(child_getppid_by_comm["getppid_loop"] == kExecCalls);
    CHECK(child_getppid_by_comm.size() == 2);  // no "<...>"
}

TEST_CASE("raw capture merges two busy CPUs' buffers: every event once, each CPU's in order",
          "[integration][root][export]") {
    // Per child: pages of both CPUs overlap in time all along, and 100k events (~3 MB) fit the
    // instance's 4 MiB per CPU even if the reader is starved by the two children throughout.
    constexpr int kCalls = 50'000;
    const int cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
    if (cpus < 2) {
        WARN("one CPU: nothing to merge");
        return;
    }
    Instance instance(4, /*follow_children=*/true);
    auto capture = RawCapture::open(instance.dir(), {});
    REQUIRE(capture);
    std::vector<pid_t> children;
    for (int cpu = 0; cpu < 2; ++cpu) {
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            if (::sched_setaffinity(0, sizeof set, &set) != 0) ::_exit(1);
            for (int i = 0; i < kCalls; ++i) ::syscall(SYS_getppid);
            ::_exit(0);
        }
        children.push_back(child);
    }
    for (pid_t child : children) {
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    instance.stop();
    auto events = drain_events(**capture);
    auto loss = (*capture)->loss();
    REQUIRE(loss.total() == 0);

    std::map<pid_t, int> enters, exits;
    std::set<int> cpus_seen;
    std::size_t out_of_order = 0;
    std::uint64_t newest = 0, max_behind = 0;
    std::map<int, std::uint64_t> last_on_cpu;
    std::size_t cpu_backwards = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].timestamp_ns < newest) {
            ++out_of_order;
            max_behind = std::max(max_behind, newest - events[i].timestamp_ns);
        }
        newest = std::max(newest, events[i].timestamp_ns);
        auto& last = last_on_cpu[events[i].cpu];
        if (events[i].timestamp_ns < last) ++cpu_backwards;
        last = events[i].timestamp_ns;
        if (events[i].name() == "sys_enter_getppid") ++enters[events[i].pid];
        if (events[i].name() == "sys_exit_getppid") ++exits[events[i].pid];
        cpus_seen.insert(events[i].cpu);
    }
    WARN("merged stream: " << out_of_order << " of " << events.size()
                           << " events behind a newer one of the other CPU, by up to " << max_behind / 1000 << " us");
    CHECK(cpus_seen.size() >= 2);
    CHECK(cpu_backwards == 0);
    for (pid_t child : children) {
        CHECK(enters[child] == kCalls);
        CHECK(exits[child] == kCalls);
    }
}

namespace {

// Takes its time over every batch, as the exporters of a node too busy to decode would.
class SlowExporter : public ct::node::Exporter {
public:
    std::string name() const override { return "slow"; }
    void export_events(const ct::node::EventContext&, std::span<const ct::node::EnrichedEvent> events) override {
        std::this_thread::sleep_for(50ms);
        exported += events.size();
    }
    std::atomic<std::uint64_t> exported{0};
};

}  // namespace

TEST_CASE("a stop's drain ends at its limit while the backlog still flows, and the rest is dropped and counted",
          "[integration][root][export]") {
    // 200k events, at most 16 pages (~2k events) a batch at 50 ms each: about 5 s to export, far
    // past the limit below, while events keep flowing (no stall).
    constexpr int kCalls = 100'000;
    Instance instance(3);
    auto source = RawCapture::open(instance.dir(), {});
    REQUIRE(source);
    auto slow = std::make_shared<SlowExporter>();
    auto exporters = std::make_shared<ct::node::ExporterSet>();
    exporters->add(slow);
    // Every task is this test's container, in the run's scope.
    auto owners = [](pid_t) { return std::optional<ct::node::EventOwner>({.pod = "pod", .container = "c"}); };
    ct::node::CaptureRun run(std::move(*source), {"node", "1", "test", ""}, owners, exporters,
                             {.scope = {{"pod", "c"}}});
    for (int i = 0; i < kCalls; ++i) ::syscall(SYS_getppid);
    instance.stop();
    run.hook_exited();

    CHECK_FALSE(run.wait_finished(/*stall=*/10s, /*limit=*/500ms));
    run.abort();
    auto stats = run.stats();
    INFO("delivered " << stats.delivered << ", queue_dropped " << stats.loss.queue_dropped << ", lost "
                      << stats.loss.total());
    CHECK(stats.delivered == slow->exported);
    CHECK(stats.delivered > 0);
    CHECK(stats.loss.queue_dropped > 0);
    CHECK(stats.delivered + stats.loss.total() == 2u * kCalls);
}

TEST_CASE("raw capture reads a run's companion instance with its main one: one stream in time order, "
          "its losses counted, its pages kept from the page tap",
          "[integration][root][export]") {
    Instance main(6);
    Instance companion(Instance::CompanionOf{main});
    // Ignored, still generated: enough to overwrite the companion's few pages before the capture opens.
    ::signal(SIGUSR2, SIG_IGN);
    for (int i = 0; i < 20'000; ++i) ::kill(::getpid(), SIGUSR2);
    const auto overwritten = ct::node::read_instance_loss(companion.dir()).overrun;
    REQUIRE(overwritten > 0);

    std::vector<std::string> tapped;
    auto capture = RawCapture::open(main.dir(), {.page_tap = [&](int, std::string_view page) { tapped.emplace_back(page); }});
    REQUIRE(capture);
    ::syscall(SYS_getppid);
    ::kill(::getpid(), SIGUSR2);
    ::syscall(SYS_getppid);
    main.stop();
    auto events = drain_events(**capture);
    ::signal(SIGUSR2, SIG_DFL);
    CHECK((*capture)->loss().overrun >= overwritten);

    std::vector<std::string> names;
    for (const auto& e : events) names.emplace_back(e.name());
    CHECK(std::ranges::is_sorted(events, {}, &ct::node::TraceEvent::timestamp_ns));
    // The companion's flood (what survived of it), then the three calls in the order made.
    REQUIRE(names.size() >= 5);
    CHECK(std::vector(names.end() - 5, names.end()) ==
          std::vector<std::string>{"sys_enter_getppid", "sys_exit_getppid", "signal_generate", "sys_enter_getppid",
                                   "sys_exit_getppid"});
    // The signal's owner is its target: this process (the sender too, here).
    CHECK(events[events.size() - 3].subject() == ::getpid());

    // The tap got the main instance's pages only: they decode with its formats alone.
    auto formats = ct::node::ftrace::read_enabled_formats(main.dir());
    REQUIRE(formats);
    std::ifstream header_file(fmt::format("{}/events/header_page", kTracing));
    const std::string header((std::istreambuf_iterator<char>(header_file)), std::istreambuf_iterator<char>());
    auto decoder = ct::node::RawDecoder::from_formats(header, *formats);
    REQUIRE(decoder);
    std::vector<ct::node::TraceEvent> from_tap;
    std::size_t unknown = 0;
    for (const auto& page : tapped) unknown += (*decoder)->decode(0, page.data(), page.size(), from_tap).unknown;
    CHECK(unknown == 0);
    CHECK(from_tap.size() == 4);
}
