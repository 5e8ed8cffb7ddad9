// --state-dir end to end: the real tracer-node is killed (SIGKILL, by PID) and restarted on the
// same state directory, with real ftrace through the shipped hook and unshare pods. Needs root.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"
#include "tests/support/fixtures.h"
#include "tracer-node/sessions/state_store.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;
using ct::node::RunRecord;
using ct::node::SessionRecord;

namespace {

json::object sessions_of(TracerNode& node) { return node.get_json("/v1/trace-session/all").as_object(); }

SessionRecord stored(const TempDir& state, const std::string& id) {
    auto path = state.path() / fmt::format("session-{}.json", id);
    std::ifstream in(path);
    REQUIRE(in);
    std::stringstream s;
    s << in.rdbuf();
    auto r = ct::node::decode_session_record(s.str());
    INFO(path << ": " << s.str());
    REQUIRE(r);
    return *r;
}

// Regular files only: the state dir also holds the recorder's "recordings" directory.
std::vector<std::string> files_in(const TempDir& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir.path()))
        if (e.is_regular_file()) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool alive_as(const RunRecord& run) {
    auto s = ct::node::read_process_stat("/proc", run.hook_pid);
    return s && s->start_time == run.hook_start_time && s->state != 'Z';
}

// Whatever a failed check leaves of the killed agent's run is removed with the product's own
// cleanup (hook by PID after checking its start time, instance by path): only what we made.
struct LeftoverGuard {
    RunRecord run;
    ~LeftoverGuard() {
        if (run.hook_pid > 0) (void)ct::node::clean_up_run(run, "/proc");
    }
};

