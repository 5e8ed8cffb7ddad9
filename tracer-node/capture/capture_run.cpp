#include "tracer-node/capture/capture_run.h"

#include "tracer-node/capture/trace_line_parse.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <spdlog/spdlog.h>

namespace ct::node {

CaptureRun::CaptureRun(std::unique_ptr<CaptureSource> source, EventContext context, OwnerLookup owners,
                       std::shared_ptr<const ExporterSet> exporters, int nice)
    : source_(std::move(source)),
      context_(std::move(context)),
      owners_(std::move(owners)),
      exporters_(std::move(exporters)) {
    exporters_->on_run_start(context_);
    thread_ = std::thread([this, nice] { run(nice); });
}

CaptureRun::~CaptureRun() { abort(); }

void CaptureRun::run(int nice) {
    // On Linux a thread id names just this thread: the rest of tracer-node keeps its priority.
    if (nice != 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) != 0)
        spdlog::warn("session {}: capture thread priority {}: {}", context_.session_id, nice, std::strerror(errno));
    std::vector<TraceEvent> batch;
    std::vector<EnrichedEvent> enriched;
    // Cache owners per pid within the run: a handful of pids produce millions of events.
    // Misses are retried once a second: a new child may not be in discovery's snapshot yet.
    std::unordered_map<pid_t, std::shared_ptr<const EventOwner>> owner_cache;
    auto owner_cache_reset = std::chrono::steady_clock::now() + std::chrono::seconds(1);
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
        enriched.clear();
        enriched.reserve(batch.size());
        if (std::chrono::steady_clock::now() >= owner_cache_reset) {
            std::erase_if(owner_cache, [](const auto& kv) { return !kv.second; });
            owner_cache_reset = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        }
        auto owner_of = [&](pid_t pid) -> const std::shared_ptr<const EventOwner>& {
            auto it = owner_cache.find(pid);
            if (it == owner_cache.end()) {
                auto found = owners_ ? owners_(pid) : std::nullopt;
                it = owner_cache.emplace(pid, found ? std::make_shared<const EventOwner>(std::move(*found)) : nullptr).first;
            }
            return it->second;
        };
        for (auto& e : batch) {
            // Fork/exec events keep names and owners exact for processes that are gone before
            // /proc or discovery could be asked about them (events are in time order).
            if (auto change = process_change(e)) {
                if (change->kind == ProcessChange::kFork) {
                    if (!change->comm.empty()) comm_of_[change->pid] = change->comm;
                    else if (auto c = comm_of_.find(e.pid); c != comm_of_.end()) comm_of_[change->pid] = c->second;
                    if (const auto& parent = owner_of(e.pid)) owner_cache[change->pid] = parent;
                } else {
                    comm_of_[e.pid] = change->comm;
                }
                continue;  // bookkeeping the hook enables for us; users did not ask for it
            }
            if (!comm_of_.empty())  // most runs see no fork or exec: no lookup per event then
                if (auto c = comm_of_.find(e.pid); c != comm_of_.end()) e.comm = c->second;
            enriched.push_back({std::move(e), owner_of(e.pid)});
        }
        exporters_->export_events(context_, enriched);
        delivered_ += enriched.size();
    }
    if (abort_) {
        source_->abort();
        std::lock_guard lock(stats_mutex_);
        loss_ = source_->loss();  // abort counts what it discarded
    }
    exporters_->on_run_stop(context_);
    spdlog::debug("session {}: capture ended, {} events delivered", context_.session_id, delivered_.load());
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
    auto last = delivered_.load();
    while (!done_cv_.wait_until(lock, std::min(Clock::now() + stall, deadline), [this] { return finished_.load(); })) {
        const auto now = delivered_.load();
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
    std::lock_guard lock(stats_mutex_);
    s.loss = loss_;
    return s;
}

}  // namespace ct::node
