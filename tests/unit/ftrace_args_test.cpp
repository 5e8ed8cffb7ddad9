// ftrace hook manager: command line and hook argument parsing (pure).
#include <catch2/catch.hpp>

#include "trace-hooks/ftrace/event_select.h"
#include "trace-hooks/ftrace/hook_args.h"

using namespace ct;
using namespace ct::hooks::ftrace;
using Args = std::vector<std::string>;

namespace {

// The error message of a parse that must fail.
template <class T>
std::string error_of(const Result<T>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidArgument);
    return r.error().message;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("ftrace args: manager commands parse", "[unit]") {
    auto all = parse_command({"--get-all"});
    REQUIRE(all);
    CHECK(all->mode == Mode::kGetAll);

    auto clear = parse_command({"--clear"});
    REQUIRE(clear);
    CHECK(clear->mode == Mode::kClear);

    auto desc = parse_command({"--describe", "trace_syscalls"});
    REQUIRE(desc);
    CHECK(desc->mode == Mode::kDescribe);
    CHECK(desc->hook == "trace_syscalls");

    auto run = parse_command({"--run", "trace_syscalls", "--args", "--pid", "1", "2", "-s", "getppid"});
    REQUIRE(run);
    CHECK(run->mode == Mode::kRun);
    CHECK(run->hook_args == Args{"--pid", "1", "2", "-s", "getppid"});
}

TEST_CASE("ftrace args: hook arguments passed as one string are split on whitespace", "[unit]") {
    auto run = parse_command({"--run", "trace_syscalls", "--args", "--pid 7 8  -t 10"});
    REQUIRE(run);
    CHECK(run->hook_args == Args{"--pid", "7", "8", "-t", "10"});
}

TEST_CASE("ftrace args: bad manager commands name the offending value", "[unit]") {
    CHECK(contains(error_of(parse_command({})), "no command"));
    CHECK(contains(error_of(parse_command({"--frobnicate"})), "\"--frobnicate\""));
    CHECK(contains(error_of(parse_command({"--describe", "nope"})), "unknown hook \"nope\""));
    CHECK(contains(error_of(parse_command({"--describe"})), "needs a hook name"));
    CHECK(contains(error_of(parse_command({"--run", "other_hook", "--args", "--pid", "1"})), "\"other_hook\""));
    CHECK(contains(error_of(parse_command({"--run", "trace_syscalls", "--pid", "1"})), "\"--pid\""));
    CHECK(contains(error_of(parse_command({"--get-all", "extra"})), "\"extra\""));
    CHECK(contains(error_of(parse_command({"--clear", "x"})), "\"x\""));
}

TEST_CASE("ftrace args: syscall hook arguments: pids, names, time, buffer", "[unit]") {
    auto a = parse_syscall_args({"--pid", "1", "2", "3", "-s", "getppid", "openat", "-t", "5000"});
    REQUIRE(a);
    CHECK(a->pids == std::vector<pid_t>{1, 2, 3});
    CHECK(a->syscalls == Args{"getppid", "openat"});
    CHECK(a->time_ms == 5000);
    CHECK(a->buffer_kb == kDefaultBufferKb);

    auto b = parse_syscall_args({"--pid", "42", "--syscall", "sys_enter_read,write", "--time=10", "-b", "64"});
    REQUIRE(b);
    CHECK(b->pids == std::vector<pid_t>{42});
    CHECK(b->syscalls == Args{"read", "write"});
    CHECK(b->time_ms == 10);
    CHECK(b->buffer_kb == 64);

    auto c = parse_syscall_args({"--pid=9", "10", "--buffer-kb=128", "--syscall=close"});
    REQUIRE(c);
    CHECK(c->pids == std::vector<pid_t>{9, 10});
    CHECK(c->buffer_kb == 128);
    CHECK(c->syscalls == Args{"close"});
}

TEST_CASE("ftrace args: no syscall names, or -s without names, means every syscall", "[unit]") {
    auto none = parse_syscall_args({"--pid", "1"});
    REQUIRE(none);
    CHECK(none->syscalls.empty());
    CHECK(none->time_ms == 0);

    auto bare = parse_syscall_args({"--pid", "1", "-s", "-t", "3"});
    REQUIRE(bare);
    CHECK(bare->syscalls.empty());
    CHECK(bare->time_ms == 3);
}

TEST_CASE("ftrace args: repeated syscall names and options collapse and accumulate", "[unit]") {
    auto a = parse_syscall_args({"--pid", "1", "2", "-s", "getppid", "sys_exit_getppid", "-s", "sys_enter_getppid,close"});
    REQUIRE(a);
    CHECK(a->syscalls == Args{"close", "getppid"});
    CHECK(a->pids == std::vector<pid_t>{1, 2});
}

TEST_CASE("ftrace args: --pid comes first and once: session arguments cannot add processes", "[unit]") {
    // tracer-node's --pid, then a session's "--pid 4833 -s openat" (issue 14.1).
    CHECK(contains(error_of(parse_syscall_args({"--pid", "7", "8", "--pid", "4833", "-s", "openat"})),
                   "a second --pid option (\"--pid\")"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "7", "-s", "openat", "--pid=1"})),
                   "a second --pid option (\"--pid=1\")"));
    CHECK(contains(error_of(parse_syscall_args({"--pid=7", "--pid", "1"})), "a second --pid option"));
    CHECK(contains(error_of(parse_syscall_args({"-s", "openat", "--pid", "1"})), "missing --pid"));
    CHECK(contains(error_of(parse_syscall_args({"-t", "5", "--pid", "1"})), "come first"));
}

