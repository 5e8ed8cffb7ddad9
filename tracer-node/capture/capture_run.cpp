#include "tracer-node/capture/capture_run.h"

#include "tracer-node/capture/trace_line_parse.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ct::node {

namespace {

// A task in no known container is looked up again after this: discovery may not have seen a new
// process yet.
constexpr auto kMissRetry = std::chrono::seconds(1);

}  // namespace

CaptureRun::CaptureRun(std::unique_ptr<CaptureSource> source, EventContext context, OwnerLookup owners,
                       std::shared_ptr<const ExporterSet> exporters, CaptureRunOptions options)
    : source_(std::move(source)),
      context_(std::move(context)),
      owners_(std::move(owners)),
      exporters_(std::move(exporters)),
      export_lifecycle_(std::move(options.export_lifecycle)),
      scope_(options.scope.begin(), options.scope.end()),
      scope_version_(1) {
    exporters_->on_run_start(context_);
    thread_ = std::thread([this, nice = options.nice] { run(nice); });
}

CaptureRun::~CaptureRun() { abort(); }

void CaptureRun::widen_scope(const std::vector<ContainerRef>& containers) {
    std::lock_guard lock(scope_mutex_);
    scope_.insert(containers.begin(), containers.end());
    scope_version_.fetch_add(1, std::memory_order_release);
}

void CaptureRun::refresh_scope() {
    if (scope_version_.load(std::memory_order_acquire) == scope_seen_version_) return;
    {
        std::lock_guard lock(scope_mutex_);
        scope_seen_ = scope_;
        scope_seen_version_ = scope_version_.load(std::memory_order_relaxed);
    }
    for (auto& [key, owner] : pool_) owner->in_scope = scope_seen_.contains({owner->owner.pod, owner->owner.container});
}

const CaptureRun::Owner* CaptureRun::intern(EventOwner owner) {
    auto key = std::make_tuple(owner.pod, owner.pod_namespace, owner.container, owner.container_id);
    auto it = pool_.find(key);
    if (it == pool_.end()) {
        auto entry = std::make_unique<Owner>();
        entry->in_scope = scope_seen_.contains({owner.pod, owner.container});
        entry->owner = std::move(owner);
        it = pool_.emplace(std::move(key), std::move(entry)).first;
    }
    return it->second.get();
}

void CaptureRun::clear_owners() {
    // Containers come and go over a long run: past kMaxOwners, start over (the tasks still
    // running are looked up again). Only between batches: events point to their owner.
    cleared_ += tasks_.clear();
    pool_.clear();
    last_task_ = nullptr;
}

const CaptureRun::Task& CaptureRun::task_of(pid_t pid, std::chrono::steady_clock::time_point now) {
    auto fresh = [&](const Task& t) { return t.owner || now - t.checked < kMissRetry; };
    // Runs of events come from one task: the same as the last one needs no lookup.
    if (last_task_ && pid == last_pid_ && fresh(*last_task_)) return *last_task_;
    Task* t = tasks_.find(pid);
    if (!t || !fresh(*t)) {
        auto found = owners_ ? owners_(pid) : std::nullopt;
        t = &tasks_.put(pid, Task{found ? intern(std::move(*found)) : nullptr, now});
    }
    last_pid_ = pid;
    last_task_ = t;
    return *t;
}

