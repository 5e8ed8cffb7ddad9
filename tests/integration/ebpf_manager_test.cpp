// The eBPF hook manager (syscall_stats) on the real kernel with real processes: exact counts for
// a pod's processes and nobody else's, children forked after the start, agreement with
// strace -c -f, snapshots while running and after SIGINT, bad arguments, a kernel without BTF,
// --clear, and no BPF object left behind. Every run gets its own TMPDIR (so its snapshot
// directories are the test's) and TRACER_INSTANCE_PREFIX.
#include <catch2/catch.hpp>

#include <poll.h>
#include <unistd.h>

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
#include <fmt/ranges.h>

#include "common/strings.h"
#include "common/subprocess.h"
#include "common/syscall_stats.h"
#include "tests/support/fixtures.h"

using namespace ct;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using ct::test::Pod;
using ct::test::TempDir;
using ct::test::read_text;

namespace {

using Clock = std::chrono::steady_clock;

const std::string kManager = CT_HOOKS_DIR "/ebpf/manager";
const std::string kMix = CT_BINARY_DIR "/bench/syscall_mix";


// A manager environment of its own: TMPDIR under `tmp` and a prefix naming this test process.
struct Env {
    TempDir tmp{"ct-ebpf"};
    std::string prefix = fmt::format("ctrace_t{}_", ::getpid());
    std::vector<std::string> extra;  // more KEY=VALUE

    fs::path base() const { return tmp.path() / "container-tracer" / "stats"; }
    std::vector<std::string> vars() const {
        std::vector<std::string> out = {"TMPDIR=" + tmp.str(), "TRACER_INSTANCE_PREFIX=" + prefix};
        out.insert(out.end(), extra.begin(), extra.end());
        return out;
    }
    // What is under the snapshot base now.
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(base(), ec)) out.push_back(e.path().filename().string());
        return out;
    }
};

SpawnOptions manager_command(const Env& env, std::vector<std::string> args) {
    SpawnOptions o;
    o.argv = {kManager};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.extra_env = env.vars();
    return o;
}

std::vector<std::string> run_args(const std::vector<pid_t>& pids, const std::vector<std::string>& more) {
    std::vector<std::string> args = {"--run", "syscall_stats", "--args", "--pid"};
    for (pid_t p : pids) args.push_back(std::to_string(p));
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// A line from a child's stdout within `timeout`.
std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
    std::string buffer;
    auto deadline = Clock::now() + timeout;
    while (buffer.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) > 0 && !read_available(fd, buffer, 1 << 16) &&
            buffer.find('\n') == std::string::npos)
            return std::nullopt;
    }
    return buffer.substr(0, buffer.find('\n'));
}

struct Manager {
    Subprocess process;
    fs::path snapshot;  // the path it printed
};

Manager start_manager(const Env& env, const std::vector<pid_t>& pids, const std::vector<std::string>& more = {}) {
    auto p = Subprocess::spawn(manager_command(env, run_args(pids, more)));
    REQUIRE(p);
    auto line = read_line(p->stdout_fd(), 30s);
    if (!line) {
        std::string err;
        read_available(p->stderr_fd(), err, 1 << 16);
        FAIL("manager printed no snapshot path; stderr: " << err);
    }
    return Manager{std::move(*p), *line};
}

stats::Snapshot read_snapshot(const fs::path& path) {
    auto s = stats::parse_snapshot(read_text(path));
    INFO(path.string());
    REQUIRE(s);
    return *s;
}

// SIGINT, as tracer-node stops a hook; the final snapshot, checked to be well formed.
stats::Snapshot stop(Manager& m) {
    REQUIRE(m.process.send_signal(SIGINT));
    auto status = m.process.wait_for(30s);
    REQUIRE(status);
    std::string err;
    read_available(m.process.stderr_fd(), err, 1 << 16);
    INFO("stderr: " << err);
    CHECK(status->code == 0);
    CHECK(err.empty());
    auto s = read_snapshot(m.snapshot);
    for (const auto& [group, table] : s.groups)
        for (const auto& [name, c] : table) {
            INFO(fmt::format("group {} {}", group, name));
            uint64_t in_buckets = 0, with_errno = 0;
            for (auto [bound, n] : c.histogram) in_buckets += n;
            for (const auto& [e, n] : c.errno_counts) with_errno += n;
            CHECK(in_buckets == c.count);
            CHECK(with_errno == c.errors);
            CHECK(c.errors <= c.count);
        }
    CHECK(s.dropped == 0);
    return s;
}

