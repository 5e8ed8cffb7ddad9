// The shipped ftrace hook manager against real ftrace: protocol output, exact syscall counts for
// the traced pid only, event-fork, errors that leave nothing behind, the time limit, --clear, and
// the reader protocol (tracing_on == 0 -> reader drains and closes -> instance removed).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/fd.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/support/fixtures.h"

using namespace ct;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

const std::string kManager = CT_HOOKS_DIR "/ftrace/manager";
const fs::path kInstances = "/sys/kernel/tracing/instances";
constexpr int kCalls = 2000;

// SpawnOptions built field by field: g++ 12 warns on designated initialisers that skip members.
SpawnOptions command(std::vector<std::string> argv, bool capture_stderr = true) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.capture_stderr = capture_stderr;
    return o;
}

std::vector<std::string> instances_with_prefix(std::string_view prefix) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(kInstances))
        if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path().filename().string());
    return out;
}

// Instances a given manager process made: their names carry its pid.
std::vector<std::string> instances_of(pid_t manager) { return instances_with_prefix(fmt::format("ctrace_{}_", manager)); }

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A trigger file in a private directory, removed with it.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ct-ftrace-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { fs::remove_all(path); }
};

// A python process that waits for `trigger` to exist, then calls getppid() exactly `calls` times
// (in a forked child when `in_child`), prints "done <pid that called>" and sleeps until stopped.
Subprocess spawn_caller(const fs::path& trigger, int calls, bool in_child) {
    constexpr std::string_view kScript = R"(
import os, sys, time
trigger, calls, in_child = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
while not os.path.exists(trigger):
    time.sleep(0.005)
def work():
    for _ in range(calls):
        os.getppid()
if in_child:
    pid = os.fork()
    if pid == 0:
        work()
        os._exit(0)
    os.waitpid(pid, 0)
else:
    pid = os.getpid()
    work()
print("done", pid, flush=True)
time.sleep(600)
)";
    auto p = Subprocess::spawn(command({"/usr/bin/python3", "-c", std::string(kScript), trigger.string(),
                                        std::to_string(calls), in_child ? "1" : "0"},
                                       false));
    REQUIRE(p);
    return std::move(*p);
}

// Reads a line from a child's stdout, waiting up to `timeout`.
std::optional<std::string> read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        if (auto nl = buffer.find('\n'); nl != std::string::npos) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        if (!read_available(fd, buffer, 1 << 20) && buffer.find('\n') == std::string::npos) return std::nullopt;
    }
}

// Pid of "done <pid>" printed by spawn_caller's script.
pid_t await_done(Subprocess& caller) {
    std::string buffer;
    auto line = read_line(caller.stdout_fd(), buffer, 60s);
    REQUIRE(line);
    auto words = split_whitespace(*line);
    REQUIRE(words.size() == 2);
    REQUIRE(words[0] == "done");
    auto pid = parse_u64(words[1]);
    REQUIRE(pid);
    return static_cast<pid_t>(*pid);
}

struct Manager {
    Subprocess process;
    std::string trace_pipe;  // the line it printed
    fs::path dir() const { return fs::path(trace_pipe).parent_path(); }
};

Manager start_hook(const std::string& hook, const std::vector<std::string>& hook_args,
                   const std::string& instance_prefix = "") {
    std::vector<std::string> argv = {kManager, "--run", hook, "--args"};
    argv.insert(argv.end(), hook_args.begin(), hook_args.end());
    auto options = command(argv);
    if (!instance_prefix.empty()) options.extra_env = {"TRACER_INSTANCE_PREFIX=" + instance_prefix};
    auto p = Subprocess::spawn(options);
    REQUIRE(p);
    std::string buffer;
    auto line = read_line(p->stdout_fd(), buffer, 30s);
    if (!line) {
        std::string err;
        read_available(p->stderr_fd(), err, 1 << 16);
        FAIL("manager printed no trace path; stderr: " << err);
    }
    return Manager{std::move(*p), *line};
}