TEST_CASE("ftrace args: -b is capped at 64 MiB per CPU, named with the value", "[unit]") {
    auto max = parse_syscall_args({"--pid", "1", "-b", std::to_string(kMaxBufferKb)});
    REQUIRE(max);
    CHECK(max->buffer_kb == kMaxBufferKb);
    CHECK(kMaxBufferKb == 65536);
    auto over = error_of(parse_syscall_args({"--pid", "1", "-b", "4000000"}));
    CHECK(contains(over, "invalid buffer size \"4000000\""));
    CHECK(contains(over, "1-65536 KB per CPU"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "--buffer-kb=65537"})), "\"65537\""));
}

TEST_CASE("ftrace args: every bad hook argument is rejected with its value named", "[unit]") {
    CHECK(contains(error_of(parse_syscall_args({})), "missing --pid"));
    CHECK(contains(error_of(parse_syscall_args({"-s", "getppid"})), "missing --pid"));
    CHECK(contains(error_of(parse_syscall_args({"--pid"})), "at least one PID"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "-s", "x"})), "at least one PID"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "12a"})), "invalid pid \"12a\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "0"})), "invalid pid \"0\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "99999999999"})), "invalid pid \"99999999999\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-x"})), "unknown option \"-x\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "--frob=3"})), "unknown option \"--frob\""));
    CHECK(contains(error_of(parse_syscall_args({"stray", "--pid", "1"})), "unexpected argument \"stray\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-b", "99999999999999999999"})), "invalid buffer size"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-t", "5", "6"})), "unexpected argument \"6\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-t"})), "-t needs a value"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-t", "soon"})), "invalid time \"soon\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "--time", "-5"})), "invalid time \"-5\" for --time: it is negative"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-t", "-5"})), "invalid time \"-5\" for -t: it is negative"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "--time=-5"})), "\"-5\" for --time: it is negative"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-b", "-8"})), "invalid buffer size \"-8\" for -b: it is negative"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-t", "-x"})), "-t needs a value"));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-b", "0"})), "invalid buffer size \"0\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-b", "big"})), "invalid buffer size \"big\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-s", "get/ppid"})), "invalid syscall name \"get/ppid\""));
    CHECK(contains(error_of(parse_syscall_args({"--pid", "1", "-s", "sys_enter_"})), "invalid syscall name \"sys_enter_\""));
}

