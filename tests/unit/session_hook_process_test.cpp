// HookProcess with real child processes (a shell script speaking the manager protocol): the
// watcher is the only reaper, stop() only signals through the pidfd, a hook that exits by itself
// is reported as its own exit, and a failed start is cleaned up while its PID is still the
// hook's. No root needed.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "tests/support/fixtures.h"
#include "tracer-node/hooks/hook_process.h"
#include "tracer-node/sessions/state_store.h"

using namespace ct;
using namespace ct::node;
using namespace std::chrono_literals;

namespace {

// A manager whose run does what CT_HOOK_MODE says.
constexpr const char* kManager = R"(#!/bin/sh
case "$CT_HOOK_MODE" in
  exit) echo /dev/null; exit 0 ;;
  exit-soon) echo /dev/null; i=0; while [ $i -lt $(( $$ % 200 )) ]; do i=$((i + 1)); done; exit 0 ;;
  reject) echo "unknown option -x" >&2; exit 2 ;;
  silent) exec sleep 30 ;;
  stubborn) trap '' INT; echo /dev/null; while :; do sleep 0.05; done ;;
  run) echo /dev/null; exec sleep 30 ;;
esac
exit 1
)";

struct Manager {
    test::TempDir dir{"ct-hook-process"};
    HookInfo info;
    Manager() {
        auto path = dir.path() / "manager";
        std::ofstream(path) << kManager;
        std::filesystem::permissions(path, std::filesystem::perms::owner_all);
        info = HookInfo{"unit_hook", {}, path.string(), "unit"};
    }
    Result<std::unique_ptr<HookProcess>> start(const std::string& mode, HookStartOptions options = {}) {
        return HookProcess::start(info, {::getpid()}, {"-s", "getppid"}, {"CT_HOOK_MODE=" + mode}, std::move(options));
    }
};

// spdlog's output while it lives.
class LogCapture {
public:
    LogCapture() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    std::string text() {
        spdlog::default_logger()->flush();
        return out_.str();
    }

private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream out_;
};

// True when `pid` is a child of ours not reaped yet (a zombie) — or still running.
bool unreaped_child(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

char state_of(pid_t pid) {
    auto stat = read_process_stat("/proc", pid);
    return stat ? stat->state : '?';
}

}  // namespace

TEST_CASE("HookProcess: stop racing with a hook that exits by itself, many times", "[unit][hooks]") {
    Manager m;
    constexpr int kRounds = 200;
    for (int i = 0; i < kRounds; ++i) {
        std::atomic<int> exits{0};
        auto hook = m.start("exit-soon", {.on_exit = [&](ExitStatus) { ++exits; }});
        REQUIRE(hook);
        pid_t pid = (*hook)->pid();
        // Two threads stop it while it exits by itself; both see the one exit.
        ExitStatus a, b;
        std::thread other([&] { a = (*hook)->stop(2s); });
        b = (*hook)->stop(2s);
        other.join();
        CHECK(a.code == b.code);
        CHECK(a.signal == b.signal);
        REQUIRE((*hook)->exit_status());
        hook->reset();      // joins the watcher
        CHECK(exits == 1);  // reported once, by the watcher
        CHECK_FALSE(unreaped_child(pid));  // reaped, by exactly one waiter (no ECHILD surprise)
    }
}

TEST_CASE("HookProcess: a hook that exits by itself is reaped at once and reported as its own exit",
          "[unit][hooks]") {
    Manager m;
    LogCapture log;
    std::atomic<bool> exited{false};
    auto hook = m.start("exit", {.on_exit = [&](ExitStatus s) { exited = s.code == 0; }});
    REQUIRE(hook);
    pid_t pid = (*hook)->pid();
    for (int i = 0; i < 1000 && !exited; ++i) std::this_thread::sleep_for(5ms);
    CHECK(exited);
    CHECK_FALSE(unreaped_child(pid));
    auto status = (*hook)->stop(2s);  // after the fact: no signal, the hook's own exit
    CHECK(status.code == 0);
    CHECK(status.signal == 0);
    hook->reset();
    CHECK_THAT(log.text(), Catch::Contains(fmt::format("trace hook pid {} exited with code 0", pid)));
    CHECK_THAT(log.text(), !Catch::Contains("ignored SIGINT"));
}

