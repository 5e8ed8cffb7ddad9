// PodDb: the node's current pods (the last snapshot of a ContainerSource) plus a
// pid -> container index used to enrich every trace event.
//
// Threads: refresh() is called by whoever keeps discovery fresh (the API on GET /v1/pods,
// session creation, a periodic timer) and, at most once a second, by owner_of() itself.
// snapshot() and owner_of() are called from API threads and trace reader threads, concurrently
// with refresh(). Everything is thread-safe; owner_of() takes only shared locks on its fast path
// (a hit by tgid, or a cached tid).
// Owns the source. The returned snapshot stays valid (and unchanged) as long as it is held.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"

namespace ct::node {

// Which container a task belongs to.
struct Owner {
    std::string pod;
    std::string pod_namespace;  // "" when unknown (procfs)
    std::string container;
    std::string container_id;   // the runtime's id of the container; "" when none
    bool operator==(const Owner&) const = default;
};

class PodDb {
public:
    static constexpr std::chrono::milliseconds kMinAutoRefresh{1000};  // owner_of()'s refresh bound
    static constexpr size_t kTidCacheLimit = 65536;                    // cleared when full

    // `procfs_root` is where owner_of() maps thread ids to their process (`<root>/<tid>/status`).
    PodDb(std::unique_ptr<ContainerSource> source, std::string procfs_root);

    // Takes a fresh snapshot from the source, stores it and rebuilds the index. On error the
    // previous snapshot stays. Concurrent calls are serialised.
    Result<PodMap> refresh();
    // The last stored snapshot; an empty map before the first successful refresh(). Never null.
    std::shared_ptr<const PodMap> snapshot() const;
    // The container a task (thread id or tgid) runs in; nullopt when it is in none (or is gone).
    // A miss maps tid -> tgid via procfs (cached) and, when the snapshot is older than
    // kMinAutoRefresh, refreshes once. Misses are cached until the next refresh.
    std::optional<Owner> owner_of(Pid tid);

    std::string describe() const { return source_->describe(); }

private:
    struct State {
        std::shared_ptr<const PodMap> pods;
        std::unordered_map<Pid, Owner> by_tgid;
        std::chrono::steady_clock::time_point taken;  // epoch when never refreshed
        std::uint64_t generation = 0;
    };

    std::shared_ptr<const State> state() const;
    std::optional<Owner> lookup(const State& state, Pid tgid) const;
    void remember(const State& state, Pid tid, Pid tgid);
    void refresh_if_older_than(std::chrono::milliseconds age);
    Result<PodMap> refresh_locked();  // refresh_mutex_ held

    std::unique_ptr<ContainerSource> source_;
    const std::string procfs_root_;

    std::mutex refresh_mutex_;  // serialises source_->list_pods() and the state swap
    std::chrono::steady_clock::time_point last_auto_refresh_;  // guarded by refresh_mutex_
    mutable std::shared_mutex state_mutex_;
    std::shared_ptr<const State> state_;

    // tid -> tgid of a container task, or 0 for a known miss. Valid for one state generation
    // only: refresh() clears it, and answers computed against an older state are not stored.
    std::shared_mutex cache_mutex_;
    std::unordered_map<Pid, Pid> tid_cache_;
    std::uint64_t cache_generation_ = 0;
};

}  // namespace ct::node
