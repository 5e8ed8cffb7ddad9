#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tracer-node/capture/trace_line_parse.h"

using ct::node::TextEventTypes;
using ct::node::TraceEvent;

namespace {

TextEventTypes types;  // one table for the file: the events of every test point into it

std::optional<TraceEvent> parse_trace_line(std::string_view line) { return ct::node::parse_trace_line(line, types); }

// The event's "fields" member as the JSON writer exports it ({} when it has none).
boost::json::object fields_of(const TraceEvent& e) {
    std::string line;
    ct::node::EventJsonWriter(ct::node::EventContext{}).append(line, e, nullptr);
    auto o = boost::json::parse(line).as_object();
    return o.contains("fields") ? o.at("fields").as_object() : boost::json::object{};
}

}  // namespace

TEST_CASE("a syscall enter line becomes sys_enter_<name> with its arguments", "[unit]") {
    auto e = parse_trace_line(
        "         python3-11730   [000] .....  1333.693007: sys_openat(dfd: 0xffffff9c, filename: 0x7f005fc2b0b1, "
        "flags: 0x80000, mode: 0)");
    REQUIRE(e);
    CHECK(e->comm == "python3");
    CHECK(e->pid == 11730);
    CHECK(e->cpu == 0);
    CHECK(e->timestamp_ns == 1333693007000ULL);
    CHECK(e->name() == "sys_enter_openat");
    CHECK(fields_of(*e).at("args").at("dfd").as_string() == "0xffffff9c");
    CHECK(fields_of(*e).at("args").at("mode").as_string() == "0");
    CHECK(e->details() == "dfd: 0xffffff9c, filename: 0x7f005fc2b0b1, flags: 0x80000, mode: 0");
}

TEST_CASE("a syscall exit line becomes sys_exit_<name> with a signed return value", "[unit]") {
    auto e = parse_trace_line("         python3-6790    [001] .....   611.548041: sys_getppid -> 0x1a84");
    REQUIRE(e);
    CHECK(e->name() == "sys_exit_getppid");
    CHECK(fields_of(*e).at("ret").as_int64() == 0x1a84);
    CHECK(e->details() == "0x1a84");
    auto err = parse_trace_line("  cat-7 [001] ..... 1.000001: sys_openat -> 0xfffffffffffffffe");
    REQUIRE(err);
    CHECK(fields_of(*err).at("ret").as_int64() == -2);
}

TEST_CASE("an enter without arguments has no args field", "[unit]") {
    auto e = parse_trace_line("         python3-6790    [001] .....   611.548018: sys_getppid()");
    REQUIRE(e);
    CHECK(e->name() == "sys_enter_getppid");
    CHECK_FALSE(fields_of(*e).contains("args"));
}

TEST_CASE("task names with spaces and dashes keep their pid", "[unit]") {
    auto e = parse_trace_line("  kworker/u4:1-my task-42  [001] d..2. 5.5: sched_switch: prev_comm=a prev_pid=1");
    REQUIRE(e);
    CHECK(e->comm == "kworker/u4:1-my task");
    CHECK(e->pid == 42);
    CHECK(e->name() == "sched_switch");
    CHECK(e->details() == "prev_comm=a prev_pid=1");
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
    auto exit = parse_trace_line("  sh-12 [001] ..... 1.8: sched_process_exit: comm=sh pid=12 prio=120 group_dead=true");
    REQUIRE(exit);
    auto gone = ct::node::process_change(*exit);
    REQUIRE(gone);
    CHECK(gone->kind == ct::node::ProcessChange::kExit);
    CHECK(gone->pid == 12);
}

TEST_CASE("one event type per name and field list, bounded", "[unit]") {
    TextEventTypes table;
    auto a = ct::node::parse_trace_line("  a-1 [000] ..... 1.0: sys_openat(dfd: 1)", table);
    auto b = ct::node::parse_trace_line("  a-1 [000] ..... 1.1: sys_openat(dfd: 2)", table);
    auto c = ct::node::parse_trace_line("  a-1 [000] ..... 1.2: sys_openat(dfd: 2, mode: 0)", table);
    REQUIRE((a && b && c));
    CHECK(a->type == b->type);
    CHECK(a->type != c->type);
    for (std::size_t i = 0; i < TextEventTypes::kMaxTypes; ++i)
        (void)ct::node::parse_trace_line(fmt::format("  a-1 [000] ..... 1.0: ev{}: x", i), table);
    CHECK_FALSE(ct::node::parse_trace_line("  a-1 [000] ..... 1.0: one_too_many: x", table));
    CHECK(ct::node::parse_trace_line("  a-1 [000] ..... 1.3: sys_openat(dfd: 3)", table));  // known kinds still parse
}
