#include "tracer-node/sessions/session_manager.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/stats/stats_run.h"

namespace ct::node {

namespace {

// What a finished hook reports: its stderr lines, else how it died when that was not our stop.
std::optional<std::vector<std::string>> hook_error(const RunningHook& hook) {
    auto err = hook.error_lines();
    if (!err.empty()) return err;
    auto status = hook.exit_status();
    if (status && !status->ok() && status->signal != SIGINT && status->signal != SIGKILL)
        return std::vector<std::string>{fmt::format("trace hook {}", status->describe())};
    return std::nullopt;
}

// A run's capture figures added to a session's totals.
void add_counts(SessionStats& to, const CaptureStats& s) {
    to.delivered += s.delivered;
    to.overrun += s.loss.overrun;
    to.dropped += s.loss.dropped;
    to.unparsed += s.loss.unparsed;
    to.queue_dropped += s.loss.queue_dropped;
    to.out_of_scope += s.out_of_scope;
    to.cache_evictions += s.evictions;
}

// The selection as the capture's scope: every (pod, container) it names.
std::vector<ContainerRef> scope_of(const Selection& selection) {
    std::vector<ContainerRef> out;
    for (const auto& [pod, names] : selection)
        for (const auto& n : names) out.push_back({pod, n});
    return out;
}

std::uint64_t unix_now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// Each selected container's processes (their tgids), with the container they are in now: how a
// statistics run names the groups it counts.
GroupOwners group_owners(const PodMap& pods, const Selection& selection) {
    GroupOwners out;
    for (const auto& [key, names] : selection) {
        auto p = pods.find(key);
        if (p == pods.end()) continue;
        for (const auto& n : names)
            if (auto c = p->second.containers.find(n); c != p->second.containers.end())
                for (Pid tgid : c->second.tasks)
                    out[static_cast<std::uint32_t>(tgid)] =
                        EventOwner{p->second.name, p->second.pod_namespace, n, c->second.runtime_id};
    }
    return out;
}

}  // namespace

// One start..stop of the hook: an event capture, or the statistics of a statistics hook.
struct SessionManager::Run {
    std::unique_ptr<RunningHook> hook;
    std::unique_ptr<RunCapture> capture;  // null for a statistics hook
    std::unique_ptr<StatsRun> stats;      // null for an event hook
    std::atomic<bool> hook_exited{false};
    std::set<Pid> traced;  // processes handed to the hook (at start or by follow_containers)
    std::set<std::pair<std::string, std::string>> live;  // (pod, container) with processes at the last look
    RunRecord record;      // what this run put on the host, persisted for crash cleanup
};

struct SessionManager::Entry {
    SessionId id = 0;
    SessionSpec spec;
    std::mutex op_mutex;     // serialises start / stop / delete of this session
    std::mutex state_mutex;  // guards the fields below for readers
    Selection containers;
    std::optional<std::vector<std::string>> output, error;
    SessionStats stats;      // totals of finished runs
    std::unique_ptr<Run> run;      // written under both mutexes
    std::optional<bool> statistics;          // whether the last run's hook produced statistics
    std::optional<StatsUpdate> last_counts;  // a finished statistics run's final snapshot
    bool desired_running = false;  // persisted: restarted by the next agent start when true
    bool deleted = false;
    bool finishing = false;  // guarded by op_mutex: a janitor finisher has been handed this run
};

SessionManager::SessionManager(SessionManagerOptions options, PodSource& pods, HookLauncher& hooks,
                               CaptureFactory& captures, std::shared_ptr<const ExporterSet> exporters)
    : options_(std::move(options)), pods_(pods), hooks_(hooks), captures_(captures),
      exporters_(std::move(exporters)), rng_(std::random_device{}()) {
    janitor_ = std::thread([this] { janitor(); });
}

SessionManager::~SessionManager() {
    {
        std::lock_guard lock(janitor_mutex_);
        stopping_ = true;
    }
    janitor_cv_.notify_all();
    janitor_.join();  // and its finishers
    std::vector<std::shared_ptr<Entry>> all;
    {
        std::lock_guard lock(map_mutex_);
        for (auto& [id, e] : sessions_) all.push_back(e);
        sessions_.clear();
    }
    for_each_in_parallel(all, [this](Entry& e) {
        std::lock_guard op(e.op_mutex);
        stop_locked(e, RunEnd::kShutdown);
    });
}

void SessionManager::for_each_in_parallel(const std::vector<std::shared_ptr<Entry>>& entries,
                                          const std::function<void(Entry&)>& fn) {
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i; (i = next++) < entries.size();) fn(*entries[i]);
    };
    size_t helpers = std::min(entries.size(), std::max<size_t>(options_.max_parallel_finishes, 1));
    std::vector<std::jthread> threads;
    for (size_t i = 1; i < helpers; ++i) threads.emplace_back(work);
    work();
}

