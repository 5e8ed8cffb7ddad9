#include "tracer-node/discovery/pod_db.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file_io.h"
#include "tracer-node/discovery/procfs_parse.h"

namespace ct::node {
namespace {

// The status of a task id; nullopt when the task is gone or unreadable.
std::optional<ProcStatus> read_status(const std::string& root, Pid tid) {
    std::string text;
    if (read_file(fmt::format("{}/{}/status", root, tid), text) != 0) return std::nullopt;
    auto status = parse_status(text);
    return status ? std::optional(*status) : std::nullopt;
}

constexpr int kMaxAncestors = 32;

}  // namespace

PodDb::PodDb(std::unique_ptr<ContainerSource> source, std::string procfs_root)
    : source_(std::move(source)),
      procfs_root_(std::move(procfs_root)),
      state_(std::make_shared<const State>(State{std::make_shared<const PodMap>(), {}, {}, 0})) {}

std::shared_ptr<const PodDb::State> PodDb::state() const {
    std::shared_lock lock(state_mutex_);
    return state_;
}

std::shared_ptr<const PodMap> PodDb::snapshot() const { return state()->pods; }

Result<PodMap> PodDb::refresh() {
    std::lock_guard refresh_lock(refresh_mutex_);
    return refresh_locked();
}

Result<PodMap> PodDb::refresh_locked() {
    auto pods = source_->list_pods();
    if (!pods) return std::unexpected(Error::wrap(pods.error(), fmt::format("listing pods from {}", source_->describe())));

    auto next = std::make_shared<State>();
    next->pods = std::make_shared<const PodMap>(*pods);
    next->taken = std::chrono::steady_clock::now();
    for (const auto& [pod_key, pod] : *next->pods) {
        for (const auto& [name, container] : pod.containers) {
            for (Pid pid : container.tasks)
                next->by_tgid.insert_or_assign(pid, Owner{pod_key, pod.pod_namespace, name, container.runtime_id});
        }
    }
    {
        std::unique_lock lock(state_mutex_);
        next->generation = state_->generation + 1;
        state_ = next;
    }
    {
        std::unique_lock lock(cache_mutex_);
        tid_cache_.clear();
        cache_generation_ = next->generation;
    }
    return pods;
}

std::optional<Owner> PodDb::lookup(const State& state, Pid tgid) const {
    auto it = state.by_tgid.find(tgid);
    if (it == state.by_tgid.end()) return std::nullopt;
    return it->second;
}

void PodDb::remember(const State& state, Pid tid, Pid tgid) {
    std::unique_lock lock(cache_mutex_);
    if (state.generation != cache_generation_) return;  // a refresh happened meanwhile
    if (tid_cache_.size() >= kTidCacheLimit) tid_cache_.clear();
    tid_cache_.insert_or_assign(tid, tgid);
}

void PodDb::refresh_if_older_than(std::chrono::milliseconds age) {
    std::lock_guard refresh_lock(refresh_mutex_);
    const auto now = std::chrono::steady_clock::now();
    // Another reader may have refreshed while we waited; a failing source is retried at most
    // once per `age` too.
    if (now - state()->taken < age || now - last_auto_refresh_ < age) return;
    last_auto_refresh_ = now;
    if (auto r = refresh_locked(); !r) spdlog::warn("pod index refresh: {}", r.error().message);
}

std::optional<Owner> PodDb::owner_of(Pid tid) {
    if (tid <= 0) return std::nullopt;  // the idle task, or garbage
    auto current = state();
    if (auto owner = lookup(*current, tid)) return owner;
    {
        std::shared_lock lock(cache_mutex_);
        if (current->generation == cache_generation_) {
            if (auto it = tid_cache_.find(tid); it != tid_cache_.end())
                return it->second == 0 ? std::nullopt : lookup(*current, it->second);
        }
    }

    auto status = read_status(procfs_root_, tid);
    Pid tgid = status ? status->tgid : 0;
    if (tgid > 0 && tgid != tid) {
        if (auto owner = lookup(*current, tgid)) {
            remember(*current, tid, tgid);
            return owner;
        }
    }
    // A process forked after the snapshot belongs to its nearest known ancestor's container:
    // walk the parent chain (bounded) before paying for a refresh.
    for (int depth = 0; status && status->ppid > 1 && depth < kMaxAncestors; ++depth) {
        if (auto owner = lookup(*current, status->ppid)) {
            remember(*current, tid, status->ppid);
            return owner;
        }
        status = read_status(procfs_root_, status->ppid);
    }
    if (std::chrono::steady_clock::now() - current->taken >= kMinAutoRefresh) {
        refresh_if_older_than(kMinAutoRefresh);
        current = state();
        if (tgid <= 0) tgid = tid;  // a brand-new leader may have been unreadable; try as tgid
        if (auto owner = lookup(*current, tgid)) {
            remember(*current, tid, tgid);
            return owner;
        }
    }
    remember(*current, tid, 0);
    return std::nullopt;
}

}  // namespace ct::node
