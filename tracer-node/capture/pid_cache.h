// PidCache: what one capture run remembers per thread id (task names, owners), bounded so a
// long run over a fork-heavy container does not grow without end (docs/operations.md, "Memory").
// The capture drops a thread when its exit event is seen (erase); past `limit` entries each new
// one pushes out an arbitrary old one, counted as an eviction (the evicted thread, if still
// alive, is looked up again when it next appears). Not synchronised: one thread (the run's
// capture thread). Pointers to values stay valid until that entry is erased or evicted.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>

namespace ct::node {

template <class V>
class PidCache {
public:
    static constexpr std::size_t kDefaultLimit = 16384;

    explicit PidCache(std::size_t limit = kDefaultLimit) : limit_(limit < 1 ? 1 : limit) {}

    V* find(pid_t pid) {
        auto it = map_.find(pid);
        return it == map_.end() ? nullptr : &it->second;
    }
    // Inserts or replaces; may evict another entry (never `pid`'s own).
    V& put(pid_t pid, V value) {
        if (auto it = map_.find(pid); it != map_.end()) {
            it->second = std::move(value);
            return it->second;
        }
        if (map_.size() >= limit_) {
            map_.erase(map_.begin());  // O(1) here: any entry will do
            ++evictions_;
        }
        return map_.emplace(pid, std::move(value)).first->second;
    }
    void erase(pid_t pid) { map_.erase(pid); }
    // Drops every entry (not counted as evictions); returns how many there were.
    std::size_t clear() {
        auto n = map_.size();
        std::unordered_map<pid_t, V>().swap(map_);  // clear() would keep the buckets
        return n;
    }

    std::size_t size() const { return map_.size(); }
    std::size_t limit() const { return limit_; }
    std::uint64_t evictions() const { return evictions_; }

private:
    std::unordered_map<pid_t, V> map_;
    std::size_t limit_;
    std::uint64_t evictions_ = 0;
};

}  // namespace ct::node