size_t SessionManager::restore() {
    if (!options_.state) {
        remove_own_leftovers();
        return 0;
    }
    auto loaded = options_.state->load();
    // First everything the dead agent left (a hook still tracing, instances holding kernel
    // buffers), before new runs start and might reuse one of the recorded PIDs.
    for (const auto& record : loaded.sessions)
        if (record.run) {
            if (auto cleaned = clean_up_run(*record.run, options_.procfs_root); !cleaned)
                spdlog::error("session {}: {}", record.id, cleaned.error().message);
        }
    // Then every other instance named as this agent's (a hook killed before its run was stored).
    remove_own_leftovers();
    for (auto& record : loaded.sessions) {
        auto entry = std::make_shared<Entry>();
        entry->id = record.id;
        entry->spec = record.spec;
        entry->containers = record.containers;
        entry->desired_running = record.running;
        {
            std::lock_guard lock(map_mutex_);
            sessions_[entry->id] = entry;
        }
        std::lock_guard op(entry->op_mutex);
        if (entry->desired_running) {
            if (auto started = start_locked(*entry); started) {
                spdlog::info("session {} restored and restarted", entry->id);
                continue;  // start_locked stored the new run
            } else {
                spdlog::warn("session {} restored, but restarting it failed: {}", entry->id, started.error().message);
            }
        } else {
            spdlog::info("session {} restored (not running)", entry->id);
        }
        if (record.run) {
            if (auto saved = persist_locked(*entry); !saved) spdlog::error("{}", saved.error().message);
        }
    }
    spdlog::info("restored {} trace sessions from {}{}", loaded.sessions.size(), options_.state->dir(),
                 loaded.moved_aside.empty() ? "" : fmt::format(" ({} unusable files moved aside)", loaded.moved_aside.size()));
    return loaded.sessions.size();
}

Status SessionManager::persist_locked(Entry& e) {
    if (!options_.state) return {};
    SessionRecord record;
    record.id = e.id;
    record.spec = e.spec;
    record.running = e.desired_running;
    {
        std::lock_guard lock(e.state_mutex);
        record.containers = e.containers;
        if (e.run) record.run = e.run->record;
    }
    auto saved = options_.state->save(record);
    if (!saved) return std::unexpected(Error::wrap(saved.error(), fmt::format("saving trace session {}", e.id)));
    return {};
}

// The entry is already out of the map: stop its run, forget its stored state and counters.
void SessionManager::delete_locked(Entry& e) {
    e.deleted = true;
    stop_locked(e, RunEnd::kDeleted);
    if (options_.state) {
        if (auto erased = options_.state->erase(e.id); !erased)
            spdlog::error("deleting stored trace session {}: {}", e.id, erased.error().message);
    }
    exporters_->forget_session(std::to_string(e.id));
}

