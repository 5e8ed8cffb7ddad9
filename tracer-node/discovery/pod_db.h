// PodDb: the node's current pods (the last snapshot of a ContainerSource) plus a
// pid -> container index used to enrich every trace event.
//
// Threads: refresh() is called by whoever keeps discovery fresh (the API on GET /v1/pods,
// session creation, the janitor) and blocks while the source lists. owner_of() never does: it
// answers from the current index (plus reads of /proc/<tid>/status for thread ids and the
// parents of processes forked since), and a miss only asks PodDb's own refresher thread for a
// refresh in the background, at most once per kMinAutoRefresh (docs/architecture.md,
// "Discovery"). snapshot() and owner_of() are called from API threads and capture threads,
// concurrently with refresh(). Everything is thread-safe; owner_of() takes only shared locks on
// its fast path (a hit by tgid, or a cached tid).
// Owns the source and the refresher thread (joined by the destructor). The returned snapshot
// stays valid (and unchanged) as long as it is held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
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
    static constexpr std::chrono::milliseconds kMinAutoRefresh{1000};  // background refresh bound
    static constexpr size_t kTidCacheLimit = 65536;                    // cleared when full

    // `procfs_root` is where owner_of() maps thread ids to their process (`<root>/<tid>/status`).
    PodDb(std::unique_ptr<ContainerSource> source, std::string procfs_root);
    ~PodDb();  // stops and joins the refresher (waits for a refresh in progress)
    PodDb(const PodDb&) = delete;
    PodDb& operator=(const PodDb&) = delete;

    // Takes a fresh snapshot from the source (list_pods), stores it and rebuilds the index. On
    // error the previous snapshot stays. Concurrent calls are serialised.
    Result<PodMap> refresh();
    // The same for periodic refreshes (the janitor's): the source's update_pods(), which may skip
    // what is costly when nothing new shows (container_source.h).
    Result<PodMap> update();
    // The last stored snapshot; an empty map before the first successful refresh(). Never null.
    std::shared_ptr<const PodMap> snapshot() const;
    // The container a task (thread id or tgid) runs in, from the current index; nullopt when it
    // is in none (or is gone, or is too new for the index). A miss maps tid -> tgid and walks the
    // parent chain via procfs (cached), then calls request_refresh(): the answer after that
    // refresh may differ. Misses are cached until the next refresh. Never waits for the source.
    std::optional<Owner> owner_of(Pid tid);
    // Asks the refresher thread for a refresh and returns at once. The refresher takes at most
    // one every kMinAutoRefresh (counted from the last snapshot); its errors are logged.
    void request_refresh();
    // Counts stored snapshots (0 before the first): lets callers await a background refresh.
    std::uint64_t generation() const { return state()->generation; }

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
    void refresher();  // the refresher thread's loop
    Result<PodMap> refresh_locked(bool update);  // refresh_mutex_ held

    std::unique_ptr<ContainerSource> source_;
    const std::string procfs_root_;

    std::mutex refresh_mutex_;  // serialises source_->list_pods() and the state swap
    mutable std::shared_mutex state_mutex_;
    std::shared_ptr<const State> state_;

    // tid -> tgid of a container task, or 0 for a known miss. Valid for one state generation
    // only: refresh() clears it, and answers computed against an older state are not stored.
    std::shared_mutex cache_mutex_;
    std::unordered_map<Pid, Pid> tid_cache_;
    std::uint64_t cache_generation_ = 0;

    std::mutex request_mutex_;  // guards the three fields below
    std::condition_variable request_cv_;
    bool requested_ = false;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point last_auto_refresh_;  // the refresher's last refresh
    std::thread refresher_;  // last: started once everything above exists
};

}  // namespace ct::node
