// SessionManager with fake discovery, hooks and captures (sessions/session_deps.h): the session
// life cycle, hooks that end by themselves, and that a run finishing slowly (a long drain) never
// holds up other sessions: requests on them answer, DELETE all finishes every run at once, and
// the janitor finishes another session's ended run meanwhile.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "tracer-node/sessions/session_manager.h"

using namespace ct;
using namespace ct::node;
using namespace std::chrono_literals;

namespace {

// Waits up to `limit` for `done`; false when it never came.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return done();
}

// Pods pod-a .. pod-d, one container "c" each, one process each.
class FakePods final : public PodSource {
public:
    FakePods() {
        Pid pid = 1000;
        for (auto name : {"pod-a", "pod-b", "pod-c", "pod-d"}) {
            auto& pod = pods_[name];
            pod.name = name;
            pod.containers["c"] = ContainerInfo{"c", name, "", "", {pid++}, {1}};
        }
    }
    Result<PodMap> refresh() override {
        std::lock_guard lock(mutex_);
        return pods_;
    }
    Result<std::vector<pid_t>> threads_of(const std::vector<pid_t>& tgids) override { return tgids; }
    std::optional<Owner> owner_of(pid_t) override { return std::nullopt; }
    void add_process(const std::string& pod, Pid pid) {
        std::lock_guard lock(mutex_);
        pods_[pod].containers["c"].tasks.push_back(pid);
    }

private:
    std::mutex mutex_;
    PodMap pods_;
};

// A hook that runs until stopped or told to end by itself. The test keeps its state after the
// run that owned the hook is gone.
struct HookState {
    pid_t pid = 0;
    std::string path;
    std::function<void(ExitStatus)> on_exit;
    mutable std::mutex mutex;
    std::optional<ExitStatus> exit;
    std::vector<std::string> errors;

    // Exits by itself with `code`, saying `why` on stderr.
    void end(int code, std::string why) {
        {
            std::lock_guard lock(mutex);
            if (exit) return;
            exit = ExitStatus{code, 0};
            errors = {std::move(why)};
        }
        on_exit(ExitStatus{code, 0});
    }
    std::optional<ExitStatus> exit_status() const {
        std::lock_guard lock(mutex);
        return exit;
    }
};

class FakeHook final : public RunningHook {
public:
    explicit FakeHook(std::shared_ptr<HookState> state) : state_(std::move(state)) {}
    pid_t pid() const override { return state_->pid; }
    const std::string& trace_path() const override { return state_->path; }
    std::vector<std::string> output_lines() const override { return {state_->path}; }
    std::vector<std::string> error_lines() const override {
        std::lock_guard lock(state_->mutex);
        return state_->errors;
    }
    std::optional<ExitStatus> exit_status() const override { return state_->exit_status(); }
    ExitStatus stop(std::chrono::milliseconds) override {
        std::lock_guard lock(state_->mutex);
        if (!state_->exit) state_->exit = ExitStatus{-1, SIGINT};
        return *state_->exit;
    }

private:
    std::shared_ptr<HookState> state_;
};

class FakeLauncher final : public HookLauncher {
public:
    Result<HookInfo> find(const std::string& name) override {
        if (name != "fake_hook") return fail(Errc::kNotFound, "unknown trace hook \"" + name + "\"");
        return HookInfo{name, {}, "/fake/manager", "fake"};
    }
    Result<std::unique_ptr<RunningHook>> start(const HookInfo&, const std::vector<pid_t>& tids,
                                               const std::vector<std::string>& args,
                                               HookStartOptions options) override {
        std::lock_guard lock(mutex_);
        last_tids = tids;
        last_args = args;
        if (refuse_next) {
            refuse_next = false;
            return fail(Errc::kInvalidArgument, "trace hook fake_hook failed to start (exited with code 2): bad -x");
        }
        auto state = std::make_shared<HookState>();
        state->pid = ++next_pid_;  // beyond pid_max: never a real process
        state->path = "/fake/trace-" + std::to_string(state->pid);
        state->on_exit = std::move(options.on_exit);
        started_.push_back(state);
        return std::unique_ptr<RunningHook>(std::make_unique<FakeHook>(state));
    }
    std::vector<std::string> clear_all() override {
        ++clears;
        return {};
    }
    std::shared_ptr<HookState> hook(size_t i) {
        std::lock_guard lock(mutex_);
        return started_.at(i);
    }
    size_t starts() {
        std::lock_guard lock(mutex_);
        return started_.size();
    }

