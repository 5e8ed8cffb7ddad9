// The pure half of tracer-node's ftrace instance module (capture/ftrace_instance.h): names and
// prefixes, paths, per-CPU stats and set_event texts; removal on plain directories.
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/support/fixtures.h"
#include "tracer-node/capture/ftrace_instance.h"

namespace {

using namespace ct::node;

TEST_CASE("an agent's instance prefix is ctrace_ and its hex tag", "[unit]") {
    CHECK(ftrace::instance_prefix("0badf00d").value() == "ctrace_0badf00d_");
    CHECK(ftrace::manager_prefix("ctrace_0badf00d_", 4242) == "ctrace_0badf00d_4242_");
    for (const char* bad : {"", "0BADF00D", "probe", "../x", "0123456789abcdef0", "ab_cd"}) {
        INFO(bad);
        auto prefix = ftrace::instance_prefix(bad);
        REQUIRE_FALSE(prefix);
        CHECK(prefix.error().code == ct::Errc::kInvalidArgument);
        CHECK(prefix.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
    }
}

TEST_CASE("instance paths", "[unit]") {
    CHECK(ftrace::tracing_dir_of("/sys/kernel/tracing/instances/ctrace_1_ab") == "/sys/kernel/tracing");
    CHECK(ftrace::instance_dir_of("/sys/kernel/tracing/instances/x/trace_pipe") == "/sys/kernel/tracing/instances/x");
    CHECK(ftrace::instance_dir_of("/sys/kernel/tracing/trace_pipe").empty());  // the top-level buffer
    CHECK(ftrace::instance_dir_of("/tmp/trace.txt").empty());
    CHECK(ftrace::tracing_dir_under("/host/sys") == "/host/sys/kernel/tracing");
}

TEST_CASE("per-CPU stats texts", "[unit]") {
    auto stats = ftrace::parse_cpu_stats(
        "entries: 12\noverrun: 3\ncommit overrun: 0\nbytes: 4096\ndropped events: 7\nread events: 9\n");
    CHECK(stats.entries == 12u);
    CHECK(stats.overrun == 3u);
    CHECK(stats.dropped == 7u);
    auto partial = ftrace::parse_cpu_stats("overrun: 3\n");
    CHECK_FALSE(partial.entries);
    CHECK(partial.overrun == 3u);
    CHECK(ftrace::parse_cpu_stats("").dropped == 0u);
}

TEST_CASE("only the events an instance enabled are loaded", "[unit]") {
    using Events = std::vector<std::pair<std::string, std::string>>;
    CHECK(ftrace::enabled_events("syscalls:sys_enter_getppid\nsyscalls:sys_exit_getppid\nsched:sched_process_fork\n") ==
          Events{{"syscalls", "sys_enter_getppid"}, {"syscalls", "sys_exit_getppid"}, {"sched", "sched_process_fork"}});
    CHECK(ftrace::enabled_events("raw_syscalls:sys_enter") == Events{{"raw_syscalls", "sys_enter"}});
    CHECK(ftrace::enabled_events("").empty());  // nothing enabled: the caller loads every format
    CHECK(ftrace::enabled_events("garbage\n:x\nx:\n").empty());
    // Names become paths under events/.
    CHECK(ftrace::enabled_events("../x:y\nx:..\nx:a/b\nok:e\n") == Events{{"ok", "e"}});
}

TEST_CASE("removing instances by prefix refuses anything but an agent's own prefix", "[unit]") {
    for (const char* bad : {"", "ctrace_", "ctrac", "other_"}) {
        INFO(bad);
        auto removed = ftrace::remove_all("/nonexistent", bad, std::chrono::milliseconds(0));
        REQUIRE_FALSE(removed);
        CHECK(removed.error().code == ct::Errc::kInvalidArgument);
    }
}

TEST_CASE("a run's instances: the main one, then its trace_events companion when it exists", "[unit]") {
    ct::test::TempDir tracing("ct-ftrace-run");
    const auto main_dir = (tracing.path() / "ctrace_0123abcd_42_00ff").string();
    std::filesystem::create_directory(main_dir);
    std::filesystem::create_directory(main_dir + "_x");  // a name alike, not the companion
    CHECK(ftrace::run_instances(main_dir) == std::vector<std::string>{main_dir});
    std::filesystem::create_directory(main_dir + "_t");
    CHECK(ftrace::run_instances(main_dir) == std::vector<std::string>{main_dir, main_dir + "_t"});
}

TEST_CASE("removing an instance removes its trace_events companion, and nothing else", "[unit]") {
    // Plain directories stand in for the instances: remove() only writes tracing_on and rmdirs.
    ct::test::TempDir tracing("ct-ftrace-remove");
    const auto main_dir = tracing.path() / "ctrace_0123abcd_42_00ff";
    const auto companion = tracing.path() / "ctrace_0123abcd_42_00ff_t";
    const auto sibling = tracing.path() / "ctrace_0123abcd_42_00ff_x";
    for (const auto& d : {main_dir, companion, sibling}) std::filesystem::create_directory(d);
    REQUIRE(ftrace::remove(main_dir.string(), std::chrono::milliseconds(0)));
    CHECK_FALSE(std::filesystem::exists(main_dir));
    CHECK_FALSE(std::filesystem::exists(companion));
    CHECK(std::filesystem::exists(sibling));
    // Without a companion, and when already gone.
    REQUIRE(ftrace::remove(sibling.string(), std::chrono::milliseconds(0)));
    CHECK_FALSE(std::filesystem::exists(sibling));
    CHECK(ftrace::remove(main_dir.string(), std::chrono::milliseconds(0)));
}

}  // namespace