TEST_CASE("ftrace args: syscall names are normalised", "[unit]") {
    CHECK(normalize_syscall("getppid") == "getppid");
    CHECK(normalize_syscall("sys_enter_getppid") == "getppid");
    CHECK(normalize_syscall("sys_exit_openat") == "openat");
    CHECK(normalize_syscall("sys_enterx") == "sys_enterx");
}

TEST_CASE("ftrace args: syscall names come from enter tracepoints only", "[unit]") {
    CHECK(syscalls_from_events({"sys_exit_read", "sys_enter_read", "enable", "sys_enter_getppid", "sys_enter_"}) ==
          Args{"getppid", "read"});
    CHECK(syscalls_from_events({}).empty());
}

TEST_CASE("ftrace args: describe gives the four documented lines", "[unit]") {
    CHECK(describe("trace_syscalls") ==
          Args{"Trace system calls, used by given container",
               "-s, --syscall [SYSCALL ...] : list of System call names to be traced, optional argument.",
               "If no system calls are specified, all available are traced.",
               "-t, --time TIME : Duration of the trace in milliseconds, optional argument"});
    CHECK(describe("other").empty());
}

TEST_CASE("ftrace args: ring buffer stats give the entries count", "[unit]") {
    constexpr std::string_view kStats =
        "entries: 17\noverrun: 0\ncommit overrun: 0\nbytes: 1024\noldest event ts:  610.62\n"
        "now ts:   612.00\ndropped events: 0\nread events: 3\n";
    auto n = parse_stats_entries(kStats);
    REQUIRE(n);
    CHECK(*n == 17);
    auto zero = parse_stats_entries("entries: 0\noverrun: 0\n");
    REQUIRE(zero);
    CHECK(*zero == 0);
    CHECK_FALSE(parse_stats_entries("overrun: 0\n"));
    CHECK_FALSE(parse_stats_entries("entries: many\n"));
}