    std::vector<pid_t> last_tids;
    std::vector<std::string> last_args;
    bool refuse_next = false;
    std::atomic<int> clears{0};

private:
    std::mutex mutex_;
    std::vector<std::shared_ptr<HookState>> started_;
    pid_t next_pid_ = 4000000;
};

// What the fake captures of all runs do and saw.
struct CaptureBoard {
    std::mutex mutex;
    std::condition_variable cv;
    std::set<SessionId> held;           // finish() of these sessions blocks until released
    std::map<SessionId, int> finishes;  // finish() calls per session
    int inside = 0, most_inside = 0;    // finish() calls running now / at most at once
    int entered = 0;                    // finish() calls so far
    int barrier = 0;                    // finish() waits (bounded) until this many have entered
    std::vector<std::vector<pid_t>> followed;
    bool refuse_open = false;
    std::vector<std::string> discarded;

    void release(SessionId id) {
        std::lock_guard lock(mutex);
        held.erase(id);
        cv.notify_all();
    }
    int finished(SessionId id) {
        std::lock_guard lock(mutex);
        return finishes[id];
    }
    bool finishing(SessionId id) {
        std::lock_guard lock(mutex);
        return finishes.contains(id) && held.contains(id);
    }
};

class FakeCapture final : public RunCapture {
public:
    FakeCapture(CaptureBoard& board, SessionId id) : board_(board), id_(id) {}
    CaptureStats stats() const override { return {.delivered = 7, .loss = {.overrun = 1}}; }
    Result<size_t> follow(const std::vector<pid_t>& tgids, const std::vector<ContainerRef>&) override {
        std::lock_guard lock(board_.mutex);
        board_.followed.push_back(tgids);
        return tgids.size();
    }
    void finish(const DrainLimits&) override {
        std::unique_lock lock(board_.mutex);
        board_.finishes[id_]++;
        board_.most_inside = std::max(board_.most_inside, ++board_.inside);
        ++board_.entered;
        board_.cv.notify_all();
        // Bounded: a manager that finishes runs one at a time makes the test fail, not hang.
        board_.cv.wait_for(lock, 5s, [&] { return board_.entered >= board_.barrier; });
        board_.cv.wait(lock, [&] { return !board_.held.contains(id_); });
        --board_.inside;
    }

private:
    CaptureBoard& board_;
    SessionId id_;
};

class FakeCaptures final : public CaptureFactory {
public:
    explicit FakeCaptures(CaptureBoard& board) : board_(board) {}
    Result<std::unique_ptr<RunCapture>> open(const RunCaptureRequest& r) override {
        std::lock_guard lock(board_.mutex);
        if (board_.refuse_open) return fail(Errc::kIo, "cannot open " + r.trace_path);
        return std::unique_ptr<RunCapture>(std::make_unique<FakeCapture>(board_, r.session));
    }
    void discard(const std::string& trace_path) override {
        std::lock_guard lock(board_.mutex);
        board_.discarded.push_back(trace_path);
    }

private:
    CaptureBoard& board_;
};

struct Fixture {
    FakePods pods;
    FakeLauncher hooks;
    CaptureBoard board;
    FakeCaptures captures{board};
    std::unique_ptr<SessionManager> sessions;

    explicit Fixture(size_t max_sessions = 16) {
        sessions = std::make_unique<SessionManager>(
            SessionManagerOptions{.node_name = "unit-node", .procfs_root = "/nonexistent-proc",
                                  .max_sessions = max_sessions},
            pods, hooks, captures, std::make_shared<ExporterSet>());
    }
    SessionId create(const std::string& pod, const std::string& args = "-s getppid") {
        auto v = sessions->create(SessionSpec{pod, "*", "fake_hook", args, "ctx"});
        REQUIRE(v);
        return v->id;
    }
    SessionView view(SessionId id) {
        auto v = sessions->get(id);
        REQUIRE(v);
        return *v;
    }
};

}  // namespace

