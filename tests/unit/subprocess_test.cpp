#include <catch2/catch.hpp>

#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

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

TEST_CASE("peek_exit tells how a child ended without reaping it", "[unit]") {
    auto p = Subprocess::spawn({.argv = {"sh", "-c", "exit 5"}});
    REQUIRE(p);
    REQUIRE(p->pidfd() >= 0);
    pollfd pfd{p->pidfd(), POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, 10000) == 1);
    CHECK(pidfd_exited(p->pidfd()));
    auto peeked = p->peek_exit();
    REQUIRE(peeked);
    CHECK(peeked->code == 5);
    // Still a zombie: its PID is not free for reuse yet.
    std::string stat;
    std::getline(std::ifstream("/proc/" + std::to_string(p->pid()) + "/stat"), stat);
    CHECK(stat.substr(stat.rfind(')') + 2, 1) == "Z");
    CHECK(p->wait().code == 5);
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(p->pid())));
}

TEST_CASE("signals through a pidfd never reach anything once the child is reaped", "[unit]") {
    auto p = Subprocess::spawn({.argv = {"sleep", "30"}});
    REQUIRE(p);
    FD pidfd(::dup(p->pidfd()));
    CHECK_FALSE(pidfd_exited(pidfd.get()));
    CHECK(signal_pidfd(pidfd.get(), SIGTERM));
    CHECK(p->wait().signal == SIGTERM);
    // Reaped: its PID may belong to someone else now, the pidfd still names the dead child.
    CHECK(pidfd_exited(pidfd.get()));
    CHECK_FALSE(signal_pidfd(pidfd.get(), SIGKILL));
}
