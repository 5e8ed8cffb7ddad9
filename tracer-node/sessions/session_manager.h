// SessionManager: the one store of trace sessions and their runs (a hook plus its capture).
// Every public method is thread-safe. Operations on one session (start, stop, delete) are
// serialised by that session's own lock, and a run is finished (its hook stopped, its capture
// drained for up to the drain limits) holding that lock only: a slow drain never blocks
// requests on other sessions, DELETE all finishes every run at once, and the janitor hands
// each run that ended on its own to a thread of its own.
// The janitor thread, woken when a hook exits and once a second, finishes runs whose hook exited
// on its own (output kept, ftrace instance removed) and adds processes of containers that
// (re)started and match a running session's patterns to its run (RunCapture::follow).
// What it uses comes through the interfaces of session_deps.h (discovery, hooks, a run's
// capture); main.cpp wires the real ones (node_deps.h), unit tests fakes.
// A statistics hook's run (docs/hooks.md "Statistics hooks") has no capture: a StatsRun reads its
// snapshot file, refreshed by the janitor every tick and by statistics(); its final snapshot is
// kept with the session after the run ends (in memory, until the next run or deletion).
// Persistence (optional, options.state): every create, run change and delete is written to the
// StateStore under the session's op mutex; restore() brings the stored sessions back.
#pragma once

#include <atomic>
#include <functional>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tracer-node/export/exporter.h"
#include "tracer-node/sessions/session.h"
#include "tracer-node/sessions/session_deps.h"
#include "tracer-node/sessions/state_store.h"
#include "tracer-node/stats/stats_run.h"

namespace ct::node {

struct SessionManagerOptions {
    std::string node_name;
    std::string procfs_root = "/proc";  // hook start times, and what a crashed agent left
    std::string sysfs_root = "/sys";    // tracefs under kernel/tracing
    // This agent's ftrace instance name prefix, "ctrace_<tag>_" (capture/ftrace_instance.h): what
    // restore() removes as leftovers, and <prefix><hook pid>_* after a hook's failed start.
    // "" = remove nothing by name.
    std::string instance_prefix;
    std::chrono::milliseconds hook_start_timeout{10000};
    std::chrono::milliseconds stop_grace{5000};  // SIGINT -> SIGKILL
    DrainLimits drain;                           // a run's capture after its hook ended
    size_t max_sessions = 1024;
    size_t max_parallel_finishes = 32;  // runs DELETE all and shutdown finish at once
    StateStore* state = nullptr;  // not owned, outlives the manager; null: sessions live in memory only
};

class SessionManager {
public:
    // `pods`, `hooks` and `captures` outlive the manager; `exporters` give the sessions' export
    // counts and forget deleted sessions.
    SessionManager(SessionManagerOptions options, PodSource& pods, HookLauncher& hooks, CaptureFactory& captures,
                   std::shared_ptr<const ExporterSet> exporters);
    ~SessionManager();  // stops every run
    SessionManager(const SessionManager&) = delete;
    SessionManager& operator=(const SessionManager&) = delete;

    // Once, before serving: loads the stored sessions (same ids), removes what runs of a crashed
    // previous agent left (their hook processes, and every ftrace instance named with this agent's
    // prefix — also without options.state), and restarts the sessions
    // that were running. A restart that fails leaves that session not running with the reason in
    // its Error (the stored desired state stays "running", so the next agent start tries again).
    // Returns how many sessions were restored.
    size_t restore();

    // 404 when the hook is unknown or nothing matches; 429 past max_sessions; 500 when the
    // session cannot be persisted.
    Result<SessionView> create(const SessionSpec& spec);
    Result<SessionView> get(SessionId id);
    std::vector<SessionView> list();
    // Idempotent. Starting: 404 when the containers are gone, the hook's error otherwise (kept
    // in the session's Error).
    Status set_running(SessionId id, bool run);
    Status remove(SessionId id);
    // Stops and deletes every session, then runs every manager's --clear.
    Status remove_all();

    struct Counts {
        size_t sessions = 0;
        size_t running = 0;
    };
    Counts counts();

    // A session's syscall statistics: its running statistics run's latest snapshot (read now),
    // else its last run's final one. 404 for an unknown id; 409 when it has none (its hook
    // produces events, or it has not run a statistics hook yet).
    Result<stats::PodStats> statistics(SessionId id);

    // The latest counts of every running statistics run, as last read (for /metrics: no I/O).
    struct RunningCounts {
        std::string session_id;
        StatsUpdate update;
    };
    std::vector<RunningCounts> running_statistics();

private:
    struct Run;
    struct Entry;

    // What ending a run does to the stored state.
    enum class RunEnd {
        kStopped,   // desired state becomes "not running"
        kShutdown,  // desired state kept: the next agent start restarts the session
        kDeleted,   // nothing stored: the caller erases the session's file
    };

    std::shared_ptr<Entry> find(SessionId id);
    Status start_locked(Entry& entry);
    void stop_locked(Entry& entry, RunEnd end);
    void finish_run_locked(Entry& entry, RunEnd end);
    Status persist_locked(Entry& entry);
    void delete_locked(Entry& entry);
    SessionView view_of(Entry& entry);
    void janitor();
    void wake_janitor();
    void finish_ended_runs(const std::vector<std::shared_ptr<Entry>>& all);
    void follow_containers(const std::vector<std::shared_ptr<Entry>>& all);
    void remove_own_leftovers();
    void remove_instances_of_failed_hook(pid_t hook_pid);
    // Runs `fn` on every entry, up to options_.max_parallel_finishes at once; returns when all are done.
    void for_each_in_parallel(const std::vector<std::shared_ptr<Entry>>& entries, const std::function<void(Entry&)>& fn);

    SessionManagerOptions options_;
    PodSource& pods_;
    HookLauncher& hooks_;
    CaptureFactory& captures_;
    std::shared_ptr<const ExporterSet> exporters_;

    std::mutex map_mutex_;
    std::map<SessionId, std::shared_ptr<Entry>> sessions_;
    std::mt19937_64 rng_;  // guarded by map_mutex_

    std::mutex janitor_mutex_;
    std::condition_variable janitor_cv_;
    bool stopping_ = false;  // guarded by janitor_mutex_
    bool wake_ = false;      // guarded by janitor_mutex_: a hook exited, or a finisher is done
    // Threads finishing runs that ended on their own; the janitor's alone (joined when done, and
    // all of them before the janitor returns).
    struct Finisher {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::vector<Finisher> finishers_;
    std::thread janitor_;
};

}  // namespace ct::node
