// StateStore on a real temporary directory: atomic saves, loading, corrupt files moved aside, the
// directory lock, and the start-up cleanup of a recorded hook process (a real child process).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "common/subprocess.h"
#include "tests/support/fixtures.h"
#include "tracer-node/sessions/state_store.h"

using namespace ct::node;
using ct::test::TempDir;
namespace fs = std::filesystem;

namespace {

SessionRecord record(SessionId id, bool running = false) {
    SessionRecord r;
    r.id = id;
    r.spec = {.pod = "pod-" + std::to_string(id), .container = "*", .hook = "trace_syscalls", .args = "-s getppid",
              .context = "ctx"};
    r.containers = {{"pod-" + std::to_string(id), {"main"}}};
    r.running = running;
    return r;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("state store: saved sessions load back, erase removes the file", "[unit][state]") {
    TempDir dir("ct-state");
    auto state_dir = dir.str() + "/nested/state";  // created with its parents
    auto store = StateStore::open(state_dir);
    REQUIRE(store);
    REQUIRE((*store)->save(record(7)));
    REQUIRE((*store)->save(record(3, true)));
    auto replaced = record(7, true);
    replaced.run = RunRecord{.hook_pid = 10, .hook_start_time = 20, .instance_dir = "/t/instances/ctrace_10_a"};
    REQUIRE((*store)->save(replaced));  // overwrites, leaves no temp file
    CHECK(names_in(state_dir) == std::vector<std::string>{"lock", "node-id", "session-3.json", "session-7.json"});

    auto loaded = (*store)->load();
    CHECK(loaded.moved_aside.empty());
    REQUIRE(loaded.sessions.size() == 2);
    CHECK(loaded.sessions[0].id == 3);
    CHECK(loaded.sessions[0].running);
    CHECK(loaded.sessions[1].id == 7);
    CHECK(loaded.sessions[1].run == replaced.run);

    REQUIRE((*store)->erase(7));
    REQUIRE((*store)->erase(7));  // already gone is fine
    auto after = (*store)->load();
    REQUIRE(after.sessions.size() == 1);
    CHECK(after.sessions[0].id == 3);
}

TEST_CASE("state store: unusable files are moved aside, the rest loads", "[unit][state]") {
    TempDir dir("ct-state");
    auto store = StateStore::open(dir.str());
    REQUIRE(store);
    REQUIRE((*store)->save(record(5)));
    write(dir.path() / "session-6.json", "{\"version\": 1, \"id\": \"6\", \"spec\": {");  // truncated
    write(dir.path() / "session-8.json", encode_session_record(record(9)));             // someone else's id
    write(dir.path() / "session-5.json.tmp", "half a write");                          // interrupted save
    write(dir.path() / "notes.txt", "not ours");

    auto loaded = (*store)->load();
    REQUIRE(loaded.sessions.size() == 1);
    CHECK(loaded.sessions[0].id == 5);
    REQUIRE(loaded.moved_aside.size() == 2);
    auto names = names_in(dir.path());
    CHECK(std::count_if(names.begin(), names.end(),
                        [](const auto& n) { return n.starts_with("session-6.json.corrupt-"); }) == 1);
    CHECK(std::count_if(names.begin(), names.end(),
                        [](const auto& n) { return n.starts_with("session-8.json.corrupt-"); }) == 1);
    CHECK(std::find(names.begin(), names.end(), "session-5.json.tmp") == names.end());
    CHECK(std::find(names.begin(), names.end(), "notes.txt") != names.end());
    // Moved aside for good: the next start loads cleanly.
    auto again = (*store)->load();
    CHECK(again.sessions.size() == 1);
    CHECK(again.moved_aside.empty());
}

TEST_CASE("state store: one agent per directory", "[unit][state]") {
    TempDir dir("ct-state");
    auto first = StateStore::open(dir.str());
    REQUIRE(first);
    auto second = StateStore::open(dir.str());
    REQUIRE_FALSE(second);
    CHECK(second.error().code == ct::Errc::kConflict);
    CHECK_THAT(second.error().message, Catch::Contains(dir.str()));
    first->reset();  // the lock goes with the store
    CHECK(StateStore::open(dir.str()));

    auto file = dir.path() / "a-file";
    write(file, "x");
    auto not_dir = StateStore::open(file.string());
    REQUIRE_FALSE(not_dir);
    CHECK_THAT(not_dir.error().message, Catch::Contains(file.string()));
}

TEST_CASE("state store: the agent keeps its tag across opens, and refuses a damaged one", "[unit][state]") {
    TempDir dir("ct-state");
    std::string tag;
    {
        auto store = StateStore::open(dir.str());
        REQUIRE(store);
        tag = (*store)->tag();
        CHECK(tag.size() == 8);
        CHECK(tag.find_first_not_of("0123456789abcdef") == std::string::npos);
    }
    auto again = StateStore::open(dir.str());
    REQUIRE(again);
    CHECK((*again)->tag() == tag);
    again->reset();

    TempDir other("ct-state");
    auto fresh = StateStore::open(other.str());
    REQUIRE(fresh);
    CHECK((*fresh)->tag() != tag);  // two agents, two identities (a 1 in 2^32 clash is not ours to test)
    fresh->reset();

    write(dir.path() / "node-id", "../../evil\n");
    auto damaged = StateStore::open(dir.str());
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().code == ct::Errc::kInvalidArgument);
    CHECK_THAT(damaged.error().message, Catch::Contains((dir.path() / "node-id").string()));
}

TEST_CASE("start-up cleanup kills a recorded hook only when its PID is still the same process", "[unit][state]") {
    auto child = ct::Subprocess::spawn({.argv = {"sleep", "1000"}, .capture_stdout = false, .capture_stderr = false});
    REQUIRE(child);
    auto stat = read_process_stat("/proc", child->pid());
    REQUIRE(stat);
    CHECK(stat->state != 'Z');

    SECTION("a different start time means the PID was reused: left alone") {
        REQUIRE(clean_up_run({.hook_pid = child->pid(), .hook_start_time = stat->start_time + 1}, "/proc"));
        CHECK(child->running());
    }
    SECTION("same process: SIGKILLed") {
        REQUIRE(clean_up_run({.hook_pid = child->pid(), .hook_start_time = stat->start_time}, "/proc"));
        auto status = child->wait_for(std::chrono::seconds(5));
        REQUIRE(status);
        CHECK(status->signal == SIGKILL);
    }
    SECTION("gone already: nothing to do") {
        child->stop(std::chrono::seconds(5), SIGKILL);
        CHECK(clean_up_run({.hook_pid = child->pid(), .hook_start_time = stat->start_time}, "/proc"));
    }
    CHECK_FALSE(read_process_stat("/proc", 0x3ffffff0));
}
