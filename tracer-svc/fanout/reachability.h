// Reachability: whether any tracer-node answers tracer-svc, as last seen, for /readyz (a kubelet
// takes a replica out of its Service while it is not ready). Fed by every fan-out (a node
// answers when it gives an HTTP answer that is not a 5xx) and by a probe of every node that the
// node directory's poll makes when no fan-out to the whole directory happened within a poll
// (SvcApi::probe), so /readyz itself never waits for a node. docs/tracer-svc.md.
// Thread-safety: every member from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace ct::svc {

class Reachability {
public:
    using Clock = std::chrono::steady_clock;

    // Rounds older than `fresh` are stale: the next poll probes.
    explicit Reachability(std::chrono::milliseconds fresh) : fresh_(fresh) {}

    // A round asked `asked` nodes and `answered` of them answered. `whole`: it asked every node of
    // the directory (a fan-out of GET /v1/pods, a probe, ...), so none answering means none
    // answers; a round that asked a few (PUT to a session's node) only counts when one answered.
    // `why`: the failures, shown by /readyz while no node answers.
    void record(size_t asked, size_t answered, bool whole, std::string why, Clock::time_point now = Clock::now());

    struct State {
        bool known = false;      // some round ended
        bool answering = false;  // in the last round that counts, some node answered
        size_t asked = 0;
        std::string why;         // when not answering
        Clock::time_point at{};  // when that round ended
    };
    State state() const;
    // No round that counts ended within `fresh`.
    bool stale(Clock::time_point now = Clock::now()) const;

private:
    const std::chrono::milliseconds fresh_;
    mutable std::mutex mu_;  // guards state_
    State state_;
};

}  // namespace ct::svc
