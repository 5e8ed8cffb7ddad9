// ProcfsSource: pods and containers discovered from a procfs tree (the --use-procfs fallback).
//
// Rules (docs/architecture.md, "Discovery"; docs/api.md, "GET /v1/pods"):
// - A pod is a UTS namespace other than the reference process's (tracer-node's own by default,
//   not PID 1's, whose namespaces are unreadable from a container). Members: the processes in it,
//   except kernel threads and launchers — a process that created a PID namespace it is not in
//   itself (`unshare --pid --fork`, a runtime's init) is the pod's parent, not a member.
// - Pod name = that namespace's hostname. Should a second namespace (in ascending inode order)
//   carry the same hostname, it is named "<hostname>-<ns inode>"; key and PodInfo::name are equal.
//   A namespace whose hostname cannot be read (no CAP_SYS_ADMIN) is named "uts-<ns inode>"; one
//   whose processes all exited between scan and lookup is dropped.
// - Containers: split by the cgroup's container id (kubepods/CRI paths): name = the id's first
//   12 characters (the whole id on a prefix clash), runtime_id = the id. Members without a
//   recognisable id form one container named like the pod (the seed's one-container-per-pod
//   case). A container whose processes are all "pause" is the pod sandbox and not listed (CRI
//   does not list it either).
// - Tasks: sorted tgids of the container's processes. Parent: sorted unique PPIDs of those
//   processes that are not in the container themselves (containerd-shim, the unshare process).
// Incremental: a ProcessScanner keeps what it read of each process between calls, so a listing
// reads only new and changed processes in full (docs/architecture.md, "Discovery"). A
// namespace's hostname is asked again only when its set of processes changed or one of them was
// read again (new, exec'd, reused PID): the `hostname` command is such a process; a process
// that calls sethostname(2) itself and changes nothing else keeps the old name until then.
// Thread-safety: any thread may call list_pods(); calls are serialised.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/hostname_resolver.h"
#include "tracer-node/discovery/process_table.h"

namespace ct::node {

struct ProcfsSourceOptions {
    std::string root = "/proc";
    Pid reference_pid = 0;                       // 0 = getpid(): tracer-node is the host reference
    std::unique_ptr<HostnameResolver> resolver;  // null = SetnsHostnameResolver
};

class ProcfsSource final : public ContainerSource {
public:
    explicit ProcfsSource(ProcfsSourceOptions options);
    std::string describe() const override;  // "procfs:/proc"
    // Errors: kIo when the root cannot be listed or the reference's UTS namespace is unreadable.
    Result<PodMap> list_pods() override;

private:
    std::string root_;
    Pid reference_pid_;
    std::unique_ptr<HostnameResolver> resolver_;
    struct Named {
        std::vector<Pid> members;  // as pod_namespaces() listed them
        std::string hostname;
    };
    std::mutex scan_mutex_;   // guards the two below
    ProcessScanner scanner_;
    std::map<std::uint64_t, Named> hostnames_;  // UTS namespace inode -> last resolved name
};

// The pure half of list_pods(), exposed for tests: which namespaces are pods (inode -> member
// pids, for the resolver), and the pod map from a table and the resolver's answer.
HostnameResolver::Request pod_namespaces(const ProcessTable& table, std::uint64_t host_uts_ns);
PodMap build_pod_map(const ProcessTable& table, std::uint64_t host_uts_ns,
                     const HostnameResolver::Answer& hostnames);

}  // namespace ct::node