Manager start_manager(const std::vector<std::string>& hook_args, const std::string& instance_prefix = "") {
    return start_hook("trace_syscalls", hook_args, instance_prefix);
}

// Runs `hook` with `args`, which must be refused: exit 2, nothing on stdout, `named` on stderr,
// no instance of that manager left.
void check_refused(const std::string& hook, const std::vector<std::string>& args, const std::string& named) {
    INFO(fmt::format("{} args: {}", hook, fmt::join(args, " ")));
    std::vector<std::string> argv = {kManager, "--run", hook, "--args"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::spawn(command(argv));
    REQUIRE(p);
    pid_t pid = p->pid();
    std::string out, err;
    auto status = p->wait_for(30s);
    REQUIRE(status);
    read_available(p->stdout_fd(), out, 1 << 16);
    read_available(p->stderr_fd(), err, 1 << 16);
    CHECK(status->code == 2);
    CHECK(out.empty());
    CHECK_THAT(err, Catch::Contains(named));
    CHECK(instances_of(pid).empty());
}

struct TraceLine {
    pid_t pid = 0;
    std::string event;  // "sys_getppid()", "sys_getppid -> 0x1a84"
};

// "  python3-6790    [001] .....   611.548018: sys_getppid()" -> {6790, "sys_getppid()"}
std::optional<TraceLine> parse_trace_line(std::string_view line) {
    size_t bracket = line.find(" [");
    if (bracket == std::string_view::npos) return std::nullopt;
    std::string_view task = trim(line.substr(0, bracket));
    size_t dash = task.rfind('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto pid = parse_u64(task.substr(dash + 1));
    size_t colon = line.find(": ", bracket);
    if (!pid || colon == std::string_view::npos) return std::nullopt;
    return TraceLine{static_cast<pid_t>(*pid), std::string(line.substr(colon + 2))};
}

// Reads trace_pipe without blocking, as tracer-node does: keep reading; once the manager has
// written tracing_on = 0 and the pipe is empty, the trace is complete.
class PipeReader {
public:
    explicit PipeReader(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
        REQUIRE(fd_);
    }
    // One poll + read round; returns false when the pipe had nothing.
    bool pump(std::chrono::milliseconds wait) {
        pollfd p{fd_.get(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(wait.count()));
        char buf[65536];
        bool got = false;
        while (true) {
            ssize_t n = ::read(fd_.get(), buf, sizeof buf);
            if (n <= 0) break;
            partial_.append(buf, static_cast<size_t>(n));
            got = true;
        }
        size_t nl;
        while ((nl = partial_.find('\n')) != std::string::npos) {
            lines_.push_back(partial_.substr(0, nl));
            partial_.erase(0, nl + 1);
        }
        return got;
    }
    // Reads until tracing_on reads 0 and the pipe is empty (bounded by `timeout`).
    bool drain_until_off(const fs::path& instance_dir, std::chrono::milliseconds timeout) {
        auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            bool off = trim(read_text(instance_dir / "tracing_on")) == "0";
            bool got = pump(50ms);
            if (off && !got) return true;
        }
        return false;
    }
    void close() { fd_.reset(); }
    const std::vector<std::string>& lines() const { return lines_; }

    size_t count(pid_t pid, std::string_view event_prefix) const {
        size_t n = 0;
        for (const auto& l : lines_)
            if (auto t = parse_trace_line(l); t && t->pid == pid && t->event.starts_with(event_prefix)) ++n;
        return n;
    }
    size_t count_pid(pid_t pid) const {
        size_t n = 0;
        for (const auto& l : lines_)
            if (auto t = parse_trace_line(l); t && t->pid == pid) ++n;
        return n;
    }

private:
    FD fd_;
    std::string partial_;
    std::vector<std::string> lines_;
};

// Stops a manager the way tracer-node does and checks it removed its instance.
void stop_and_check_clean(Manager& m, PipeReader& reader) {
    REQUIRE(m.process.send_signal(SIGINT));
    REQUIRE(reader.drain_until_off(m.dir(), 30s));
    // We still hold the pipe: the instance cannot be gone and the manager must wait for us.
    CHECK(fs::exists(m.dir()));
    reader.close();
    auto status = m.process.wait_for(30s);
    REQUIRE(status);
    CHECK(status->code == 0);
    CHECK_FALSE(fs::exists(m.dir()));
    CHECK(instances_of(m.process.pid()).empty());
}

}  // namespace

TEST_CASE("ftrace manager lists and describes its hook", "[integration][root]") {
    auto all = run_capture(command({kManager, "--get-all"}), 30s);
    REQUIRE(all);
    CHECK(all->status.code == 0);
    CHECK(split_whitespace(all->out) == std::vector<std::string>{"trace_syscalls", "trace_events"});

    auto desc = run_capture(command({kManager, "--describe", "trace_syscalls"}), 30s);
    REQUIRE(desc);
    CHECK(desc->status.code == 0);
    CHECK(desc->out ==
          "Trace system calls, used by given container\n"
          "-s, --syscall [SYSCALL ...] : list of System call names to be traced, optional argument.\n"
          "If no system calls are specified, all available are traced.\n"
          "-t, --time TIME : Duration of the trace in milliseconds, optional argument\n");

    auto unknown = run_capture(command({kManager, "--describe", "trace_nothing"}), 30s);
    REQUIRE(unknown);
    CHECK(unknown->status.code != 0);
    CHECK(unknown->out.empty());
    CHECK(unknown->err.find("\"trace_nothing\"") != std::string::npos);
}

TEST_CASE("ftrace manager rejects bad hook arguments before creating anything", "[integration][root]") {
    struct Case {
        std::vector<std::string> args;
        std::string named;
    };
    for (const auto& c : std::vector<Case>{{{"--pid", "1", "--bogus"}, "\"--bogus\""},
                                           {{"--pid", "1", "-t", "soon"}, "\"soon\""},
                                           {{"-s", "getppid"}, "--pid"},
                                           {{"--pid", "x1"}, "\"x1\""},
                                           // A session's own --pid after tracer-node's (issue 14.1).
                                           {{"--pid", "1", "--pid", "4833", "-s", "openat"}, "a second --pid"},
                                           {{"--pid", "1", "--pid=4833"}, "\"--pid=4833\""},
                                           // Kernel memory stays bounded (issue 14.2).
                                           {{"--pid", "1", "-b", "4000000"}, "\"4000000\""},
                                           {{"--pid", "1", "-t", "-5"}, "negative"}}) {
        check_refused("trace_syscalls", c.args, c.named);
    }
}

TEST_CASE("ftrace manager traces exactly the given pid's syscalls and waits for its reader",
          "[integration][root]") {
    TempDir tmp;
    auto traced = spawn_caller(tmp.path / "go", kCalls, false);
    auto other = spawn_caller(tmp.path / "go", kCalls, false);

    // Thousands of pids, as for a large pod: the traced one plus pids nobody uses right now.
    std::vector<std::string> args = {"--pid", std::to_string(traced.pid())};
    for (pid_t p = 32767; args.size() < 3001 && p > 1000; --p)
        if (p != other.pid() && !fs::exists(fmt::format("/proc/{}", p))) args.push_back(std::to_string(p));
    REQUIRE(args.size() == 3001);
    args.insert(args.end(), {"-s", "getppid"});

    auto m = start_manager(args);
    CHECK(fs::path(m.trace_pipe).is_absolute());
    CHECK(m.dir().parent_path() == kInstances);
    CHECK(m.dir().filename().string().starts_with(fmt::format("ctrace_{}_", m.process.pid())));
    CHECK(split_whitespace(read_text(m.dir() / "set_event_pid")).size() >= 3000);
    CHECK(trim(read_text(m.dir() / "options/event-fork")) == "1");
    PipeReader reader(m.trace_pipe);

    { std::ofstream(tmp.path / "go") << "go"; }
    pid_t traced_caller = await_done(traced);
    pid_t other_caller = await_done(other);
    CHECK(traced_caller == traced.pid());
    reader.pump(100ms);

    stop_and_check_clean(m, reader);
    INFO(fmt::format("{} lines, first: {}", reader.lines().size(), reader.lines().empty() ? "" : reader.lines()[0]));
    CHECK(reader.count(traced.pid(), "sys_getppid()") == kCalls);
    CHECK(reader.count(traced.pid(), "sys_getppid ->") == kCalls);
    CHECK(reader.count_pid(other_caller) == 0);
}

TEST_CASE("ftrace manager follows children of the traced process (event-fork)", "[integration][root]") {
    TempDir tmp;
    auto parent = spawn_caller(tmp.path / "go", kCalls, true);
    auto m = start_manager({"--pid", std::to_string(parent.pid()), "-s", "sys_enter_getppid"});
    PipeReader reader(m.trace_pipe);
    { std::ofstream(tmp.path / "go") << "go"; }
    pid_t child = await_done(parent);
    CHECK(child != parent.pid());
    stop_and_check_clean(m, reader);
    CHECK(reader.count(child, "sys_getppid()") == kCalls);
    CHECK(reader.count(child, "sys_getppid ->") == kCalls);
}

TEST_CASE("ftrace manager refuses an unknown syscall and leaves no instance", "[integration][root]") {
    auto p = Subprocess::spawn(command({kManager, "--run", "trace_syscalls", "--args", "--pid",
                                        std::to_string(::getpid()), "-s", "getppid", "no_such_call"}));
    REQUIRE(p);
    pid_t pid = p->pid();
    auto status = p->wait_for(30s);
    REQUIRE(status);
    std::string out, err;
    read_available(p->stdout_fd(), out, 1 << 16);
    read_available(p->stderr_fd(), err, 1 << 16);
    CHECK(status->code != 0);
    CHECK(out.empty());
    CHECK(err.find("unknown syscall \"no_such_call\"") != std::string::npos);
    CHECK(instances_of(pid).empty());
}

TEST_CASE("ftrace manager ends by itself at the -t time limit", "[integration][root]") {
    TempDir tmp;
    auto sleeper = spawn_caller(tmp.path / "never", 1, false);
    auto m = start_manager({"--pid", std::to_string(sleeper.pid()), "-t", "300"});
    CHECK(fs::exists(m.dir()));
    // No syscall named: every syscall event is enabled.
    CHECK(trim(read_text(m.dir() / "events/syscalls/sys_enter_openat/enable")) == "1");
    auto status = m.process.wait_for(60s);
    REQUIRE(status);
    CHECK(status->code == 0);
    CHECK_FALSE(fs::exists(m.dir()));
    CHECK(instances_of(m.process.pid()).empty());
}

TEST_CASE("ftrace manager --clear removes only the instances of its TRACER_INSTANCE_PREFIX", "[integration][root]") {
    // Never a bare --clear here: it would remove every ctrace_ instance on the machine, other
    // tests' and other agents' included (that is what the prefix is for).
    const auto prefix = fmt::format("ctrace_cleartest{}_", ::getpid());
    fs::path mine = kInstances / (prefix + "1_ab");
    fs::path other_agent = kInstances / fmt::format("ctrace_clearkeep{}_1_ab", ::getpid());
    fs::path foreign = kInstances / fmt::format("cttest_keep_{}", ::getpid());
    for (const auto& dir : {mine, other_agent, foreign}) REQUIRE(::mkdir(dir.c_str(), 0750) == 0);

    auto clear = command({kManager, "--clear"});
    clear.extra_env = {"TRACER_INSTANCE_PREFIX=" + prefix};
    auto r = run_capture(clear, 60s);
    bool mine_gone = !fs::exists(mine);
    bool other_survived = fs::exists(other_agent), foreign_survived = fs::exists(foreign);
    for (const auto& dir : {mine, other_agent, foreign}) ::rmdir(dir.c_str());  // what --clear left

    REQUIRE(r);
    CHECK(r->status.code == 0);
    CHECK(mine_gone);
    CHECK(other_survived);
    CHECK(foreign_survived);
}

TEST_CASE("ftrace manager names its instances with TRACER_INSTANCE_PREFIX and refuses a bad one", "[integration][root]") {
    const auto prefix = fmt::format("ctrace_nametest{}_", ::getpid());
    auto m = start_manager({"--pid", std::to_string(::getpid()), "-s", "getppid"}, prefix);
    CHECK(m.dir().filename().string().starts_with(fmt::format("{}{}_", prefix, m.process.pid())));
    PipeReader reader(m.trace_pipe);
    stop_and_check_clean(m, reader);

    auto bad = command({kManager, "--clear"});
    bad.extra_env = {"TRACER_INSTANCE_PREFIX=../evil"};
    auto r = run_capture(bad, 60s);
    REQUIRE(r);
    CHECK(r->status.code == 2);
    CHECK_THAT(r->err, Catch::Contains("TRACER_INSTANCE_PREFIX"));
}

// ---- trace_events (docs/hooks.md, "trace_events") ----

namespace {

// "filename=/bin/true pid=12 old_pid=12" -> the value of `key` ("" when absent).
std::string field_of(std::string_view event_text, std::string_view key) {
    for (const auto& word : split_whitespace(event_text))
        if (std::string_view w = word; w.starts_with(key) && w.size() > key.size() && w[key.size()] == '=')
            return std::string(w.substr(key.size() + 1));
    return "";
}

// Lines of `reader` whose event is `name` ("sched_process_exec"), as (task pid, event text).
std::vector<TraceLine> events_named(const PipeReader& reader, std::string_view name) {
    std::vector<TraceLine> out;
    for (const auto& l : reader.lines())
        if (auto t = parse_trace_line(l); t && t->event.starts_with(fmt::format("{}: ", name))) out.push_back(*t);
    return out;
}

std::vector<std::string> pid_args(const std::vector<pid_t>& pids) {
    std::vector<std::string> out = {"--pid"};
    for (pid_t p : pids) out.push_back(std::to_string(p));
    return out;
}

// A trace_events run: its main instance and, when target-scoped events were asked for, its
// companion (<main>_t), each read as tracer-node reads them.
struct EventsRun {
    Manager manager;
    PipeReader main;
    std::optional<PipeReader> companion;

    EventsRun(const std::vector<pid_t>& pids, const std::vector<std::string>& args, bool with_companion)
        : manager(start_hook("trace_events", [&] {
              auto all = pid_args(pids);
              all.insert(all.end(), args.begin(), args.end());
              return all;
          }())),
          main(manager.trace_pipe) {
        auto companion_dir = companion_path();
        CHECK(fs::exists(companion_dir) == with_companion);
        if (with_companion) companion.emplace((companion_dir / "trace_pipe").string());
    }
    fs::path companion_path() const { return fs::path(manager.dir().string() + "_t"); }

    void pump() {
        main.pump(20ms);
        if (companion) companion->pump(20ms);
    }
    // SIGINT, read both to the end, then the manager removes both instances and exits 0.
    void stop() {
        REQUIRE(manager.process.send_signal(SIGINT));
        REQUIRE(main.drain_until_off(manager.dir(), 30s));
        if (companion) REQUIRE(companion->drain_until_off(companion_path(), 30s));
        main.close();
        if (companion) companion->close();
        auto status = manager.process.wait_for(30s);
        REQUIRE(status);
        CHECK(status->code == 0);
        CHECK_FALSE(fs::exists(manager.dir()));
        CHECK_FALSE(fs::exists(companion_path()));
        CHECK(instances_of(manager.process.pid()).empty());
    }
};

// A process that ignores SIGUSR1 (so it can be signalled repeatedly) and sleeps.
constexpr std::string_view kUsr1Sleeper = "sh -c 'trap \"\" USR1; exec sleep 100000' >/dev/null 2>&1 &";

// The kUsr1Sleeper the pod started after `before` was taken (its pid on the host), once it has
// exec'd sleep; 0 when none appears within 10 s.
pid_t await_sleeper(const ct::test::Pod& pod, const std::vector<pid_t>& before) {
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline; std::this_thread::sleep_for(10ms)) {
        for (pid_t p : pod.host_pids()) {
            if (std::ranges::binary_search(before, p)) continue;
            auto cmdline = read_text(fmt::format("/proc/{}/cmdline", p));
            std::ranges::replace(cmdline, '\0', ' ');
            if (trim(cmdline) == "sleep 100000") return p;
        }
    }
    return 0;
}

}  // namespace

