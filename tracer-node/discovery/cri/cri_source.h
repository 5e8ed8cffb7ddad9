// CriSource: ContainerSource over a CRI runtime (containerd, CRI-O, cri-dockerd, k3s).
// list_pods(): ListContainers(RUNNING) -> pod name/namespace from the io.kubernetes.pod.* labels,
// container name from metadata, runtime_id = CRI container id; the container's init PID from
// ContainerStatus(verbose) info["info"].pid (cached per container id while that PID lives);
// Tasks = that PID, its descendants and any other process whose cgroup names the container
// (exec'd processes); Parents = parents of those outside the container (normally the shim).
// Processes are read by an incremental ProcessScanner (process_table.h). update_pods() reuses
// the last ListContainers answer while no process names an unknown container id, every listed
// container's init process lives and the answer is younger than kMaxListAge; list_pods() always
// asks the runtime (GET /v1/pods: a stopped runtime must show).
// Errors: kUnavailable when the runtime does not answer within config.rpc_timeout per call
// (message names the endpoint); it recovers by itself when the runtime is back.
// Thread-safety: list_pods() and update_pods() may be called from many threads; calls are
// serialised.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/cri/cri_client.h"
#include "tracer-node/discovery/discovery_config.h"
#include "tracer-node/discovery/process_table.h"

namespace ct::node::cri {

class CriSource : public ContainerSource {
public:
    // endpoint: a normalized "unix:///..." target. Uses config.procfs_root and rpc_timeout.
    CriSource(std::string endpoint, const DiscoveryConfig& config);

    static constexpr std::chrono::seconds kMaxListAge{5};  // update_pods()'s bound on a reused answer

    std::string describe() const override;
    Result<PodMap> list_pods() override;
    Result<PodMap> update_pods() override;

    CriClient& client() { return client_; }

private:
    Result<PodMap> list(bool ask_runtime);  // mu_ held
    // Init PID of a running container; from the cache when that PID still exists.
    Result<Pid> init_pid(const std::string& container_id);

    CriClient client_;
    std::mutex mu_;  // serialises listings; guards everything below
    ProcessScanner scanner_;
    std::map<std::string, Pid> pid_cache_;  // container id -> init pid
    // The last ListContainers answer, when it was taken, and every container id processes' cgroups
    // named then (listed or not: pod sandboxes are not listed).
    std::optional<std::vector<runtime::v1::Container>> last_list_;
    std::chrono::steady_clock::time_point last_list_time_;
    std::set<std::string> known_ids_;
};

}  // namespace ct::node::cri
