// pipeline_bench [--backlog] [CALLS] [RUNS]: how many events per second tracer-node's export
// pipeline (raw ftrace capture -> decode -> CPU merge -> owner/scope -> JSON lines into a file)
// takes with zero loss, and its CPU time per million events. Not a test: nothing is asserted.
//   default: end to end. Spawns the built tracer-node and a pod (unshare) running getppid_loop
//     CALLS under trace_syscalls -s getppid. "sustained" = events delivered / time until the
//     session stopped with everything written; the workload makes ~3M events/s on 2 cores, so
//     this can't show more than that.
//   --backlog: the pipeline alone on a backlog. A getppid loop of CALLS runs traced into an ftrace
//     instance of this program's own with buffers big enough to keep everything (no reader);
//     then the same code tracer-node runs (RawCapture + CaptureRun + JsonLinesExporter, in this
//     process) reads the instance's whole backlog into a JSON-lines file as fast as it can.
//     events/s = delivered / time to the end of the run; CPU = this process's user+system time.
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
#include "tests/integration/process_probe.h"
#include "tracer-node/capture/capture_run.h"
#include "tracer-node/capture/raw_capture.h"
#include "tracer-node/export/jsonl_exporter.h"

namespace {

using Clock = std::chrono::steady_clock;

using ct::test::cpu_seconds;

double self_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

using ct::bench::call;

int end_to_end(long calls, int runs, const std::filesystem::path& dir) {
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
    return 0;
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return out.good();
}

// An ftrace instance of this program's own (not ctrace_: no agent's), removed on destruction.
class BenchInstance {
public:
    explicit BenchInstance(std::string dir) : dir_(std::move(dir)) { ok_ = ::mkdir(dir_.c_str(), 0755) == 0; }
    ~BenchInstance() {
        if (!ok_) return;
        write_file(dir_ + "/tracing_on", "0");
        for (int i = 0; i < 250 && ::rmdir(dir_.c_str()) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    bool ok() const { return ok_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    bool ok_ = false;
};

int backlog(long calls, int runs, const std::filesystem::path& dir) {
    const auto output = (dir / "events.jsonl").string();
    // Each event takes ~22 bytes of ring buffer; the workload's CPU may change, so every CPU gets room.
    const long buffer_kb = calls * 2 * 32 / 1024 + 4096;
    fmt::print("calls per run: {} ({} events), traced with no reader into {} MiB per CPU, then read as a backlog\n",
               calls, 2 * calls, buffer_kb / 1024);
    for (int run = 0; run < runs; ++run) {
        BenchInstance instance(fmt::format("/sys/kernel/tracing/instances/ctbench_pipeline_{}_{}", ::getpid(), run));
        if (!instance.ok()) return std::fprintf(stderr, "cannot create an ftrace instance\n"), 1;
        int go[2];
        if (::pipe(go) != 0) return 1;
        pid_t child = ::fork();
        if (child == 0) {
            char c;
            ::close(go[1]);
            if (::read(go[0], &c, 1) != 1) ::_exit(1);
            for (long i = 0; i < calls; ++i) ::syscall(SYS_getppid);
            ::_exit(0);
        }
        ::close(go[0]);
        // As the ftrace hook sets its instance up (trace_syscalls -s getppid).
        bool ok = write_file(instance.dir() + "/buffer_size_kb", std::to_string(buffer_kb)) &&
                  write_file(instance.dir() + "/set_event_pid", std::to_string(child)) &&
                  write_file(instance.dir() + "/options/event-fork", "1") &&
                  write_file(instance.dir() + "/set_event",
                             "syscalls:sys_enter_getppid\nsyscalls:sys_exit_getppid\nsched:sched_process_fork\n"
                             "sched:sched_process_exec\nsched:sched_process_exit\n") &&
                  write_file(instance.dir() + "/tracing_on", "1");
        if (::write(go[1], "g", 1) != 1) ok = false;
        ::close(go[1]);
        int status = 0;
        ::waitpid(child, &status, 0);
        write_file(instance.dir() + "/tracing_on", "0");
        if (!ok) return std::fprintf(stderr, "setting up the instance failed\n"), 1;

        // The pipeline tracer-node runs, on the backlog, with room to queue all of it.
        auto jsonl = ct::node::JsonLinesExporter::open(output);
        if (!jsonl) return std::fprintf(stderr, "%s\n", jsonl.error().message.c_str()), 1;
        auto exporters = std::make_shared<ct::node::ExporterSet>();
        exporters->add(*jsonl);
        const double cpu0 = self_cpu_seconds();
        const auto t0 = Clock::now();
        auto source = ct::node::RawCapture::open(
            instance.dir(), {.queue_budget = std::make_shared<ct::node::ByteBudget>(std::size_t{4} << 30)});
        if (!source) return std::fprintf(stderr, "%s\n", source.error().message.c_str()), 1;
        const ct::node::EventOwner owner{.pod = "bench", .container = "loop"};
        ct::node::CaptureRun capture(std::move(*source), {"bench-node", "1", "trace_syscalls", "bench"},
                                     [&](pid_t) { return std::optional(owner); }, exporters,
                                     {.scope = {{owner.pod, owner.container}}});
        capture.hook_exited();
        bool finished = capture.wait_finished(std::chrono::seconds(60), std::chrono::minutes(10));
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        const double cpu = self_cpu_seconds() - cpu0;
        auto stats = capture.stats();
        auto lines = exporters->total_counts()["jsonl"].exported;
        fmt::print("run {}: delivered {} lost {} (file: {} lines){} | {:.2f} s = {:.0f} events/s | CPU {:.2f} s = {:.3f} s "
                   "per million events\n",
                   run, stats.delivered, stats.loss.total(), lines, finished ? "" : " NOT FINISHED", seconds,
                   static_cast<double>(stats.delivered) / seconds, cpu, cpu / (static_cast<double>(stats.delivered) / 1e6));
        std::filesystem::remove(output);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool backlog_mode = !args.empty() && args[0] == "--backlog";
    if (backlog_mode) args.erase(args.begin());
    long calls = !args.empty() ? std::stol(args[0]) : 2'000'000;
    int runs = args.size() > 1 ? std::stoi(args[1]) : 1;
    auto dir = std::filesystem::temp_directory_path() / fmt::format("ct-bench-{}", ::getpid());
    std::filesystem::create_directories(dir);
    int rc = backlog_mode ? backlog(calls, runs, dir) : end_to_end(calls, runs, dir);
    std::filesystem::remove_all(dir);
    return rc;
}
