#include <catch2/catch.hpp>

#include "tracer-node/capture/trace_line_parse.h"

using ct::node::parse_trace_line;

TEST_CASE("a syscall enter line becomes sys_enter_<name> with its arguments", "[unit]") {
    auto e = parse_trace_line(
        "         python3-11730   [000] .....  1333.693007: sys_openat(dfd: 0xffffff9c, filename: 0x7f005fc2b0b1, "
        "flags: 0x80000, mode: 0)");
    REQUIRE(e);
    CHECK(e->comm == "python3");
    CHECK(e->pid == 11730);
    CHECK(e->cpu == 0);
    CHECK(e->timestamp_ns == 1333693007000ULL);
    CHECK(e->event == "sys_enter_openat");
    CHECK(e->fields.at("args").at("dfd").as_string() == "0xffffff9c");
    CHECK(e->fields.at("args").at("mode").as_string() == "0");
}

TEST_CASE("a syscall exit line becomes sys_exit_<name> with a signed return value", "[unit]") {
    auto e = parse_trace_line("         python3-6790    [001] .....   611.548041: sys_getppid -> 0x1a84");
    REQUIRE(e);
    CHECK(e->event == "sys_exit_getppid");
    CHECK(e->fields.at("ret").as_int64() == 0x1a84);
    auto err = parse_trace_line("  cat-7 [001] ..... 1.000001: sys_openat -> 0xfffffffffffffffe");
    REQUIRE(err);
    CHECK(err->fields.at("ret").as_int64() == -2);
}

TEST_CASE("an enter without arguments has no args field", "[unit]") {
    auto e = parse_trace_line("         python3-6790    [001] .....   611.548018: sys_getppid()");
    REQUIRE(e);
    CHECK(e->event == "sys_enter_getppid");
    CHECK_FALSE(e->fields.contains("args"));
}

TEST_CASE("task names with spaces and dashes keep their pid", "[unit]") {
    auto e = parse_trace_line("  kworker/u4:1-my task-42  [001] d..2. 5.5: sched_switch: prev_comm=a prev_pid=1");
    REQUIRE(e);
    CHECK(e->comm == "kworker/u4:1-my task");
    CHECK(e->pid == 42);
    CHECK(e->event == "sched_switch");
    CHECK(e->details == "prev_comm=a prev_pid=1");
    CHECK(e->timestamp_ns == 5500000000ULL);
}

TEST_CASE("lines that are not events are skipped", "[unit]") {
    CHECK_FALSE(parse_trace_line(""));
    CHECK_FALSE(parse_trace_line("# tracer: nop"));
    CHECK_FALSE(parse_trace_line("CPU:1 [LOST 42 EVENTS]"));
    CHECK_FALSE(parse_trace_line("garbage without structure"));
    CHECK_FALSE(parse_trace_line("  a-1 [000] ..... notatime: x: y"));
}

TEST_CASE("fork and exec events name new processes", "[unit]") {
    auto fork = parse_trace_line("  sh-10 [000] ..... 1.5: sched_process_fork: comm=sh pid=10 child_comm=sh child_pid=11");
    REQUIRE(fork);
    auto f = ct::node::process_change(*fork);
    REQUIRE(f);
    CHECK(f->kind == ct::node::ProcessChange::kFork);
    CHECK(f->pid == 11);
    CHECK(f->comm == "sh");
    auto exec = parse_trace_line(
        "  sh-11 [001] ..... 1.6: sched_process_exec: filename=/work/build/bench/getppid_loop_static_long pid=11 old_pid=11");
    REQUIRE(exec);
    auto x = ct::node::process_change(*exec);
    REQUIRE(x);
    CHECK(x->kind == ct::node::ProcessChange::kExec);
    CHECK(x->pid == 11);
    CHECK(x->comm == "getppid_loop_st");  // the kernel's 15-character comm
    auto other = parse_trace_line("  sh-11 [001] ..... 1.7: sys_getppid()");
    REQUIRE(other);
    CHECK_FALSE(ct::node::process_change(*other));
}