const stats::SyscallCounts* find(const stats::Snapshot& s, uint32_t group, const std::string& syscall) {
    auto g = s.groups.find(group);
    if (g == s.groups.end()) return nullptr;
    auto c = g->second.find(syscall);
    return c == g->second.end() ? nullptr : &c->second;
}

uint64_t total(const stats::Snapshot& s, const std::string& syscall) {
    uint64_t n = 0;
    for (const auto& [group, table] : s.groups)
        if (auto c = table.find(syscall); c != table.end()) n += c->second.count;
    return n;
}

// Starts syscall_mix inside `pod`, in the background, waiting for `start`; returns its host pid.
pid_t start_mix_in(Pod& pod, const std::string& mix_args, const fs::path& start, const fs::path& out) {
    pod.exec(fmt::format("{} {} {} > {} 2>&1 &", kMix, mix_args, start.string(), out.string()));
    auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline) {
        for (pid_t p : pod.host_pids())
            if (trim(read_text(fmt::format("/proc/{}/comm", p))) == "syscall_mix") return p;
        std::this_thread::sleep_for(10ms);
    }
    FAIL("syscall_mix did not start in pod " << pod.name());
    return 0;
}

// Waits for syscall_mix's result line in `out`.
std::string await_output(const fs::path& out) {
    auto deadline = Clock::now() + 120s;
    while (Clock::now() < deadline) {
        std::string text = read_text(out);
        if (text.find('\n') != std::string::npos) return std::string(trim(text));
        std::this_thread::sleep_for(10ms);
    }
    FAIL("no result in " << out.string());
    return {};
}

void touch(const fs::path& path) { std::ofstream(path) << "go"; }

// syscall_mix ARGS... as our child, its result line on stdout_fd().
Subprocess spawn_mix(std::vector<std::string> args) {
    SpawnOptions o;
    o.argv = {kMix};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.capture_stderr = false;
    auto p = Subprocess::spawn(o);
    REQUIRE(p);
    return std::move(*p);
}

struct Failed {
    int code;
    std::string out, err;
};

Failed run_to_end(const Env& env, std::vector<std::string> args) {
    auto r = run_capture(manager_command(env, std::move(args)), 60s);
    REQUIRE(r);
    return {r->status.code, r->out, r->err};
}

// strace -c's table: syscall -> {calls, errors}.
std::map<std::string, std::pair<uint64_t, uint64_t>> parse_strace_summary(const std::string& text) {
    std::map<std::string, std::pair<uint64_t, uint64_t>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto words = split_whitespace(line);
        if (words.size() < 5 || !parse_u64(words[3])) continue;  // header and rule lines
        uint64_t errors = words.size() == 6 ? parse_u64(words[4]).value_or(0) : 0;
        out[words.back()] = {*parse_u64(words[3]), errors};
    }
    return out;
}

// BPF object ids a process holds ("prog_id", "map_id", "link_id" lines of its fdinfo).
std::vector<std::pair<std::string, uint64_t>> bpf_ids_of(pid_t pid) {
    std::vector<std::pair<std::string, uint64_t>> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fmt::format("/proc/{}/fdinfo", pid), ec)) {
        std::istringstream in(read_text(e.path()));
        std::string line;
        while (std::getline(in, line))
            for (std::string kind : {"prog", "map", "link"})
                if (line.starts_with(kind + "_id:"))
                    if (auto id = parse_u64(trim(line.substr(kind.size() + 4)))) out.emplace_back(kind, *id);
    }
    return out;
}

