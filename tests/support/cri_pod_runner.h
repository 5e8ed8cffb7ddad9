// CriPodRunner (tests only): runs pods and containers on a CRI runtime through the project's own
// generated runtime.v1 code, the way the kubelet would for a host-network pod: sandbox with
// namespace_options.network = NODE, no hostname, cgroup_parent /kubepods/besteffort/pod<uid>,
// the io.kubernetes.* labels on sandbox and containers.
// Remembers the configs it used, so restart_container() can recreate a container by name.
// Errors are Result errors naming the RPC and the pod/container (never exceptions).
// Thread-safety: one test thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "tests/support/oci_image.h"
#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/cri/cri_client.h"

namespace ct::test {

struct PodSpec {
    std::string name;                     // io.kubernetes.pod.name
    std::string pod_namespace = "default";
    std::string uid{};                    // "" = a fresh random UUID
    // A DaemonSet agent's pod (hostPID, a privileged container): host PID namespace and a
    // privileged sandbox (containerd refuses privileged containers in an unprivileged one).
    bool host_pid = false;
    bool privileged = false;
    std::string log_directory{};          // host dir for container logs ("" = output dropped)
};

struct BindMount {
    std::string host_path;       // e.g. a static test helper built by the project
    std::string container_path;  // e.g. "/opt/helper"
    bool readonly = true;
};

struct ContainerSpec {
    std::string name;
    std::vector<std::string> command;  // argv; busybox has only /bin/* applets
    std::string image = kBusyboxImage;
    std::vector<BindMount> mounts = {};        // to run host binaries inside the container
    std::vector<std::string> env = {};         // "KEY=VALUE"
    // CRI args: with an empty `command` the image's Entrypoint runs with these (a pod's `args:`).
    std::vector<std::string> args = {};
    bool privileged = false;                   // needs PodSpec::privileged
    std::string log_path = {};                 // relative to PodSpec::log_directory
};

// A shell loop that keeps a container running, one sleep child at a time.
std::vector<std::string> idle_command();

struct RunningPod {
    std::string sandbox_id;
    std::string uid;
};

class CriPodRunner {
public:
    // endpoint: "unix:///.../containerd.sock". Sandbox and container creation take seconds.
    explicit CriPodRunner(std::string endpoint,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

    Result<RunningPod> run_pod(const PodSpec& spec);
    // CreateContainer + StartContainer in the sandbox; returns the container id.
    Result<std::string> start_container(const std::string& sandbox_id, const ContainerSpec& spec);
    // Stops (timeout 0 = SIGKILL) and removes container `name` of the sandbox, then creates and
    // starts it again with the same spec (or `new_command` when not empty). Returns the new id.
    Result<std::string> restart_container(const std::string& sandbox_id, const std::string& name,
                                          const std::vector<std::string>& new_command = {});
    // timeout 0 = SIGKILL at once; otherwise SIGTERM, then SIGKILL after `timeout` (a graceful stop).
    Status stop_container(const std::string& container_id, std::chrono::seconds timeout = std::chrono::seconds(0));
    Status remove_container(const std::string& container_id);
    // Host PID of the container's init (ContainerStatus verbose info).
    Result<node::Pid> container_pid(const std::string& container_id);
    // Id of container `name` in the sandbox, as last started by this runner.
    Result<std::string> container_id(const std::string& sandbox_id, const std::string& name) const;

    // StopPodSandbox + RemovePodSandbox (its containers go with it).
    Status remove_pod(const std::string& sandbox_id);
    // Every sandbox the runtime lists (not only this runner's): the fixtures' cleanup. Returns the
    // pod UIDs it removed, for cgroup cleanup.
    Result<std::vector<std::string>> remove_all_pods();

    node::cri::CriClient& client() { return client_; }

private:
    struct SandboxRecord {
        runtime::v1::PodSandboxConfig config;
        std::map<std::string, ContainerSpec> specs;      // by container name
        std::map<std::string, std::string> ids;          // container name -> id
        std::map<std::string, unsigned> attempts;        // container name -> last attempt
    };

    node::cri::CriClient client_;
    std::map<std::string, SandboxRecord> sandboxes_;  // by sandbox id
};

}  // namespace ct::test
