// NodeDirectory: the current set of tracer-nodes, refreshed from a NodeSource every poll by its
// own thread. Readers get an immutable snapshot. A failed refresh keeps the previous list (and is
// logged); ready() turns true after the first successful refresh. Nodes that disappear from the
// source are dropped, new ones join, without a restart. on_change runs on the poll thread, and so
// does the on_poll hook after every refresh (tracer-svc probes its nodes there).
// Thread-safety: nodes()/ready() from any thread; set_on_poll()/start()/stop() from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

class NodeDirectory {
public:
    using OnChange = std::function<void(const std::vector<NodeAddress>&)>;
    NodeDirectory(std::unique_ptr<NodeSource> source, std::chrono::milliseconds poll, OnChange on_change = {});
    ~NodeDirectory();

    // Refreshes once now (on the calling thread) and returns the outcome; normally the poll thread does it.
    Status refresh();
    // Runs after each refresh attempt on the poll thread (before start(); blocking delays the next poll).
    void set_on_poll(std::function<void()> on_poll) { on_poll_ = std::move(on_poll); }
    void start();  // starts the poll thread (first refresh immediately)
    void stop();   // idempotent

    std::shared_ptr<const std::vector<NodeAddress>> nodes() const;
    bool ready() const { return ready_.load(); }
    std::string describe() const { return source_->describe(); }
    std::chrono::milliseconds poll() const { return poll_; }
    // Last refresh error, "" when the last refresh worked.
    std::string last_error() const;

private:
    void loop();

    std::unique_ptr<NodeSource> source_;
    std::chrono::milliseconds poll_;
    OnChange on_change_;
    std::function<void()> on_poll_;
    mutable std::mutex mu_;  // guards nodes_, last_error_, stopping_
    std::shared_ptr<const std::vector<NodeAddress>> nodes_;
    std::string last_error_;
    bool stopping_ = false;
    std::condition_variable cv_;
    std::atomic<bool> ready_{false};
    std::thread thread_;
};

}  // namespace ct::svc
