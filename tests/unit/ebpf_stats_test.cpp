// The syscall_stats hook's pure parts: the shared manager command line (trace-hooks/common),
// its arguments, syscall and errno names, the kernel counts' snapshot, and the snapshot format
// itself (common/syscall_stats.h, also read by tracer-node).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "common/syscall_stats.h"
#include "trace-hooks/common/hook_cli.h"
#include "trace-hooks/ebpf/counts.h"
#include "trace-hooks/ebpf/hook_args.h"
#include "trace-hooks/ebpf/syscall_names.h"

using namespace ct;
using namespace ct::hooks;
using namespace ct::hooks::ebpf;
using Args = std::vector<std::string>;

namespace {

template <class T>
std::string error_of(const Result<T>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidArgument);
    return r.error().message;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("hook cli: manager commands for the hooks a manager offers", "[unit]") {
    std::vector<std::string_view> hooks = {"syscall_stats"};
    auto run = parse_command({"--run", "syscall_stats", "--args", "--pid 7 8", "-i", "500"}, hooks);
    REQUIRE(run);
    CHECK(run->mode == Mode::kRun);
    CHECK(run->hook_args == Args{"--pid", "7", "8", "-i", "500"});
    auto desc = parse_command({"--describe", "syscall_stats"}, hooks);
    REQUIRE(desc);
    CHECK(desc->mode == Mode::kDescribe);
    CHECK(parse_command({"--clear"}, hooks)->mode == Mode::kClear);
    CHECK(parse_command({"--get-all"}, hooks)->mode == Mode::kGetAll);

    CHECK(contains(error_of(parse_command({"--describe", "trace_syscalls"}, hooks)),
                   "unknown hook \"trace_syscalls\" (available: syscall_stats)"));
    CHECK(contains(error_of(parse_command({"--run", "syscall_stats", "--pid", "1"}, hooks)), "\"--pid\""));
    CHECK(contains(error_of(parse_command({"--clear", "now"}, hooks)), "\"now\""));
    CHECK(contains(error_of(parse_command({}, hooks)), "no command"));
}

TEST_CASE("hook cli: options, values and the one --pid", "[unit]") {
    std::vector<OptionSpec> specs = {{{"--pid"}, true}, {{"--time", "-t"}, false}};
    auto parsed = parse_options({"--pid", "1", "2", "-t", "5", "--time=6"}, specs);
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 3);
    CHECK((*parsed)[0].values == Args{"1", "2"});
    CHECK((*parsed)[1].name == "--time");
    CHECK((*parsed)[1].spelled == "-t");
    CHECK((*parsed)[2].values == Args{"6"});
    CHECK(*take_pids(*parsed) == std::vector<pid_t>{1, 2});

    CHECK(contains(error_of(parse_options({"--pid", "1", "-t", "5", "6"}, specs)), "unexpected argument \"6\""));
    CHECK(contains(error_of(parse_options({"--pid", "1", "-t"}, specs)), "-t needs a value"));
    CHECK(contains(error_of(parse_options({"--bogus"}, specs)), "\"--bogus\""));
    CHECK(contains(error_of(take_pids(*parse_options({"--pid", "1", "--pid", "2"}, specs))), "a second --pid"));
    CHECK(contains(error_of(take_pids(*parse_options({"-t", "1"}, specs))), "missing --pid"));
    CHECK(contains(error_of(take_pids(*parse_options({"--pid", "0"}, specs))), "\"0\""));
    CHECK(contains(error_of(parse_options({"--pid", "-1"}, specs)), "unknown option \"-1\""));
    CHECK(contains(error_of(take_pids(*parse_options({"--pid"}, specs))), "at least one PID"));
}

TEST_CASE("syscall_stats args: pids, syscalls, interval", "[unit]") {
    auto a = parse_stats_args({"--pid", "3", "4", "-s", "getppid,sys_enter_openat", "read", "--syscall=openat"});
    REQUIRE(a);
    CHECK(a->pids == std::vector<pid_t>{3, 4});
    CHECK(a->syscalls == Args{"getppid", "openat", "read"});
    CHECK(a->interval_ms == kDefaultIntervalMs);

    CHECK(parse_stats_args({"--pid", "1", "-i", "100"})->interval_ms == 100);
    CHECK(parse_stats_args({"--pid", "1", "--interval=3600000"})->interval_ms == 3'600'000);
    CHECK(parse_stats_args({"--pid", "1"})->syscalls.empty());

    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "-i", "99"})), "invalid interval \"99\""));
    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "--interval", "3600001"})), "\"3600001\""));
    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "-i", "soon"})), "\"soon\""));
    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "-s"})), "-s needs a syscall name"));
    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "-s", "get-ppid"})), "invalid syscall name \"get-ppid\""));
    CHECK(contains(error_of(parse_stats_args({"--pid", "1", "-s", "x", "--pid", "2"})), "a second --pid"));
    CHECK(contains(error_of(parse_stats_args({"-s", "getppid"})), "missing --pid"));
}

