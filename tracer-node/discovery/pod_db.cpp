#include "tracer-node/discovery/pod_db.h"

#include <algorithm>

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
      state_(std::make_shared<const State>(State{std::make_shared<const PodMap>(), {}, {}, 0})),
      refresher_([this] { refresher(); }) {}

PodDb::~PodDb() {
    {
        std::lock_guard lock(request_mutex_);
        stopping_ = true;
    }
    request_cv_.notify_all();
    refresher_.join();
}

void PodDb::request_refresh() {
    {
        std::lock_guard lock(request_mutex_);
        if (requested_) return;
        requested_ = true;
    }
    request_cv_.notify_all();
}

void PodDb::refresher() {
    std::unique_lock lock(request_mutex_);
    while (true) {
        request_cv_.wait(lock, [this] { return stopping_ || requested_; });
        if (stopping_) return;
        // At most one automatic refresh per kMinAutoRefresh: a burst of misses (a fork storm
        // in a traced container) costs one listing, not one each. A refresh by someone else
        // meanwhile counts too.
        const auto not_before = std::max(state()->taken, last_auto_refresh_) + kMinAutoRefresh;
        if (request_cv_.wait_until(lock, not_before, [this] { return stopping_; })) return;
        requested_ = false;
        last_auto_refresh_ = std::chrono::steady_clock::now();
        lock.unlock();
        {
            std::lock_guard refresh_lock(refresh_mutex_);
            if (auto r = refresh_locked(true); !r) spdlog::warn("pod index refresh: {}", r.error().message);
        }
        lock.lock();
    }
}

std::shared_ptr<const PodDb::State> PodDb::state() const {
    std::shared_lock lock(state_mutex_);
    return state_;
}

std::shared_ptr<const PodMap> PodDb::snapshot() const { return state()->pods; }

Result<PodMap> PodDb::refresh() {
    std::lock_guard refresh_lock(refresh_mutex_);
    return refresh_locked(false);
}

Result<PodMap> PodDb::update() {
    std::lock_guard refresh_lock(refresh_mutex_);
    return refresh_locked(true);
}

Result<PodMap> PodDb::refresh_locked(bool update) {
    auto pods = update ? source_->update_pods() : source_->list_pods();
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
    // Unknown to this snapshot: a process that joined a container since (exec'd into it), or
    // one outside every container. The capture thread must not wait for a listing: the next
    // snapshot answers, and callers retry misses (CaptureRun: once a second).
    remember(*current, tid, 0);
    request_refresh();
    return std::nullopt;
}

}  // namespace ct::node
