#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>

#include "common/subprocess.h"

using namespace ct;
using namespace std::chrono_literals;

TEST_CASE("run_capture collects stdout, stderr and the exit code", "[unit]") {
    auto r = run_capture({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}}, 5s);
    REQUIRE(r);
    CHECK(r->out == "out\n");
    CHECK(r->err == "err\n");
    CHECK(r->status.code == 3);
    CHECK(r->status.describe() == "exited with code 3");
}

TEST_CASE("run_capture passes extra environment without a shell", "[unit]") {
    auto r = run_capture({.argv = {"printenv", "CT_TEST_VAR"}, .extra_env = {"CT_TEST_VAR=a b;c"}}, 5s);
    REQUIRE(r);
    CHECK(r->out == "a b;c\n");
}

TEST_CASE("run_capture kills a command that outlives its timeout", "[unit]") {
    auto r = run_capture({.argv = {"sleep", "30"}}, 200ms);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kTimeout);
}

TEST_CASE("spawn of a missing executable names it", "[unit]") {
    auto p = Subprocess::spawn({.argv = {"/nonexistent/ct-missing"}});
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::kNotFound);
    CHECK(p.error().message.find("/nonexistent/ct-missing") != std::string::npos);
}

TEST_CASE("stop escalates to SIGKILL for a child that ignores SIGINT, and reaps it", "[unit]") {
    auto p = Subprocess::spawn({.argv = {"sh", "-c", "trap '' INT; echo ready; sleep 30"}, .capture_stderr = false});
    REQUIRE(p);
    char buf[16];
    REQUIRE(::read(p->stdout_fd(), buf, sizeof buf) > 0);  // the trap is installed
    pid_t pid = p->pid();
    auto status = p->stop(300ms, SIGINT);
    CHECK(status.signal == SIGKILL);
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
}

TEST_CASE("destroying a Subprocess stops its child", "[unit]") {
    pid_t pid = 0;
    {
        auto p = Subprocess::spawn({.argv = {"sleep", "30"}});
        REQUIRE(p);
        pid = p->pid();
        CHECK(p->running());
    }
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
}