TEST_CASE("syscall_stats description says when the hook cannot run here", "[unit]") {
    auto ok = describe("");
    REQUIRE(ok.size() == 4);
    CHECK(contains(ok[0], "Count system calls"));
    for (const auto& line : ok) CHECK_FALSE(contains(line, "Unavailable"));
    auto no = describe("the kernel has no BTF");
    REQUIRE(no.size() == 5);
    CHECK(no.back() == "Unavailable on this node: the kernel has no BTF");
}

TEST_CASE("syscall names: both tables, unnamed numbers, errno names", "[unit]") {
    auto getppid = counted_nrs("getppid");
    REQUIRE_FALSE(getppid.empty());
    for (uint32_t nr : getppid) CHECK(syscall_name(nr) == "getppid");
#if defined(__x86_64__)
    CHECK(getppid == std::vector<uint32_t>{110, CT_MAX_SYSCALLS + 64});  // x86_64 and i386 numbers
    CHECK(syscall_name(0) == "read");
    CHECK(syscall_name(CT_MAX_SYSCALLS + 3) == "read");  // i386 read
#endif
    CHECK(syscall_name(1000) == "syscall_1000");
    CHECK(syscall_name(CT_MAX_SYSCALLS + 1000) == "compat_syscall_1000");
    CHECK(counted_nrs("syscall_1000") == std::vector<uint32_t>{1000});
    CHECK(counted_nrs("compat_syscall_1000") == std::vector<uint32_t>{CT_MAX_SYSCALLS + 1000});
    CHECK(counted_nrs("syscall_1024").empty());
    CHECK(counted_nrs("no_such_call").empty());

    CHECK(errno_name(2) == "ENOENT");
    CHECK(errno_name(13) == "EACCES");
    CHECK(errno_name(512) == "ERESTARTSYS");
    CHECK(errno_name(4000) == "E4000");
}

TEST_CASE("syscall_stats counts: CPUs add up, buckets become bounds, names merge", "[unit]") {
    uint32_t nr = counted_nrs("openat").front();
    RawCounts raw;
    ct_stats_value cpu0{}, cpu1{};
    cpu0.count = 3, cpu0.errors = 2, cpu0.total_ns = 300, cpu0.hist[0] = 1, cpu0.hist[7] = 2;
    cpu1.count = 1, cpu1.errors = 1, cpu1.total_ns = 50, cpu1.hist[7] = 1;
    raw.add({42, nr}, cpu0);
    raw.add({42, nr}, cpu1);
    raw.add({42, 1000}, ct_stats_value{});  // zero: left out
    raw.errnos[{42, nr, 2}] = 2;
    raw.errnos[{42, nr, 13}] = 1;
    raw.dropped = 5;
#if defined(__x86_64__)
    ct_stats_value compat{};
    compat.count = 2, compat.total_ns = 20, compat.hist[63] = 2;
    raw.add({42, CT_MAX_SYSCALLS + 295}, compat);  // i386 openat
#endif

    auto snap = to_snapshot(raw, 77);
    CHECK(snap.time_ns == 77);
    CHECK(snap.dropped == 5);
    REQUIRE(snap.groups.size() == 1);
    const auto& table = snap.groups.at(42);
    CHECK(table.size() == 1);
    const auto& openat = table.at("openat");
    CHECK(openat.errors == 3);
    CHECK(openat.errno_counts == std::map<std::string, uint64_t>{{"EACCES", 1}, {"ENOENT", 2}});
#if defined(__x86_64__)
    CHECK(openat.count == 6);
    CHECK(openat.total_ns == 370);
    CHECK(openat.histogram == std::map<uint64_t, uint64_t>{{1, 1}, {128, 3}, {uint64_t{1} << 63, 2}});
#else
    CHECK(openat.count == 4);
    CHECK(openat.histogram == std::map<uint64_t, uint64_t>{{1, 1}, {128, 3}});
#endif
    uint64_t in_buckets = 0;
    for (auto [bound, n] : openat.histogram) in_buckets += n;
    CHECK(in_buckets == openat.count);
}