std::shared_ptr<SessionManager::Entry> SessionManager::find(SessionId id) {
    std::lock_guard lock(map_mutex_);
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

Result<SessionView> SessionManager::create(const SessionSpec& spec) {
    auto hook = hooks_.find(spec.hook);
    if (!hook) return std::unexpected(hook.error());
    auto pods = pods_.refresh();
    if (!pods) return std::unexpected(Error::wrap(pods.error(), "discovering containers"));
    auto selection = select_containers(*pods, spec.pod, spec.container);
    if (selection.empty())
        return fail(Errc::kNotFound,
                    fmt::format("no container matches pod \"{}\" and container \"{}\"", spec.pod, spec.container));
    auto entry = std::make_shared<Entry>();
    entry->spec = spec;
    entry->containers = std::move(selection);
    // Held until stored: a PUT or DELETE of the new id waits, and finds it deleted if storing failed.
    std::lock_guard op(entry->op_mutex);
    {
        std::lock_guard lock(map_mutex_);
        if (sessions_.size() >= options_.max_sessions)
            return fail(Errc::kTooMany, fmt::format("too many trace sessions (limit {}); delete some first",
                                                    options_.max_sessions));
        do entry->id = rng_();
        while (entry->id == 0 || sessions_.contains(entry->id));
        sessions_[entry->id] = entry;
    }
    // A session the API returned must survive a restart.
    if (auto saved = persist_locked(*entry); !saved) {
        entry->deleted = true;
        std::lock_guard lock(map_mutex_);
        sessions_.erase(entry->id);
        return std::unexpected(saved.error());
    }
    spdlog::info("session {} created: pod \"{}\" container \"{}\" hook {} args \"{}\"", entry->id, spec.pod,
                 spec.container, spec.hook, spec.args);
    return view_of(*entry);
}

SessionView SessionManager::view_of(Entry& e) {
    std::lock_guard lock(e.state_mutex);
    SessionView v;
    v.id = e.id;
    v.spec = e.spec;
    v.containers = e.containers;
    v.node = options_.node_name;
    v.output = e.output;
    v.error = e.error;
    v.running = e.run && !e.run->hook_exited;
    if (e.run && e.run->hook_exited) {
        // Ended on its own and the janitor has not finished the run yet: show the result now.
        if (auto err = hook_error(*e.run->hook)) v.error = err;
    }
    v.stats = e.stats;
    if (e.run && e.run->capture) add_counts(v.stats, e.run->capture->stats());
    v.stats.lost = v.stats.overrun + v.stats.dropped + v.stats.unparsed + v.stats.queue_dropped;
    for (const auto& [kind, c] : exporters_->session_counts(std::to_string(e.id)))
        v.stats.exporters[kind] = SessionExportStats{c.exported, c.dropped, c.errors};
    return v;
}

Result<SessionView> SessionManager::get(SessionId id) {
    auto e = find(id);
    if (!e) return fail(Errc::kNotFound, fmt::format("trace session {} not found", id));
    return view_of(*e);
}

std::vector<SessionView> SessionManager::list() {
    std::vector<std::shared_ptr<Entry>> all;
    {
        std::lock_guard lock(map_mutex_);
        for (auto& [id, e] : sessions_) all.push_back(e);
    }
    std::vector<SessionView> out;
    for (auto& e : all) out.push_back(view_of(*e));
    return out;
}

SessionManager::Counts SessionManager::counts() {
    Counts c;
    for (const auto& v : list()) {
        ++c.sessions;
        c.running += v.running;
    }
    return c;
}

Result<stats::PodStats> SessionManager::statistics(SessionId id) {
    auto e = find(id);
    if (!e) return fail(Errc::kNotFound, fmt::format("trace session {} not found", id));
    // The op lock keeps the run alive while its file is read; a stop in progress is waited for.
    std::lock_guard op(e->op_mutex);
    if (e->run && e->run->stats) {
        e->run->stats->refresh();
        return pod_stats(e->run->stats->latest().containers);
    }
    std::lock_guard lock(e->state_mutex);
    if (e->last_counts) return pod_stats(e->last_counts->containers);
    if (!e->statistics)
        return fail(Errc::kConflict, fmt::format("trace session {} has no statistics yet: it has not run its hook {}",
                                                 id, e->spec.hook));
    return fail(Errc::kConflict, fmt::format("trace session {} has no statistics: its hook {} produces events, not "
                                             "statistics (statistics come from hooks such as syscall_stats)",
                                             id, e->spec.hook));
}

std::vector<SessionManager::RunningCounts> SessionManager::running_statistics() {
    std::vector<std::shared_ptr<Entry>> all;
    {
        std::lock_guard lock(map_mutex_);
        for (auto& [id, e] : sessions_) all.push_back(e);
    }
    std::vector<RunningCounts> out;
    for (auto& e : all) {
        std::lock_guard lock(e->state_mutex);
        if (e->run && e->run->stats && !e->run->hook_exited)
            out.push_back({std::to_string(e->id), e->run->stats->latest()});
    }
    return out;
}

Status SessionManager::set_running(SessionId id, bool run) {
    auto e = find(id);
    if (!e) return fail(Errc::kNotFound, fmt::format("trace session {} not found", id));
    std::lock_guard op(e->op_mutex);
    if (e->deleted) return fail(Errc::kNotFound, fmt::format("trace session {} not found", id));
    if (e->run && e->run->hook_exited) finish_run_locked(*e, RunEnd::kStopped);  // ended on its own: start afresh
    if (run == static_cast<bool>(e->run)) return {};                              // already in that state
    if (!run) {
        stop_locked(*e, RunEnd::kStopped);
        return {};
    }
    return start_locked(*e);
}

Status SessionManager::start_locked(Entry& e) {
    // Start a run: re-resolve the selection (containers may have come and gone), collect every
    // thread of every process, spawn the hook, wait for its trace path, open the capture.
    auto fail_start = [&](const Error& error) -> Status {
        std::lock_guard lock(e.state_mutex);
        e.error = split_any(error.message, "\n");
        return std::unexpected(error);
    };
    auto hook = hooks_.find(e.spec.hook);
    if (!hook) return fail_start(hook.error());
    auto pods = pods_.refresh();
    if (!pods) return fail_start(Error::wrap(pods.error(), "discovering containers"));
    Selection selection;
    {
        std::lock_guard lock(e.state_mutex);
        selection = e.containers;
    }
    for (auto& [pod, names] : select_containers(*pods, e.spec.pod, e.spec.container))
        for (auto& n : names)
            if (std::find(selection[pod].begin(), selection[pod].end(), n) == selection[pod].end())
                selection[pod].push_back(n);
    std::vector<Pid> tgids;
    std::set<std::pair<std::string, std::string>> live;
    for (const auto& [pod, names] : selection) {
        auto p = pods->find(pod);
        if (p == pods->end()) continue;
        for (const auto& n : names)
            if (auto c = p->second.containers.find(n); c != p->second.containers.end()) {
                tgids.insert(tgids.end(), c->second.tasks.begin(), c->second.tasks.end());
                if (!c->second.tasks.empty()) live.emplace(pod, n);
            }
    }
    auto tids = pods_.threads_of(tgids);
    if (!tids) return fail_start(Error::wrap(tids.error(), "listing the containers' threads"));
    if (tids->empty())
        return fail_start(Error{Errc::kNotFound, fmt::format("trace session {}: none of its containers is running",
                                                             e.id)});

    auto run = std::make_unique<Run>();
    Run* raw = run.get();
    HookStartOptions hook_options;
    hook_options.start_timeout = options_.hook_start_timeout;
    hook_options.stop_grace = options_.stop_grace;
    // Runs on the hook's watcher thread: only flag it; the janitor finishes the run.
    hook_options.on_exit = [this, raw](ExitStatus) {
        raw->hook_exited = true;
        wake_janitor();
    };
    hook_options.clean_up_failed = [this](pid_t pid) { remove_instances_of_failed_hook(pid); };
    auto started = hooks_.start(*hook, *tids, hook_arguments(e.spec), std::move(hook_options));
    if (!started) return fail_start(started.error());
    run->hook = std::move(*started);
    run->traced.insert(tgids.begin(), tgids.end());
    run->live = std::move(live);
    // Our unreaped child: its PID cannot have been reused yet.
    auto hook_stat = read_process_stat(options_.procfs_root, run->hook->pid());
    const auto& trace_path = run->hook->trace_path();
    run->record = RunRecord{.hook_pid = run->hook->pid(),
                            .hook_start_time = hook_stat ? hook_stat->start_time : 0,
                            .instance_dir = ftrace::instance_dir_of(trace_path)};
    EventContext context{options_.node_name, std::to_string(e.id), e.spec.hook, e.spec.context};
    bool statistics = stats::is_snapshot_path(trace_path);
    if (statistics) {
        // A statistics hook (docs/hooks.md): no events to capture; groups are named with the
        // containers as they are now.
        run->stats = std::make_unique<StatsRun>(trace_path, group_owners(*pods, selection), std::move(context),
                                                exporters_, unix_now_ns());
    } else {
        auto capture = captures_.open(
            {.session = e.id,
                                       .spec = e.spec,
                                       .trace_path = trace_path,
                                       .context = std::move(context),
                                       .scope = scope_of(selection)});
        if (!capture) {
            run->hook->stop(options_.stop_grace);
            captures_.discard(trace_path);
            return fail_start(capture.error());
        }
        run->capture = std::move(*capture);
    }
    {
        std::lock_guard lock(e.state_mutex);
        e.containers = std::move(selection);
        e.output = run->hook->output_lines();
        e.error.reset();
        e.stats.runs++;
        e.statistics = statistics;
        e.last_counts.reset();
        e.run = std::move(run);
    }
    e.desired_running = true;
    if (auto saved = persist_locked(e); !saved)
        spdlog::error("{} (a crash now would leave its ftrace instance behind)", saved.error().message);
    spdlog::info("session {} started: hook {} pid {} tracing {} threads, trace file {}", e.id, e.spec.hook,
                 e.run->hook->pid(), tids->size(), e.run->hook->trace_path());
    return {};
}

void SessionManager::stop_locked(Entry& e, RunEnd end) {
    // Stop a run: SIGINT the hook (it turns tracing off and waits for us to drain), SIGKILL
    // after the grace, then let the capture drain and release the instance.
    if (!e.run) return;
    if (e.run->capture) e.run->capture->stopping();
    auto status = e.run->hook->stop(options_.stop_grace);
    spdlog::info("session {} stopped: hook {}", e.id, status.describe());
    finish_run_locked(e, end);
}

void SessionManager::finish_run_locked(Entry& e, RunEnd end) {
    auto& run = *e.run;
    run.hook->stop(options_.stop_grace);  // returns at once when it has exited
    CaptureStats stats;
    std::optional<StatsUpdate> counts;
    if (run.stats) {
        run.stats->finish();  // the hook has written its final snapshot before exiting
        counts = run.stats->latest();
    } else {
        run.capture->finish(options_.drain);
        stats = run.capture->stats();
    }
    std::unique_lock lock(e.state_mutex);
    add_counts(e.stats, stats);
    if (counts) e.last_counts = std::move(counts);
    auto out = run.hook->output_lines();
    e.output = out.empty() ? std::nullopt : std::optional(out);
    // A hook that failed on its own reports why; a clean stop leaves Error null.
    if (auto err = hook_error(*run.hook)) e.error = err;
    auto finished = std::move(e.run);
    lock.unlock();
    finished.reset();
    if (end == RunEnd::kDeleted) return;
    if (end == RunEnd::kStopped) e.desired_running = false;
    if (auto saved = persist_locked(e); !saved) spdlog::error("{}", saved.error().message);
}

void SessionManager::remove_own_leftovers() {
    if (options_.instance_prefix.empty()) return;
    auto removed = ftrace::remove_all(ftrace::tracing_dir_under(options_.sysfs_root), options_.instance_prefix,
                                      std::chrono::seconds(5));
    if (!removed) spdlog::error("removing ftrace instances left by this agent: {}", removed.error().message);
    else if (*removed > 0)
        spdlog::warn("removed {} ftrace instances ({}*) left by a previous run of this agent", *removed,
                     options_.instance_prefix);
}

void SessionManager::remove_instances_of_failed_hook(pid_t hook_pid) {
    // The hook's start failed and it has exited, unreaped: instances named after its PID are its
    // own, even one it made but never announced (killed while the kernel was allocating buffers).
    if (options_.instance_prefix.empty()) return;
    auto removed = ftrace::remove_all(ftrace::tracing_dir_under(options_.sysfs_root),
                                      ftrace::manager_prefix(options_.instance_prefix, hook_pid), std::chrono::seconds(5));
    if (!removed)
        spdlog::error("removing the ftrace instances of trace hook pid {} after its failed start: {}", hook_pid,
                      removed.error().message);
    else if (*removed > 0)
        spdlog::warn("removed {} ftrace instance(s) of trace hook pid {}, whose start failed", *removed, hook_pid);
}

Status SessionManager::remove(SessionId id) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard lock(map_mutex_);
        auto it = sessions_.find(id);
        if (it == sessions_.end()) return fail(Errc::kNotFound, fmt::format("trace session {} not found", id));
        e = it->second;
        sessions_.erase(it);
    }
    std::lock_guard op(e->op_mutex);
    delete_locked(*e);
    spdlog::info("session {} deleted", id);
    return {};
}