TEST_CASE("HookProcess: a rejected start reports the hook's own exit, cleaned up before it is reaped",
          "[unit][hooks]") {
    Manager m;
    LogCapture log;
    pid_t cleaned = 0;
    char state_when_cleaned = '?';
    bool unreaped_when_cleaned = false;
    auto started_at = std::chrono::steady_clock::now();
    auto hook = m.start("reject", {.stop_grace = 2s, .clean_up_failed = [&](pid_t pid) {
                                       cleaned = pid;
                                       state_when_cleaned = state_of(pid);
                                       unreaped_when_cleaned = unreaped_child(pid);
                                   }});
    auto took = std::chrono::steady_clock::now() - started_at;
    REQUIRE_FALSE(hook);
    CHECK(hook.error().code == Errc::kInvalidArgument);
    CHECK_THAT(hook.error().message, Catch::Contains("exited with code 2") && Catch::Contains("unknown option -x"));
    REQUIRE(cleaned > 0);
    CHECK(state_when_cleaned == 'Z');  // exited, and its PID still its own
    CHECK(unreaped_when_cleaned);
    CHECK_FALSE(unreaped_child(cleaned));  // and reaped before start() returned
    CHECK_THAT(log.text(), Catch::Contains(fmt::format("trace hook pid {} exited with code 2", cleaned)));
    // It had exited: no signal, no grace period waited out (it once took a fixed 2 s).
    CHECK_THAT(log.text(), !Catch::Contains("ignored SIGINT"));
    INFO("the failed start took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

TEST_CASE("HookProcess: a start that times out stops the hook and cleans up before reaping it", "[unit][hooks]") {
    Manager m;
    pid_t cleaned = 0;
    char state_when_cleaned = '?';
    bool exit_reported = false;
    auto hook = m.start("silent", {.start_timeout = 300ms,
                                   .stop_grace = 2s,
                                   .on_exit = [&](ExitStatus) { exit_reported = true; },
                                   .clean_up_failed = [&](pid_t pid) {
                                       cleaned = pid;
                                       state_when_cleaned = state_of(pid);
                                   }});
    REQUIRE_FALSE(hook);
    CHECK(hook.error().code == Errc::kTimeout);
    CHECK_THAT(hook.error().message, Catch::Contains("no trace path within 300 ms"));
    REQUIRE(cleaned > 0);
    CHECK(state_when_cleaned == 'Z');
    CHECK_FALSE(unreaped_child(cleaned));
    CHECK_FALSE(exit_reported);  // it never started: on_exit is for started hooks
}

TEST_CASE("HookProcess: a hook that ignores SIGINT is killed after the grace", "[unit][hooks]") {
    Manager m;
    LogCapture log;
    auto hook = m.start("stubborn");
    REQUIRE(hook);
    pid_t pid = (*hook)->pid();
    std::this_thread::sleep_for(100ms);  // let the shell install its trap
    auto status = (*hook)->stop(300ms);
    CHECK(status.signal == SIGKILL);
    CHECK_FALSE(unreaped_child(pid));
    CHECK_THAT(log.text(), Catch::Contains(fmt::format("trace hook pid {} ignored SIGINT for 300 ms: killed", pid)));
}

TEST_CASE("HookProcess: a running hook stops on SIGINT through its pidfd", "[unit][hooks]") {
    Manager m;
    auto hook = m.start("run");
    REQUIRE(hook);
    CHECK((*hook)->trace_path() == "/dev/null");
    CHECK((*hook)->output_lines() == std::vector<std::string>{"/dev/null"});
    CHECK_FALSE((*hook)->exit_status());
    auto status = (*hook)->stop(2s);
    CHECK(status.signal == SIGINT);
}