TEST_CASE("snapshot format: JSON round trip and the exact shape", "[unit]") {
    stats::Snapshot s;
    s.time_ns = 1'700'000'000'000'000'000;
    s.dropped = 1;
    auto& g = s.groups[4242]["openat"];
    g.count = 1001, g.errors = 1000, g.total_ns = 123456, g.errno_counts["ENOENT"] = 1000;
    g.histogram[512] = 1, g.histogram[1024] = 1000;
    s.groups[7]["getppid"].count = 5;
    s.groups[7]["getppid"].histogram[128] = 5;

    std::string text = stats::to_json_text(s);
    CHECK(text ==
          R"({"Version":1,"TimeNs":1700000000000000000,"Dropped":1,"Groups":{"7":{"getppid":{"Count":5,"Errors":0,)"
          R"("ErrnoCounts":{},"TotalNs":0,"Histogram":{"128":5}}},"4242":{"openat":{"Count":1001,"Errors":1000,)"
          R"("ErrnoCounts":{"ENOENT":1000},"TotalNs":123456,"Histogram":{"512":1,"1024":1000}}}}})");
    auto back = stats::parse_snapshot(text);
    REQUIRE(back);
    CHECK(*back == s);
    CHECK(stats::is_snapshot_path("/run/container-tracer/stats/ctrace_1_ab/syscall_stats.stats.json"));
    CHECK_FALSE(stats::is_snapshot_path("/sys/kernel/tracing/instances/ctrace_1/trace_pipe"));
    CHECK_FALSE(stats::is_snapshot_path(".stats.json"));
}

TEST_CASE("snapshot format: bad snapshots name what is wrong", "[unit]") {
    auto err = [](std::string_view text) { return error_of(stats::parse_snapshot(text)); };
    CHECK(contains(err("{"), "not JSON"));
    CHECK(contains(err(R"({"Groups":{}})"), "missing \"Version\""));
    CHECK(contains(err(R"({"Version":2,"Groups":{}})"), "unsupported Version 2"));
    CHECK(contains(err(R"({"Version":1})"), "missing \"Groups\""));
    CHECK(contains(err(R"({"Version":1,"Groups":{"x1":{}}})"), "invalid key \"x1\""));
    CHECK(contains(err(R"({"Version":1,"Groups":{"1":{"read":{"Count":-1,"Errors":0,"TotalNs":0}}}})"),
                   "snapshot.Groups.1.read.Count"));
    CHECK(contains(err(R"({"Version":1,"Groups":{"1":{"read":{"Count":1,"TotalNs":0}}}})"), "missing \"Errors\""));
    CHECK(contains(err(R"({"Version":1,"Groups":{"1":{"read":{"Count":1,"Errors":0,"TotalNs":0,"Histogram":{"1e3":1}}}}})"),
                   "invalid key \"1e3\""));
    // Unknown keys are someone's extension, not an error.
    CHECK(stats::parse_snapshot(R"({"Version":1,"Groups":{},"Extra":[1]})"));
}

TEST_CASE("stats answers: per pod and container, summed across nodes", "[unit]") {
    stats::SyscallCounts read;
    read.count = 2, read.total_ns = 10, read.histogram[8] = 2;
    stats::SyscallCounts failing;
    failing.count = 1, failing.errors = 1, failing.errno_counts["ENOENT"] = 1, failing.histogram[16] = 1;
    stats::PodStats a{{"web", {{"nginx", {{"read", read}}}}}};
    stats::PodStats b{{"web", {{"nginx", {{"read", read}, {"openat", failing}}}}}, {"db", {{"pg", {{"read", read}}}}}};

    auto parsed = stats::parse_pod_stats(boost::json::value(stats::to_json(b)));
    REQUIRE(parsed);
    CHECK(*parsed == b);

    stats::merge_into(a, b);
    const auto& nginx = a.at("web").at("nginx");
    CHECK(nginx.at("read").count == 4);
    CHECK(nginx.at("read").histogram == std::map<uint64_t, uint64_t>{{8, 4}});
    CHECK(nginx.at("openat").errno_counts.at("ENOENT") == 1);
    CHECK(a.at("db").at("pg").at("read").total_ns == 10);

    CHECK(contains(error_of(stats::parse_pod_stats(boost::json::parse(R"({"web":{"nginx":[]}})"))),
                   "stats.web.nginx: expected an object"));
}