Status SessionManager::remove_all() {
    std::vector<std::shared_ptr<Entry>> all;
    {
        std::lock_guard lock(map_mutex_);
        for (auto& [id, e] : sessions_) all.push_back(e);
        sessions_.clear();
    }
    // Every run drains at once: the request takes as long as the slowest, not their sum.
    for_each_in_parallel(all, [this](Entry& e) {
        std::lock_guard op(e.op_mutex);
        delete_locked(e);
    });
    auto failures = hooks_.clear_all();
    spdlog::info("deleted all {} sessions", all.size());
    if (!failures.empty())
        return fail(Errc::kInternal, fmt::format("sessions deleted, but clearing hooks failed: {}", failures.front()));
    return {};
}

void SessionManager::follow_containers(const std::vector<std::shared_ptr<Entry>>& all) {
    // Running sessions follow their patterns: containers that (re)started since the run began
    // join it. One discovery update per tick serves every session: incremental, and the runtime
    // is asked only when a new container may have appeared (docs/architecture.md, "Discovery").
    // e->run is only read under the session's op_mutex; a busy session may be starting a run.
    bool any = std::any_of(all.begin(), all.end(), [](const auto& e) {
        std::unique_lock op(e->op_mutex, std::try_to_lock);
        return !op || (e->run && !e->run->hook_exited);
    });
    if (!any) return;
    auto pods = pods_.update();
    if (!pods) return;
    for (const auto& e : all) {
        std::unique_lock op(e->op_mutex, std::try_to_lock);
        // A statistics run's hook follows forks itself and takes no processes later (docs/hooks.md).
        if (!op || !e->run || e->run->hook_exited || !e->run->capture) continue;
        auto selection = select_containers(*pods, e->spec.pod, e->spec.container);
        std::set<Pid> current;
        std::set<std::pair<std::string, std::string>> live;
        for (const auto& [pod, names] : selection)
            for (const auto& n : names) {
                const auto& tasks = pods->at(pod).containers.at(n).tasks;
                for (Pid p : tasks) current.insert(p);
                if (!tasks.empty()) live.emplace(pod, n);
            }
        for (const auto& [pod, n] : e->run->live)
            if (!live.contains({pod, n})) e->run->capture->container_ended(pod, n);
        e->run->live = std::move(live);
        std::vector<Pid> fresh;
        for (Pid p : current)
            if (!e->run->traced.contains(p)) fresh.push_back(p);
        e->run->traced = std::move(current);  // only live processes: the set stays bounded
        if (fresh.empty()) continue;
        auto added = e->run->capture->follow(fresh, scope_of(selection));
        if (!added) {
            spdlog::warn("session {}: cannot follow new processes: {}", e->id, added.error().message);
            continue;
        }
        if (*added == 0) continue;
        std::lock_guard lock(e->state_mutex);
        for (auto& [pod, names] : selection)
            for (auto& n : names)
                if (std::find(e->containers[pod].begin(), e->containers[pod].end(), n) == e->containers[pod].end())
                    e->containers[pod].push_back(n);
        spdlog::info("session {}: following {} new processes", e->id, *added);
    }
}