size_t count_in_pod(TracerNode& node, const std::string& session) {
    size_t n = 0;
    for (const auto& e : node.events())
        if (e.at("event").as_string() == "sys_enter_getppid" && e.at("session").as_string() == session &&
            e.at("task").as_string() == "getppid_loop")
            ++n;
    return n;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("a SIGKILLed tracer-node restarts with the same sessions and removes what its dead run left",
          "[integration][root][persist]") {
    Pod traced("persist-traced-pod"), idle("persist-idle-pod");
    TempDir state("ct-persist-state");
    LeftoverGuard leftover;
    std::string running_id, idle_id;
    {
        TracerNode first({.state_dir = state.str()});
        running_id = first.create_session("persist-traced-pod", "*", "-s getppid", "trace_syscalls", "ctx-run");
        idle_id = first.create_session("persist-idle-pod", "*", "-s getppid", "trace_syscalls", "ctx-idle");
        first.run(running_id, true);
        CHECK_FALSE(stored(state, idle_id).running);
        auto record = stored(state, running_id);
        REQUIRE(record.running);
        REQUIRE(record.run);
        leftover.run = *record.run;
        CHECK(record.run->instance_dir.starts_with("/sys/kernel/tracing/instances/ctrace_"));
        CHECK(fs::exists(record.run->instance_dir));

        REQUIRE(first.process().send_signal(SIGKILL));
        CHECK(first.process().wait().signal == SIGKILL);
    }
    // Nobody stopped the hook cleanly: its ftrace instance is still there.
    CHECK(fs::exists(leftover.run.instance_dir));

    TracerNode second({.state_dir = state.str()});
    auto all = sessions_of(second);
    REQUIRE(all.size() == 2);
    REQUIRE(all.contains(running_id));
    REQUIRE(all.contains(idle_id));
    auto run = all.at(running_id).as_object();
    auto idle_view = all.at(idle_id).as_object();
    INFO(second.log());
    CHECK(run.at("Id") == running_id.c_str());
    CHECK(run.at("Running") == true);
    CHECK(run.at("Error").is_null());
    CHECK(run.at("Context") == "ctx-run");
    CHECK(run.at("TraceHook") == "trace_syscalls");
    CHECK(run.at("Containers").as_object().contains("persist-traced-pod"));
    CHECK(idle_view.at("Running") == false);
    CHECK(idle_view.at("Context") == "ctx-idle");
    CHECK(idle_view.at("Containers").as_object().contains("persist-idle-pod"));

    // The dead run's instance and hook are gone; the restarted run has its own.
    CHECK_FALSE(fs::exists(leftover.run.instance_dir));
    CHECK_FALSE(alive_as(leftover.run));
    auto restarted = stored(state, running_id);
    REQUIRE(restarted.run);
    CHECK(restarted.run->instance_dir != leftover.run.instance_dir);
    CHECK(fs::exists(restarted.run->instance_dir));
    REQUIRE(run.at("Output").is_array());
    CHECK(run.at("Output").as_array()[0] == (restarted.run->instance_dir + "/trace_pipe").c_str());

    // And it captures again.
    constexpr long kCalls = 1000;
    traced.exec(loop_command(kCalls));
    second.run(running_id, false);
    CHECK(count_in_pod(second, running_id) == kCalls);
    CHECK_FALSE(fs::exists(restarted.run->instance_dir));
    CHECK_FALSE(stored(state, running_id).running);

    // DELETE removes the stored session.
    REQUIRE(second.request("DELETE", "/v1/trace-session/" + idle_id).status == 200);
    CHECK(files_in(state) == std::vector<std::string>{"lock", "node-id", fmt::format("session-{}.json", running_id)});
    REQUIRE(second.request("DELETE", "/v1/trace-session/" + running_id).status == 200);
    CHECK(files_in(state) == std::vector<std::string>{"lock", "node-id"});
}

TEST_CASE("a cleanly stopped tracer-node restarts its running sessions", "[integration][root][persist]") {
    Pod traced("persist-term-pod");
    TempDir state("ct-persist-state");
    std::string id;
    {
        TracerNode first({.state_dir = state.str()});
        id = first.create_session("persist-term-pod", "*", "-s getppid");
        first.run(id, true);
    }  // SIGTERM: the run stops and its instance goes, the desired state stays "running"
    auto record = stored(state, id);
    CHECK(record.running);
    CHECK_FALSE(record.run);

    TracerNode second({.state_dir = state.str()});
    CHECK(sessions_of(second).at(id).at("Running") == true);
    traced.exec(loop_command(100));
    second.run(id, false);
    CHECK(count_in_pod(second, id) == 100);
}

TEST_CASE("unusable state does not stop the agent: corrupt files moved aside, gone containers reported",
          "[integration][root][persist]") {
    Pod pod("persist-corrupt-pod");
    TempDir state("ct-persist-state");
    write(state.path() / "session-123.json", R"({"version": 1, "id": "123", "spec": {"pod": )");
    SessionRecord gone{.id = 456,
                       .spec = {.pod = "persist-no-such-pod", .container = "*", .hook = "trace_syscalls"},
                       .containers = {{"persist-no-such-pod", {"persist-no-such-pod"}}},
                       .running = true};
    write(state.path() / "session-456.json", ct::node::encode_session_record(gone));
    SessionRecord fine{.id = 789,
                       .spec = {.pod = "persist-corrupt-pod", .container = "*", .hook = "trace_syscalls"},
                       .containers = {{"persist-corrupt-pod", {"persist-corrupt-pod"}}},
                       .running = false};
    write(state.path() / "session-789.json", ct::node::encode_session_record(fine));

    TracerNode node({.state_dir = state.str()});
    auto all = sessions_of(node);
    INFO(node.log());
    CHECK_FALSE(all.contains("123"));
    REQUIRE(all.contains("456"));
    REQUIRE(all.contains("789"));
    CHECK(all.at("789").at("Running") == false);
    CHECK(all.at("789").at("Error").is_null());
    // Could not restart: not running, the reason shown, and still wanted for the next start.
    CHECK(all.at("456").at("Running") == false);
    REQUIRE(all.at("456").at("Error").is_array());
    CHECK_THAT(std::string(all.at("456").at("Error").as_array()[0].as_string()), Catch::Contains("running"));
    CHECK(stored(state, "456").running);

    auto files = files_in(state);
    CHECK(std::count_if(files.begin(), files.end(),
                        [](const auto& f) { return f.starts_with("session-123.json.corrupt-"); }) == 1);
    CHECK_THAT(node.log(), Catch::Contains((state.path() / "session-123.json").string()));

    // A second agent on the same directory refuses to start instead of fighting over it.
    auto other = ct::run_capture({.argv = {built("tracer-node/tracer-node"), "--address",
                                           fmt::format("127.0.0.1:{}", free_port()), "--use-procfs", "--trace-hooks",
                                           CT_HOOKS_DIR, "--state-dir", state.str()}},
                                 30s);
    REQUIRE(other);
    CHECK(other->status.code == 2);
    CHECK_THAT(other->err, Catch::Contains("in use by another tracer-node"));
}

// An instance named with a prefix: made by hand (mkdir) the way a hook would, removed by the test
// if the product did not.
struct MadeInstance {
    fs::path dir;
    explicit MadeInstance(const std::string& name) : dir(fs::path("/sys/kernel/tracing/instances") / name) {
        REQUIRE(fs::create_directory(dir));
    }
    ~MadeInstance() { ::rmdir(dir.c_str()); }
};

TEST_CASE("a restarted tracer-node removes every instance named as its own and no other",
          "[integration][root][persist]") {
    TempDir state("ct-state");
    std::string prefix;
    {
        TracerNode first({.state_dir = state.str()});
        prefix = first.instance_prefix();
    }
    // Left by a hook killed before its run was stored (its manager named it, nobody recorded it),
    // next to another agent's instance and a person's own probe.
    MadeInstance own(prefix + "999999_0123456789abcdef");
    MadeInstance other_agent(fmt::format("ctrace_0000beef_{}_0123456789abcdef", ::getpid()));
    MadeInstance probe(fmt::format("ctrace_probe_{}", ::getpid()));
    TracerNode second({.state_dir = state.str()});
    CHECK(second.instance_prefix() == prefix);  // the agent keeps its identity across restarts
    CHECK_FALSE(fs::exists(own.dir));
    CHECK(fs::exists(other_agent.dir));
    CHECK(fs::exists(probe.dir));
    CHECK_THAT(second.log(), Catch::Contains("left by a previous run of this agent"));
}