TEST_CASE("ftrace args: the instance prefix comes from TRACER_INSTANCE_PREFIX", "[unit]") {
    CHECK(instance_prefix_from_env(nullptr).value() == "ctrace_");  // by hand
    CHECK(instance_prefix_from_env("").value() == "ctrace_");
    CHECK(instance_prefix_from_env("ctrace_0badf00d_").value() == "ctrace_0badf00d_");
    for (const char* bad : {"other_", "ctrace", "ctrace_../x", "ctrace_A_", "ctrace_ x"}) {
        INFO(bad);
        auto prefix = instance_prefix_from_env(bad);
        REQUIRE_FALSE(prefix);
        CHECK(prefix.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
    }
}

// ---- trace_events: arguments and event selection (trace-hooks/ftrace/event_select.h) ----

TEST_CASE("ftrace args: trace_events binds each -f to the -e before it and rejoins its words", "[unit]") {
    auto a = parse_event_args({"--pid", "7", "8", "-e", "sched:sched_process_exec", "-f", "'filename", "==",
                               "\"/bin/true\"'", "-e", "signal:*", "-t", "50", "--filter=sig", "==", "10"});
    // "--filter=..." after -t belongs to the last -e, signal:*.
    REQUIRE(a);
    CHECK(a->pids == std::vector<pid_t>{7, 8});
    REQUIRE(a->events.size() == 2);
    CHECK(a->events[0].pattern == "sched:sched_process_exec");
    CHECK(a->events[0].filter == "filename == \"/bin/true\"");
    CHECK(a->events[1].pattern == "signal:*");
    CHECK(a->events[1].filter == "sig == 10");
    CHECK(a->time_ms == 50);
    CHECK(a->buffer_kb == kDefaultBufferKb);
}

TEST_CASE("ftrace args: trace_events refuses what it cannot place and keeps --pid first and once", "[unit]") {
    CHECK(contains(error_of(parse_event_args({"-e", "sched:sched_switch"})), "missing --pid"));
    CHECK(contains(error_of(parse_event_args({"--pid", "1"})), "no event"));
    CHECK(contains(error_of(parse_event_args({"--pid", "1", "-f", "sig", "==", "1"})), "before any -e"));
    CHECK(contains(error_of(parse_event_args({"--pid", "1", "-e", "a:b", "-f", "x == 1", "-f", "y == 2"})),
                   "a second filter for -e a:b"));
    CHECK(contains(error_of(parse_event_args({"--pid", "1", "-e", "a:b", "--pid", "2"})), "a second --pid"));
    CHECK(contains(error_of(parse_event_args({"--pid", "1", "-e", "a:b", "-b", "65537"})), "\"65537\""));
    CHECK(contains(error_of(parse_event_args({"--pid", "1", "-e", "a:b", "-f", "x", "==", "1)", "||", "(1"})),
                   "-f for -e a:b: invalid filter"));
}

TEST_CASE("ftrace args: events are selected by name or glob; typos and empty globs name the pattern", "[unit]") {
    auto available = parse_available_events(
        "sched:sched_process_exec\nsched:sched_process_exit\nsched:sched_process_fork\nsched:sched_switch\n"
        "signal:signal_generate\nsignal:signal_deliver\noom:mark_victim\nnot a line\n");
    REQUIRE(available.size() == 7);

    auto picked = select_events({{"sched:sched_process_e*", "pid > 1"}, {"signal:*", ""}}, available);
    REQUIRE(picked);
    std::vector<std::string> names;
    for (const auto& s : *picked) names.push_back(s.event.system + ":" + s.event.name);
    CHECK(names == std::vector<std::string>{"sched:sched_process_exec", "sched:sched_process_exit",
                                            "signal:signal_deliver", "signal:signal_generate"});
    CHECK((*picked)[0].filter == "pid > 1");
    // The exiting task writes its own exit event: task scope. A signal's sender writes
    // signal_generate: scoped by its target.
    CHECK((*picked)[1].scope == EventScope::kTask);
    CHECK((*picked)[2].scope == EventScope::kTask);
    CHECK((*picked)[3].scope == EventScope::kTarget);
    CHECK(target_field({"oom", "mark_victim"}) == "pid");

    CHECK(contains(error_of(select_events({{"sched:sched_proces_exec", ""}}, available)),
                   "unknown event \"sched:sched_proces_exec\" (did you mean sched:sched_process_exec?)"));
    CHECK(contains(error_of(select_events({{"nosuch:thing", ""}}, available)), "unknown event \"nosuch:thing\""));
    CHECK(contains(error_of(select_events({{"irq:*", ""}}, available)), "\"irq:*\" matches no event"));
    CHECK(contains(error_of(select_events({{"sched", ""}}, available)), "expected SYSTEM:EVENT"));
    CHECK(contains(error_of(select_events({{"sched:*", "x == 1"}}, available)), "sched_process_fork"));
    CHECK(contains(error_of(select_events({{"signal:*", "sig == 1"}, {"signal:signal_deliver", ""}}, available)),
                   "with different filters"));
}

TEST_CASE("ftrace args: the trace_events description lists systems with their event counts", "[unit]") {
    auto lines = describe_events(parse_available_events("sched:a\nsched:b\nsignal:c\n"));
    CHECK(std::ranges::find(lines, "Events of this kernel (3 in 2 systems): SYSTEM (count): EVENT, ...") != lines.end());
    CHECK(std::ranges::find(lines, "sched (2): a, b") != lines.end());
    CHECK(std::ranges::find(lines, "signal (1): c") != lines.end());
    auto none = describe_events({});
    CHECK(contains(none.back(), "No events could be listed"));
}
