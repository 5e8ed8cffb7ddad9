// CriSource: ContainerSource over a CRI runtime (containerd, CRI-O, cri-dockerd, k3s).
// list_pods(): ListContainers(RUNNING) -> pod name/namespace from the io.kubernetes.pod.* labels,
// container name from metadata, runtime_id = CRI container id; the container's init PID from
// ContainerStatus(verbose) info["info"].pid (cached per container id while that PID lives);
// Tasks = that PID, its descendants and any other process whose cgroup names the container
// (exec'd processes); Parents = parents of those outside the container (normally the shim).
// Errors: kUnavailable when the runtime does not answer within config.rpc_timeout per call
// (message names the endpoint); it recovers by itself when the runtime is back.
// Thread-safety: list_pods() may be called from many threads at once.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/cri/cri_client.h"
#include "tracer-node/discovery/discovery_config.h"

namespace ct::node::cri {

class CriSource : public ContainerSource {
public:
    // endpoint: a normalized "unix:///..." target. Uses config.procfs_root and rpc_timeout.
    CriSource(std::string endpoint, const DiscoveryConfig& config);

    std::string describe() const override;
    Result<PodMap> list_pods() override;

    CriClient& client() { return client_; }

private:
    // Init PID of a running container; from the cache when that PID still exists.
    Result<Pid> init_pid(const std::string& container_id);

    CriClient client_;
    std::string procfs_root_;
    std::mutex mu_;
    std::map<std::string, Pid> pid_cache_;  // container id -> init pid; guarded by mu_
};

}  // namespace ct::node::cri
