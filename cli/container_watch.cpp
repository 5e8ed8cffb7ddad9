#include "cli/container_watch.h"

#include <algorithm>

namespace ct::cli {

ContainerWatch::ContainerWatch(std::vector<TracedContainer> traced) : traced_(std::move(traced)) {}

bool ContainerWatch::update(const std::vector<ContainerEntry>& pods) {
    std::set<pid_t> live;
    bool alive = false;
    for (const auto& t : traced_) {
        for (const auto& c : pods) {
            if (c.pod_key != t.pod_key || c.name != t.container) continue;
            if (!c.node.empty() && !t.node.empty() && c.node != t.node) continue;
            bool continues = first_ || std::any_of(c.tasks.begin(), c.tasks.end(), [&](pid_t p) { return known_.contains(p); });
            if (!continues) continue;
            alive |= !c.tasks.empty();
            live.insert(c.tasks.begin(), c.tasks.end());
        }
    }
    first_ = false;
    known_ = std::move(live);
    return alive;
}

}  // namespace ct::cli