void SessionManager::finish_ended_runs(const std::vector<std::shared_ptr<Entry>>& all) {
    // Each run that ended on its own is finished on a thread of its own: a slow drain delays
    // neither the janitor's other work nor other sessions' runs.
    for (const auto& e : all) {
        std::unique_lock op(e->op_mutex, std::try_to_lock);  // busy = someone else is on it
        if (!op || !e->run || !e->run->hook_exited || e->finishing) continue;
        e->finishing = true;
        auto done = std::make_shared<std::atomic<bool>>(false);
        finishers_.push_back({std::thread([this, e, done] {
                                  {
                                      std::lock_guard lock(e->op_mutex);
                                      if (e->run && e->run->hook_exited) {
                                          spdlog::info("session {}: trace hook ended on its own", e->id);
                                          finish_run_locked(*e, RunEnd::kStopped);
                                      }
                                      e->finishing = false;
                                  }
                                  *done = true;
                                  wake_janitor();
                              }),
                              done});
    }
    std::erase_if(finishers_, [](Finisher& f) {
        if (!*f.done) return false;
        f.thread.join();
        return true;
    });
}

void SessionManager::wake_janitor() {
    {
        std::lock_guard lock(janitor_mutex_);
        wake_ = true;
    }
    janitor_cv_.notify_all();
}

void SessionManager::janitor() {
    std::unique_lock lock(janitor_mutex_);
    while (!stopping_) {
        janitor_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || wake_; });
        wake_ = false;
        if (stopping_) break;
        lock.unlock();
        std::vector<std::shared_ptr<Entry>> all;
        {
            std::lock_guard m(map_mutex_);
            for (auto& [id, e] : sessions_) all.push_back(e);
        }
        finish_ended_runs(all);
        for (auto& e : all) {
            std::unique_lock op(e->op_mutex, std::try_to_lock);  // busy = someone else is on it
            if (op && e->run && e->run->stats && !e->run->hook_exited)
                e->run->stats->refresh();  // a new snapshot goes to the exporters
        }
        follow_containers(all);
        lock.lock();
    }
    lock.unlock();
    for (auto& f : finishers_) f.thread.join();
    finishers_.clear();
}

}  // namespace ct::node