void CaptureRun::run(int nice) {
    // On Linux a thread id names just this thread: the rest of tracer-node keeps its priority.
    if (nice != 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0)
        spdlog::warn("session {}: capture thread priority {}: {}", context_.session_id, nice, std::strerror(errno));
    std::vector<TraceEvent> batch;
    std::vector<EnrichedEvent> enriched;
    std::vector<const TraceEvent*> outside;  // not exported: outside the session's containers
    bool more = true;
    auto next_loss_read = std::chrono::steady_clock::now();
    while (more && !abort_) {
        batch.clear();
        if (hook_exited_) source_->hook_exited();
        more = source_->poll(batch, std::chrono::milliseconds(100));
        // Loss counters cost file reads: refresh them a few times a second, and at the end.
        if (!more || std::chrono::steady_clock::now() >= next_loss_read) {
            std::lock_guard lock(stats_mutex_);
            loss_ = source_->loss();
            next_loss_read = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
        }
        if (batch.empty()) continue;
        refresh_scope();
        if (pool_.size() > kMaxOwners) clear_owners();
        const auto now = std::chrono::steady_clock::now();
        enriched.clear();
        enriched.reserve(batch.size());
        outside.clear();
        std::uint64_t dropped = 0;
        for (auto& e : batch) {
            // Lifecycle events keep owners exact for processes that are gone before discovery
            // could be asked about them (events are in time order), and end what is kept.
            std::optional<ProcessChange> change;
            bool bookkeeping = false;
            if (e.type && e.type->lifecycle() != EventType::Lifecycle::kNone) {
                change = process_change(e);
                bookkeeping = !export_lifecycle_.contains(e.type->name());
                if (change && change->kind == ProcessChange::kFork) {
                    const Owner* parent = task_of(e.pid, now).owner;
                    tasks_.put(change->pid, Task{parent, now});
                    last_task_ = nullptr;  // put() may have evicted it
                }
            }
            // Bookkeeping events are judged too (not counted): a recording keeps them otherwise.
            // A signal sent from outside the containers is the target's: its subject.
            const Task& task = task_of(e.subject(), now);
            if (task.owner && task.owner->in_scope) {
                if (!bookkeeping) enriched.push_back({e, &task.owner->owner});
            } else {
                // The recorder hides records by their task; a target-scoped event is not recorded
                // (the companion instance's pages are not tapped).
                if (e.subject() == e.pid) outside.push_back(&e);
                if (!bookkeeping) ++dropped;
            }
            if (change && change->kind == ProcessChange::kExit) {
                tasks_.erase(change->pid);
                last_task_ = nullptr;
            }
        }
        if (!enriched.empty()) exporters_->export_events(context_, enriched);
        if (!outside.empty()) exporters_->export_out_of_scope(context_, outside);
        delivered_ += enriched.size();
        out_of_scope_ += dropped;
        evictions_ = tasks_.evictions() + cleared_ + source_->evictions();
    }
    if (abort_) {
        source_->abort();
        std::lock_guard lock(stats_mutex_);
        loss_ = source_->loss();  // abort counts what it discarded
    }
    exporters_->on_run_stop(context_);
    spdlog::info("session {}: capture ended: {} events delivered, {} out of the session's containers (dropped), "
                 "{} per-task cache evictions",
                 context_.session_id, delivered_.load(), out_of_scope_.load(), evictions_.load());
    {
        std::lock_guard lock(done_mutex_);
        finished_ = true;
    }
    done_cv_.notify_all();
}

void CaptureRun::hook_exited() { hook_exited_ = true; }

bool CaptureRun::wait_finished(std::chrono::milliseconds stall, std::chrono::milliseconds limit) {
    // A backlog of millions of events may take longer than one stall to export, and cutting it
    // short would lose them: wait while events keep flowing, up to `limit` in all (a stop must
    // answer in bounded time even on a node too busy to decode).
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limit;
    std::unique_lock lock(done_mutex_);
    auto handled = [this] { return delivered_.load() + out_of_scope_.load(); };  // progress
    auto last = handled();
    while (!done_cv_.wait_until(lock, std::min(Clock::now() + stall, deadline), [this] { return finished_.load(); })) {
        const auto now = handled();
        if (now == last || Clock::now() >= deadline) return false;
        last = now;
    }
    return true;
}

void CaptureRun::abort() {
    abort_ = true;
    if (thread_.joinable()) thread_.join();
}

CaptureStats CaptureRun::stats() const {
    CaptureStats s;
    s.delivered = delivered_;
    s.out_of_scope = out_of_scope_;
    s.evictions = evictions_;
    std::lock_guard lock(stats_mutex_);
    s.loss = loss_;
    return s;
}

}  // namespace ct::node
