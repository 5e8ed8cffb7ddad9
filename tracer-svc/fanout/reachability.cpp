#include "tracer-svc/fanout/reachability.h"

namespace ct::svc {

void Reachability::record(size_t asked, size_t answered, bool whole, std::string why, Clock::time_point now) {
    if (asked == 0 || (!whole && answered == 0)) return;
    std::lock_guard lock(mu_);
    state_ = {.known = true, .answering = answered > 0, .asked = asked, .why = answered > 0 ? "" : std::move(why), .at = now};
}

Reachability::State Reachability::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

bool Reachability::stale(Clock::time_point now) const {
    std::lock_guard lock(mu_);
    return !state_.known || now - state_.at >= fresh_;
}

}  // namespace ct::svc
