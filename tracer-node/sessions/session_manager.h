// SessionManager: the one store of trace sessions and their runs (hook process + capture).
// Every public method is thread-safe. Operations on one session (start, stop, delete) are
// serialised by that session's own mutex, so a slow start never blocks other sessions or reads.
// A janitor thread, once a second, finishes runs whose hook exited on its own (output kept,
// ftrace instance removed) and adds processes of containers that (re)started and match a
// running session's patterns to its hook (tracefs-instance hooks: their set_event_pid).
// A statistics hook's run (docs/hooks.md "Statistics hooks") has no capture: a StatsRun reads its
// snapshot file, refreshed by the janitor every tick and by statistics(); its final snapshot is
// kept with the session after the run ends (in memory, until the next run or deletion).
// Persistence (optional, options.state): every create, run change and delete is written to the
// StateStore under the session's op mutex; restore() brings the stored sessions back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/capture/capture_run.h"
#include "tracer-node/export/exporter.h"
#include "tracer-node/hooks/hook_process.h"
#include "tracer-node/hooks/hook_registry.h"
#include "tracer-node/sessions/session.h"
#include "tracer-node/sessions/state_store.h"
#include "tracer-node/stats/stats_run.h"

namespace ct::node {

struct SessionManagerOptions {
    std::string node_name;
    std::string procfs_root = "/proc";
    std::string sysfs_root = "/sys";  // tracefs under kernel/tracing
    // This agent's ftrace instance name prefix, "ctrace_<tag>_" (capture/ftrace_instance.h): what
    // restore() removes as leftovers. "" = remove nothing by name.
    std::string instance_prefix;
    std::chrono::milliseconds hook_start_timeout{10000};
    std::chrono::milliseconds stop_grace{5000};      // SIGINT -> SIGKILL
    std::chrono::milliseconds drain_timeout{3000};   // capture drain after the hook exited: longest stall
    std::chrono::milliseconds drain_limit{15000};    // ... and longest in all; the rest is dropped, counted
    size_t max_sessions = 1024;
    int capture_nice = 10;  // CaptureRun threads: yield the CPU to traced workloads under load
    // Raw pages waiting for decoding, shared by every session's capture (CaptureOptions); null:
    // each capture has its own default budget.
    std::shared_ptr<ByteBudget> capture_queue;
    StateStore* state = nullptr;  // not owned, outlives the manager; null: sessions live in memory only
};

class SessionManager {
public:
    SessionManager(SessionManagerOptions options, PodDb& pods, HookRegistry& hooks,
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
    void follow_containers(const std::vector<std::shared_ptr<Entry>>& all);
    void remove_instance_dir(const std::string& trace_path);
    void remove_own_leftovers();

    SessionManagerOptions options_;
    PodDb& pods_;
    HookRegistry& hooks_;
    std::shared_ptr<const ExporterSet> exporters_;

    std::mutex map_mutex_;
    std::map<SessionId, std::shared_ptr<Entry>> sessions_;
    std::mt19937_64 rng_;  // guarded by map_mutex_

    std::mutex janitor_mutex_;
    std::condition_variable janitor_cv_;
    bool stopping_ = false;
    std::thread janitor_;
};

}  // namespace ct::node