TEST_CASE("sessions: create, start, stop and delete through the interfaces", "[unit][sessions]") {
    Fixture f;
    auto id = f.create("pod-[ab]");
    auto created = f.view(id);
    CHECK(created.containers == Selection{{"pod-a", {"c"}}, {"pod-b", {"c"}}});
    CHECK_FALSE(created.running);
    CHECK(created.node == "unit-node");

    REQUIRE(f.sessions->set_running(id, true));
    REQUIRE(f.sessions->set_running(id, true));  // idempotent: one hook
    CHECK(f.hooks.starts() == 1);
    CHECK(f.hooks.last_tids == std::vector<pid_t>{1000, 1001});
    CHECK(f.hooks.last_args == std::vector<std::string>{"-s", "getppid"});
    auto running = f.view(id);
    CHECK(running.running);
    REQUIRE(running.output);
    CHECK(running.output->front().starts_with("/fake/trace-"));
    CHECK(running.stats.delivered == 7);  // the live capture's counts

    REQUIRE(f.sessions->set_running(id, false));
    REQUIRE(f.sessions->set_running(id, false));
    CHECK(f.board.finished(id) == 1);
    auto stopped = f.view(id);
    CHECK_FALSE(stopped.running);
    CHECK_FALSE(stopped.error);
    CHECK(stopped.stats.runs == 1);
    CHECK(stopped.stats.delivered == 7);
    CHECK(stopped.stats.lost == 1);

    REQUIRE(f.sessions->remove(id));
    CHECK(f.sessions->get(id).error().code == Errc::kNotFound);
    CHECK(f.sessions->set_running(id, true).error().code == Errc::kNotFound);
    CHECK(f.sessions->remove(id).error().code == Errc::kNotFound);

    CHECK(f.sessions->create(SessionSpec{"nomatch*", "*", "fake_hook", "", ""}).error().code == Errc::kNotFound);
    CHECK(f.sessions->create(SessionSpec{"pod-a", "*", "other_hook", "", ""}).error().code == Errc::kNotFound);
}

TEST_CASE("sessions: past max_sessions a create answers too many", "[unit][sessions]") {
    Fixture f(2);
    f.create("pod-a");
    f.create("pod-b");
    auto third = f.sessions->create(SessionSpec{"pod-c", "*", "fake_hook", "", ""});
    REQUIRE_FALSE(third);
    CHECK(third.error().code == Errc::kTooMany);
    CHECK(f.sessions->counts().sessions == 2);
}

TEST_CASE("sessions: a failed start keeps the reason and runs nothing", "[unit][sessions]") {
    Fixture f;
    auto id = f.create("pod-a");
    f.hooks.refuse_next = true;
    auto refused = f.sessions->set_running(id, true);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::kInvalidArgument);
    auto v = f.view(id);
    CHECK_FALSE(v.running);
    REQUIRE(v.error);
    CHECK_THAT(v.error->front(), Catch::Contains("bad -x"));

    // The capture cannot open: the hook is stopped and what it left is discarded.
    f.board.refuse_open = true;
    REQUIRE_FALSE(f.sessions->set_running(id, true));
    REQUIRE(f.hooks.starts() == 1);
    CHECK(f.hooks.hook(0)->exit_status());
    CHECK(f.board.discarded == std::vector<std::string>{f.hooks.hook(0)->path});
    CHECK_FALSE(f.view(id).running);
}

TEST_CASE("sessions: a hook that ends by itself is finished and can be started again", "[unit][sessions]") {
    Fixture f;
    auto id = f.create("pod-a");
    REQUIRE(f.sessions->set_running(id, true));
    f.hooks.hook(0)->end(3, "boom: the hook crashed");
    // Shown at once, before the janitor has finished the run.
    CHECK_FALSE(f.view(id).running);
    CHECK(eventually([&] { return f.board.finished(id) == 1; }));
    auto v = f.view(id);
    CHECK_FALSE(v.running);
    REQUIRE(v.error);
    CHECK(*v.error == std::vector<std::string>{"boom: the hook crashed"});
    REQUIRE(v.output);
    REQUIRE(f.sessions->set_running(id, true));
    CHECK(f.view(id).running);
    CHECK(f.view(id).stats.runs == 2);
    CHECK_FALSE(f.view(id).error);
}

