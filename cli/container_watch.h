// Whether the containers a trace session traces still run (docs/cli.md "When tracing ends"):
// fed with successive GET /v1/pods answers, it says "ended" once none of the session's
// containers runs any process it was seen running in the previous answer. A container that is no longer listed
// has ended; one listed again under the same name with only new processes (restarted) has ended
// too, since the session traces the processes it started with and their children. Pure.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/model.h"

namespace ct::cli {

struct TracedContainer {
    std::string node;  // the session's node; matched against a container's Node when both are known
    std::string pod_key;
    std::string container;
};

class ContainerWatch {
public:
    explicit ContainerWatch(std::vector<TracedContainer> traced);

    // Feeds one pods answer; returns true while at least one traced container still runs a
    // process of the previous answer (the first answer: any process). A container's processes
    // are compared answer to answer, so children forked in between keep it alive.
    bool update(const std::vector<ContainerEntry>& pods);

private:
    std::vector<TracedContainer> traced_;
    std::set<pid_t> known_;
    bool first_ = true;
};

}  // namespace ct::cli