TEST_CASE("trace_events is listed and describes the kernel's events by system", "[integration][root]") {
    auto desc = run_capture(command({kManager, "--describe", "trace_events"}), 30s);
    REQUIRE(desc);
    CHECK(desc->status.code == 0);
    CHECK_THAT(desc->out, Catch::Contains("-e, --event SYSTEM:EVENT"));
    CHECK_THAT(desc->out, Catch::Contains("-f, --filter FILTER"));
    // Every system of available_events with its count: sched's line names the lifecycle events.
    auto available = read_text("/sys/kernel/tracing/available_events");
    size_t sched_events = 0;
    for (const auto& line : split_any(available, "\n")) sched_events += std::string_view(line).starts_with("sched:");
    REQUIRE(sched_events > 0);
    CHECK_THAT(desc->out, Catch::Contains(fmt::format("\nsched ({}): ", sched_events)));
    CHECK_THAT(desc->out, Catch::Contains("sched_process_exec"));
    // Readable in GET /v1/trace-hooks: one line per system, not one per event.
    CHECK(split_any(desc->out, "\n").size() < 200);
}

TEST_CASE("trace_events refuses bad events, filters and scope before creating anything", "[integration][root]") {
    struct Case {
        std::vector<std::string> args;
        std::string named;
    };
    const auto me = std::to_string(::getpid());
    for (const auto& c : std::vector<Case>{
             // A typo names the event and what was meant.
             {{"--pid", me, "-e", "sched:sched_proces_exec"},
              "unknown event \"sched:sched_proces_exec\" (did you mean sched:sched_process_exec?)"},
             {{"--pid", me, "-e", "sched:no_such_*"}, "\"sched:no_such_*\" matches no event"},
             {{"--pid", me, "-e", "sched_process_exec"}, "expected SYSTEM:EVENT"},
             {{"--pid", me}, "no event"},
             // A filter may only narrow: one that would close the scope's parenthesis is refused.
             {{"--pid", me, "-e", "signal:signal_generate", "-f", "sig", "==", "10)", "||", "(1"}, "closes nothing"},
             {{"--pid", me, "-e", "sched:sched_process_exec", "-f", "'pid", ">", "0", "||'"}, "missing at its end"},
             // The kernel's own refusal of a field it does not know.
             {{"--pid", me, "-e", "sched:sched_process_exec", "-f", "no_field", "==", "1"}, "Field not found"},
             {{"--pid", me, "-f", "sig", "==", "1"}, "before any -e"},
             {{"--pid", me, "-e", "sched:sched_process_fork", "-f", "child_pid", ">", "1"}, "sched_process_fork"},
             // PIDs are tracer-node's; kernel memory is bounded (as for trace_syscalls).
             {{"--pid", me, "-e", "sched:sched_process_exec", "--pid", "1"}, "a second --pid"},
             {{"--pid", me, "-e", "sched:sched_process_exec", "-b", "65537"}, "\"65537\""},
             {{"--pid", me, "-e", "sched:sched_process_exec", "-t", "-5"}, "negative"}}) {
        check_refused("trace_events", c.args, c.named);
    }
}

