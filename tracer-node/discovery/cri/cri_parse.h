// Pure helpers for CRI discovery: parsing a runtime's verbose container info and assembling the
// PodMap. No I/O, no gRPC; unit-tested on fixtures (tests/unit/cri_parse_test.cpp).
// Thread-safety: all functions are pure and reentrant.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/process_table.h"

namespace ct::node::cri {

// Label keys the kubelet puts on every container (and the test pod runner copies).
inline constexpr std::string_view kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr std::string_view kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr std::string_view kContainerNameLabel = "io.kubernetes.container.name";

// What ContainerStatus(verbose=true) tells about a container's process.
struct VerboseInfo {
    Pid pid = 0;             // host PID of the container's init process
    std::string sandbox_id;  // "" when the runtime does not say
};

// Parses the JSON in ContainerStatusResponse.info["info"] (containerd and CRI-O both put "pid"
// and "sandboxID" there). Errors: kInvalidArgument for malformed JSON, or when "pid" is missing
// or not a positive integer (e.g. 0 for a container that is not running).
Result<VerboseInfo> parse_verbose_info(std::string_view info_json);

// The value of `key` in `labels`, or `fallback` when absent or empty.
std::string label_or(const std::map<std::string, std::string>& labels, std::string_view key,
                     std::string_view fallback);

// Tasks and Parents of a container whose init process is `init_pid`: tasks = init_pid and every
// descendant, sorted; parents = the parents of those tasks that are not tasks themselves (normally
// the runtime's shim), sorted and unique. `ppid_of` returns the parent of a pid or nullopt when
// unknown; `descendants` is the process table's walk (excluding the root itself).
struct TaskSet {
    std::vector<Pid> tasks;
    std::vector<Pid> parents;
};
TaskSet task_set(Pid init_pid, const std::vector<Pid>& descendants,
                 const std::function<std::optional<Pid>(Pid)>& ppid_of);

// Adds a container to its pod in `pods`, creating the pod entry. Pods are keyed by name; when a
// pod of the same name but another namespace is already present, this one is keyed
// "<namespace>/<name>" (container_source.h). A container of the same name in the same pod
// (a restart racing with the listing) keeps the entry with more tasks.
void insert_container(PodMap& pods, ContainerInfo container);

// A cached init pid is still the container's when that process exists and (when its cgroup
// tells) still belongs to the container: PIDs are reused.
bool still_init_of(const ProcessTable& table, Pid pid, const std::string& container_id);

// Whether the runtime's last container list still describes the node (CriSource::update_pods):
// false when a process's cgroup names a container id not in `known_ids` (a container started
// since), or a listed container (`init_pids`: each listed id -> its init pid, 0 when unknown)
// has no live init (it stopped, or its PID was reused).
bool listing_still_holds(const ProcessTable& table, const std::set<std::string>& known_ids,
                         const std::map<std::string, Pid>& init_pids);

}  // namespace ct::node::cri