bool bpf_object_exists(const std::string& kind, uint64_t id) {
    SpawnOptions o;
    o.argv = {"bpftool", kind, "show", "id", std::to_string(id)};
    auto r = run_capture(o, 30s);
    REQUIRE(r);
    return r->status.ok();
}

}  // namespace

TEST_CASE("ebpf manager lists and describes syscall_stats", "[integration][root]") {
    Env env;
    auto all = run_to_end(env, {"--get-all"});
    CHECK(all.code == 0);
    CHECK(split_whitespace(all.out) == std::vector<std::string>{"syscall_stats"});

    auto desc = run_to_end(env, {"--describe", "syscall_stats"});
    CHECK(desc.code == 0);
    CHECK(desc.out.starts_with("Count system calls of given container in the kernel (eBPF)"));
    CHECK(desc.out.find("-s, --syscall NAME[,NAME]") != std::string::npos);
    CHECK(desc.out.find("Unavailable") == std::string::npos);  // this kernel has BTF and we are root

    auto unknown = run_to_end(env, {"--describe", "trace_syscalls"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err.find("\"trace_syscalls\"") != std::string::npos);
}

TEST_CASE("ebpf manager on a kernel without BTF says so and fails its start cleanly", "[integration][root]") {
    Env env;
    fs::create_directories(env.tmp.path() / "sysfs" / "kernel");  // a sysfs without kernel/btf/vmlinux
    std::string btf = (env.tmp.path() / "sysfs" / "kernel" / "btf" / "vmlinux").string();
    env.extra.push_back("TRACER_SYSFS_PATH=" + (env.tmp.path() / "sysfs").string());

    auto desc = run_to_end(env, {"--describe", "syscall_stats"});
    CHECK(desc.code == 0);
    CHECK(desc.out.find(fmt::format("Unavailable on this node: the kernel has no BTF ({}: No such file or directory)", btf)) !=
          std::string::npos);

    auto run = run_to_end(env, run_args({::getpid()}, {}));
    CHECK(run.code == 1);
    CHECK(run.out.empty());
    CHECK(run.err == fmt::format("the kernel has no BTF ({}: No such file or directory); syscall_stats needs a kernel "
                                 "built with CONFIG_DEBUG_INFO_BTF\n",
                                 btf));
    CHECK(env.entries().empty());
}

TEST_CASE("ebpf manager rejects bad hook arguments before loading anything", "[integration][root]") {
    Env env;
    struct Case {
        std::vector<std::string> args;
        std::string named;
    };
    for (const auto& c : std::vector<Case>{
             {{"--pid", "1", "--pid", "2"}, "a second --pid"},
             {{"--pid", "1", "-s", "getppid,nosuch_call"}, "unknown syscall \"nosuch_call\""},
             {{"--pid", "1", "-i", "5"}, "invalid interval \"5\""},
             {{"--pid", "1", "--interval", "forever"}, "\"forever\""},
             {{"-s", "getppid"}, "missing --pid"},
             {{"--pid", "x1"}, "\"x1\""},
             {{"--pid", "1", "--bogus"}, "\"--bogus\""},
         }) {
        INFO(fmt::format("args: {}", fmt::join(c.args, " ")));
        std::vector<std::string> argv = {"--run", "syscall_stats", "--args"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = run_to_end(env, argv);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.find(c.named) != std::string::npos);
        CHECK(env.entries().empty());
    }
}

TEST_CASE("syscall_stats counts a pod's calls exactly and another pod's nowhere", "[integration][root]") {
    Env env;
    Pod traced("ct-stats-traced"), other("ct-stats-other");
    fs::path start = env.tmp.path() / "start";
    pid_t mix = start_mix_in(traced, "20000 1000 0", start, env.tmp.path() / "traced.out");
    pid_t other_mix = start_mix_in(other, "20000 1000 0", start, env.tmp.path() / "other.out");
    auto traced_pids = traced.host_pids();
    auto m = start_manager(env, traced_pids);
    CHECK(m.snapshot.parent_path().parent_path() == env.base());
    CHECK(m.snapshot.filename() == "syscall_stats.stats.json");
    CHECK(m.snapshot.parent_path().filename().string().starts_with(fmt::format("{}{}_", env.prefix, m.process.pid())));

    touch(start);
    CHECK(await_output(env.tmp.path() / "traced.out") == "getppid 20000 enoent 1000");
    CHECK(await_output(env.tmp.path() / "other.out") == "getppid 20000 enoent 1000");
    auto s = stop(m);

    const auto* getppid = find(s, static_cast<uint32_t>(mix), "getppid");
    REQUIRE(getppid);
    CHECK(getppid->count == 20000);
    CHECK(getppid->errors == 0);
    CHECK(getppid->errno_counts.empty());
    CHECK(getppid->total_ns > 0);
    const auto* openat = find(s, static_cast<uint32_t>(mix), "openat");
    REQUIRE(openat);
    CHECK(openat->errors >= 1000);
    CHECK(openat->errno_counts.at("ENOENT") >= 1000);
    // Nobody else in the pod called getppid, and the other pod's 20,000 are nowhere.
    CHECK(total(s, "getppid") == 20000);
    std::set<pid_t> allowed(traced_pids.begin(), traced_pids.end());
    for (const auto& [group, table] : s.groups) {
        INFO("group " << group);
        CHECK(allowed.count(static_cast<pid_t>(group)) == 1);
        CHECK(group != static_cast<uint32_t>(other_mix));
    }
}

TEST_CASE("syscall_stats counts children forked after the start in their parent's group", "[integration][root]") {
    Env env;
    Pod pod("ct-stats-fork");
    fs::path start = env.tmp.path() / "start";
    pid_t mix = start_mix_in(pod, "1000 10 3", start, env.tmp.path() / "out");
    auto m = start_manager(env, pod.host_pids(), {"-s", "getppid,openat"});
    touch(start);
    CHECK(await_output(env.tmp.path() / "out") == "getppid 4000 enoent 40");
    auto s = stop(m);
    const auto* getppid = find(s, static_cast<uint32_t>(mix), "getppid");
    REQUIRE(getppid);
    CHECK(getppid->count == 4000);
    const auto* openat = find(s, static_cast<uint32_t>(mix), "openat");
    REQUIRE(openat);
    CHECK(openat->count == 40);
    CHECK(openat->errno_counts == std::map<std::string, uint64_t>{{"ENOENT", 40}});
    // -s: nothing else was counted (the children's fork return, exit_group, wait4...).
    for (const auto& [group, table] : s.groups)
        for (const auto& [name, c] : table) CHECK((name == "getppid" || name == "openat"));
}

TEST_CASE("syscall_stats agrees with strace -c -f on the same workload", "[integration][root]") {
    Env env;
    // strace's count of a run of the workload...
    fs::path summary = env.tmp.path() / "strace.txt";
    SpawnOptions strace;
    strace.argv = {"strace", "-f", "-c", "-o", summary.string(), kMix, "10000", "500", "1"};
    auto traced = run_capture(strace, 120s);
    REQUIRE(traced);
    REQUIRE(traced->status.ok());
    auto theirs = parse_strace_summary(read_text(summary));
    INFO(read_text(summary));
    REQUIRE(theirs.count("getppid"));
    REQUIRE(theirs.count("openat"));

    // ...and ours of another run, counted from its start file on.
    fs::path start = env.tmp.path() / "start";
    auto mix = spawn_mix({"10000", "500", "1", start.string()});
    auto m = start_manager(env, {mix.pid()});
    touch(start);
    auto line = read_line(mix.stdout_fd(), 120s);
    CHECK(line == "getppid 20000 enoent 1000");
    REQUIRE(mix.wait_for(30s));
    auto s = stop(m);

    const auto* getppid = find(s, static_cast<uint32_t>(mix.pid()), "getppid");
    const auto* openat = find(s, static_cast<uint32_t>(mix.pid()), "openat");
    REQUIRE(getppid);
    REQUIRE(openat);
    CHECK(getppid->count == 20000);
    CHECK(getppid->count == theirs["getppid"].first);
    CHECK(getppid->errors == theirs["getppid"].second);
    CHECK(openat->count == theirs["openat"].first);
    CHECK(openat->errors == theirs["openat"].second);
    CHECK(openat->errno_counts.at("ENOENT") == 1000);
}

TEST_CASE("syscall_stats replaces its snapshot every interval and once more after SIGINT", "[integration][root]") {
    Env env;
    // A sysfs root of its own whose BTF is the kernel's: the manager takes BTF from there.
    fs::create_directories(env.tmp.path() / "sysfs" / "kernel" / "btf");
    fs::create_symlink("/sys/kernel/btf/vmlinux", env.tmp.path() / "sysfs" / "kernel" / "btf" / "vmlinux");
    env.extra.push_back("TRACER_SYSFS_PATH=" + (env.tmp.path() / "sysfs").string());
    fs::path start = env.tmp.path() / "start";
    auto mix = spawn_mix({"5000", "0", "0", start.string()});  // once per section (Catch reruns)

    SECTION("every interval while running") {
        auto m = start_manager(env, {mix.pid()}, {"-i", "100"});
        auto first = read_snapshot(m.snapshot);
        CHECK(first.groups.empty());  // written before the path was printed, before any call
        touch(start);
        REQUIRE(mix.wait_for(60s));
        auto deadline = Clock::now() + 30s;
        uint64_t seen = 0;
        while (seen != 5000 && Clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
            seen = total(read_snapshot(m.snapshot), "getppid");
        }
        CHECK(seen == 5000);
        CHECK(m.process.running());
        stop(m);
    }
    SECTION("the final one after SIGINT, with an interval that never came") {
        auto m = start_manager(env, {mix.pid()}, {"--interval", "3600000"});
        auto first = read_snapshot(m.snapshot);
        touch(start);
        REQUIRE(mix.wait_for(60s));
        CHECK(total(read_snapshot(m.snapshot), "getppid") == 0);  // no interval passed yet
        auto last = stop(m);
        CHECK(total(last, "getppid") == 5000);
        CHECK(last.time_ns > first.time_ns);
        // The reader removes the directory after its last read (docs/hooks.md).
        CHECK(fs::exists(m.snapshot));
    }
}

TEST_CASE("syscall_stats leaves no BPF program, map or link behind", "[integration][root]") {
    Env env;
    auto sleeper = Subprocess::spawn(SpawnOptions{.argv = {"sleep", "600"}});
    REQUIRE(sleeper);
    auto m = start_manager(env, {sleeper->pid()});
    auto ids = bpf_ids_of(m.process.pid());
    size_t progs = std::ranges::count_if(ids, [](const auto& id) { return id.first == "prog"; });
    CHECK(progs >= 4);  // sys_enter, sys_exit, fork, exit
    CHECK(std::ranges::count_if(ids, [](const auto& id) { return id.first == "link"; }) >= 4);
    stop(m);
    // Freed once the last reference goes, after an RCU grace period: awaited, bounded.
    for (const auto& [kind, id] : ids) {
        INFO(kind << " " << id);
        auto deadline = Clock::now() + 20s;
        while (bpf_object_exists(kind, id) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
        CHECK_FALSE(bpf_object_exists(kind, id));
    }
}

TEST_CASE("ebpf manager --clear removes stale snapshot directories only", "[integration][root]") {
    Env env;
    pid_t dead = 0;
    {
        auto gone = Subprocess::spawn(SpawnOptions{.argv = {"true"}});
        REQUIRE(gone);
        dead = gone->pid();
        gone->wait();
    }
    fs::create_directories(env.base());
    fs::path stale = env.base() / fmt::format("{}{}_00000000000000aa", env.prefix, dead);
    fs::path live = env.base() / fmt::format("{}{}_00000000000000bb", env.prefix, ::getpid());
    fs::path foreign = env.base() / fmt::format("ctrace_other_{}_00000000000000cc", dead);
    for (const auto& d : {stale, live, foreign}) fs::create_directories(d);
    { std::ofstream(stale / "syscall_stats.stats.json") << "{}"; }

    auto r = run_to_end(env, {"--clear"});
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(live));
    CHECK(fs::exists(foreign));
}