TEST_CASE("trace_events counts exactly the execs and exits of an unshared process tree", "[integration][root]") {
    constexpr int kRuns = 200;
    ct::test::Pod pod("events-exec-pod"), other("events-other-pod");
    EventsRun run(pod.host_pids(),
                  {"-e", "sched:sched_process_exec", "-f", "'filename", "==", "\"/bin/true\"'", "-e",
                   "sched:sched_process_exit"},
                  false);
    CHECK(trim(read_text(run.manager.dir() / "events/sched/sched_process_exec/filter")) ==
          "(filename == \"/bin/true\")");
    // Outside the scope at the same time: the other pod and this test's own children.
    other.exec(fmt::format("i=0; while [ $i -lt {} ]; do /bin/true; i=$((i+1)); done", kRuns));
    pod.exec(fmt::format("i=0; while [ $i -lt {} ]; do /bin/true; /bin/false; i=$((i+1)); done", kRuns));
    REQUIRE(run_capture(command({"/bin/sh", "-c", "for i in 1 2 3; do /bin/true; done"}), 30s));
    run.pump();
    run.stop();

    auto execs = events_named(run.main, "sched_process_exec");
    CHECK(execs.size() == kRuns);  // the filter kept /bin/true only
    std::set<pid_t> exec_pids;
    for (const auto& e : execs) {
        CHECK(field_of(e.event, "filename") == "/bin/true");
        exec_pids.insert(e.pid);
    }
    CHECK(exec_pids.size() == kRuns);
    // Every /bin/true exits once, in its own context; only the tree's processes exit here.
    size_t true_exits = 0;
    for (const auto& e : events_named(run.main, "sched_process_exit")) {
        true_exits += field_of(e.event, "comm") == "true";
        if (field_of(e.event, "comm") == "true") CHECK(exec_pids.contains(e.pid));
    }
    CHECK(true_exits == kRuns);
}

