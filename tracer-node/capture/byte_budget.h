// ByteBudget: a byte count that several owners draw from together, up to a fixed limit — the
// node-wide bound on memory held in queues that grow with the number of sessions (raw pages
// waiting for decoding). Whoever takes bytes gives them back (ByteBudget::Held does it on
// destruction). Thread-safe, lock-free; shared by its users through shared_ptr.
#pragma once

#include <atomic>
#include <cstddef>

namespace ct::node {

class ByteBudget {
public:
    explicit ByteBudget(std::size_t limit) : limit_(limit) {}
    ByteBudget(const ByteBudget&) = delete;
    ByteBudget& operator=(const ByteBudget&) = delete;

    // Takes n bytes when that keeps the total within the limit; false (nothing taken) otherwise.
    bool try_take(std::size_t n) {
        std::size_t used = used_.load(std::memory_order_relaxed);
        do {
            if (n > limit_ - used) return false;
        } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
        return true;
    }
    // Returns n bytes taken earlier.
    void give_back(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

    std::size_t used() const { return used_.load(std::memory_order_relaxed); }
    std::size_t limit() const { return limit_; }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> used_{0};
};

}  // namespace ct::node