TEST_CASE("sessions: a running session follows processes that join its containers", "[unit][sessions]") {
    Fixture f;
    auto id = f.create("pod-a");
    REQUIRE(f.sessions->set_running(id, true));
    f.pods.add_process("pod-a", 2000);
    CHECK(eventually([&] {
        std::lock_guard lock(f.board.mutex);
        return !f.board.followed.empty();
    }));
    std::lock_guard lock(f.board.mutex);
    CHECK(f.board.followed.front() == std::vector<pid_t>{2000});
}

TEST_CASE("sessions: concurrent requests on another session answer while one run drains slowly",
          "[unit][sessions]") {
    Fixture f;
    auto slow = f.create("pod-a");
    REQUIRE(f.sessions->set_running(slow, true));
    {
        std::lock_guard lock(f.board.mutex);
        f.board.held.insert(slow);
    }
    auto stopping = std::async(std::launch::async, [&] { return f.sessions->set_running(slow, false); });
    REQUIRE(eventually([&] { return f.board.finishing(slow); }));

    // Everything on another session, and the listing, while `slow` is still inside its drain.
    auto others = std::async(std::launch::async, [&] {
        auto other = f.sessions->create(SessionSpec{"pod-b", "*", "fake_hook", "", ""});
        if (!other) return std::string("create: ") + other.error().message;
        if (!f.sessions->set_running(other->id, true)) return std::string("start");
        if (!f.sessions->get(other->id) || !f.sessions->get(slow)) return std::string("get");
        if (f.sessions->list().size() != 2) return std::string("list");
        if (!f.sessions->set_running(other->id, false)) return std::string("stop");
        if (!f.sessions->remove(other->id)) return std::string("delete");
        return std::string("ok");
    });
    bool answered = others.wait_for(5s) == std::future_status::ready;
    CHECK(answered);
    CHECK(f.board.finishing(slow));  // all of it happened during the slow drain
    f.board.release(slow);
    CHECK(stopping.get());
    CHECK(others.get() == "ok");
    CHECK_FALSE(f.view(slow).running);
}

TEST_CASE("sessions: DELETE all finishes every run at once", "[unit][sessions]") {
    Fixture f;
    std::vector<SessionId> ids;
    for (auto pod : {"pod-a", "pod-b", "pod-c"}) {
        ids.push_back(f.create(pod));
        REQUIRE(f.sessions->set_running(ids.back(), true));
    }
    f.create("pod-d");  // not running
    {
        std::lock_guard lock(f.board.mutex);
        f.board.barrier = static_cast<int>(ids.size());  // each finish waits for the others to be inside too
    }
    REQUIRE(f.sessions->remove_all());
    CHECK(f.board.most_inside == 3);
    for (auto id : ids) CHECK(f.board.finished(id) == 1);
    CHECK(f.sessions->list().empty());
    CHECK(f.hooks.clears == 1);
}

TEST_CASE("sessions: the janitor finishes a run that ended while another's drain is stuck", "[unit][sessions]") {
    Fixture f;
    auto stuck = f.create("pod-a"), other = f.create("pod-b"), idle = f.create("pod-c");
    REQUIRE(f.sessions->set_running(stuck, true));
    REQUIRE(f.sessions->set_running(other, true));
    {
        std::lock_guard lock(f.board.mutex);
        f.board.held.insert(stuck);
    }
    f.hooks.hook(0)->end(0, "done");
    REQUIRE(eventually([&] { return f.board.finishing(stuck); }));

    f.hooks.hook(1)->end(0, "done too");
    // Finished by the janitor while `stuck` is still draining, and requests still answer.
    bool finished = eventually([&] { return f.board.finished(other) == 1; }, 5s);
    CHECK(finished);
    CHECK(f.sessions->set_running(idle, true));
    CHECK(f.view(idle).running);
    CHECK(f.board.finishing(stuck));
    f.board.release(stuck);
    CHECK(eventually([&] { return f.board.finished(stuck) == 1 && !f.board.finishing(stuck); }));
}

TEST_CASE("sessions: destroying the manager stops every run", "[unit][sessions]") {
    Fixture f;
    auto a = f.create("pod-a"), b = f.create("pod-b");
    REQUIRE(f.sessions->set_running(a, true));
    REQUIRE(f.sessions->set_running(b, true));
    f.sessions.reset();
    CHECK(f.board.finished(a) == 1);
    CHECK(f.board.finished(b) == 1);
}