TEST_CASE("trace_events scopes signals by their target: sent to the tree from outside, not between others",
          "[integration][root]") {
    ct::test::Pod pod("events-signal-pod");
    // A target there before the run, and one outside the tree.
    pod.exec(std::string(kUsr1Sleeper));
    pid_t first = await_sleeper(pod, {});
    REQUIRE(first > 0);
    auto with_first = pod.host_pids();
    auto outsider = Subprocess::spawn(command({"/bin/sh", "-c", "trap '' USR1; exec sleep 100000"}));
    REQUIRE(outsider);

    EventsRun run(with_first, {"-e", "signal:signal_generate", "-f", "sig", "==", "10"}, true);
    // Target-scoped events are in the companion only: the main instance's set_event_pid would
    // keep the sender's (this test's) events instead.
    CHECK(trim(read_text(run.companion_path() / "events/signal/signal_generate/enable")) == "1");
    CHECK(trim(read_text(run.manager.dir() / "events/signal/signal_generate/enable")) == "0");
    CHECK_THAT(read_text(run.companion_path() / "events/signal/signal_generate/filter"),
               Catch::EndsWith("&& (sig == 10)\n"));
    REQUIRE(::kill(first, SIGUSR1) == 0);
    REQUIRE(::kill(outsider->pid(), SIGUSR1) == 0);
    REQUIRE(::kill(first, SIGWINCH) == 0);  // another signal: the user's filter leaves it out

    // A process the tree starts during the run joins the scope within the companion's refresh.
    pod.exec(std::string(kUsr1Sleeper));
    pid_t second = await_sleeper(pod, with_first);
    REQUIRE(second > 0);
    size_t sent_to_second = 0;
    auto to_second = [&] {
        return std::ranges::count_if(events_named(*run.companion, "signal_generate"), [&](const TraceLine& t) {
            return field_of(t.event, "pid") == std::to_string(second);
        });
    };
    for (auto deadline = Clock::now() + 10s; to_second() == 0 && Clock::now() < deadline;) {
        REQUIRE(::kill(second, SIGUSR1) == 0);
        ++sent_to_second;
        run.pump();
    }
    run.stop();

    size_t to_first = 0, to_outsider = 0;
    for (const auto& t : events_named(*run.companion, "signal_generate")) {
        CHECK(field_of(t.event, "sig") == "10");
        CHECK(t.pid == ::getpid());  // the sender is current
        to_first += field_of(t.event, "pid") == std::to_string(first);
        to_outsider += field_of(t.event, "pid") == std::to_string(outsider->pid());
    }
    CHECK(to_first == 1);
    CHECK(to_outsider == 0);
    CHECK(to_second() >= 1);
    CHECK(static_cast<size_t>(to_second()) <= sent_to_second);
    CHECK(events_named(run.main, "signal_generate").empty());
}
