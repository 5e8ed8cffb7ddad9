// ContainerSource: where tracer-node learns which pods and containers run on this node.
// To add a source: implement list_pods() over your runtime, add it to make_container_source()
// in discovery/source_select.cpp, and test its parser on fixtures.
// Sources are called from API threads concurrently; implementations must be thread-safe.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct::node {

using Pid = pid_t;

// One container as the API shows it. Seed fields: Id (= name), Parent, Pod, Tasks.
struct ContainerInfo {
    std::string name;           // container name; the seed's "Id" shows this
    std::string pod;            // pod name
    std::string pod_namespace;  // Kubernetes namespace; "" when unknown (procfs)
    std::string runtime_id;     // runtime's container id (CRI) or the cgroup's; "" when none
    std::vector<Pid> tasks;     // host PIDs (thread-group ids) of the container's processes, sorted
    std::vector<Pid> parents;   // parents of those processes that are outside the container, sorted, unique
};

struct PodInfo {
    std::string name;
    std::string pod_namespace;
    std::map<std::string, ContainerInfo> containers;  // key: container name
};

// Key: pod name (as the seed). Should two namespaces hold the same pod name, the later one
// is keyed "<namespace>/<name>".
using PodMap = std::map<std::string, PodInfo>;

class ContainerSource {
public:
    virtual ~ContainerSource() = default;
    // Human-readable origin for logs: "procfs:/proc", "cri:unix:///run/containerd/containerd.sock".
    virtual std::string describe() const = 0;
    // A fresh snapshot of the node's pods. Errors: kUnavailable when the runtime does not answer
    // (within a short timeout, never hanging), kIo for unreadable roots.
    virtual Result<PodMap> list_pods() = 0;
    // The same snapshot for periodic refreshes (the janitor's, the pod index's own), allowed to
    // skip what is costly when the node shows nothing new: CriSource asks the runtime only when a
    // process names a container it has not listed, a listed container's init process is gone, or
    // its last answer is older than a few seconds. Same errors as list_pods().
    virtual Result<PodMap> update_pods() { return list_pods(); }
};

}  // namespace ct::node
