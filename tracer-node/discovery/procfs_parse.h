// procfs_parse: pure parsers for /proc/<pid>/... text. Text in, values out; no files, no globals.
// Callable from any thread. Errors are Errc::kInvalidArgument naming the malformed text; the
// caller wraps them with the path it read (Error::wrap).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"

namespace ct::node {

// From /proc/<pid>/status (also valid for a thread id: then pid != tgid).
struct ProcStatus {
    std::string name;  // "Name:" as the kernel prints it (escaped comm, may contain spaces)
    Pid tgid = 0;
    Pid pid = 0;
    Pid ppid = 0;
    int kthread = -1;  // "Kthread:" (kernels >= 6.x): 1 kernel thread, 0 not, -1 line absent
};
// Requires Name, Tgid, Pid and PPid lines.
Result<ProcStatus> parse_status(std::string_view text);

// From /proc/<pid>/stat: "pid (comm) S ppid ...". comm may hold spaces and ')': it ends at the
// last ')' of the line.
struct ProcStat {
    Pid pid = 0;
    std::string comm;
    char state = '?';
    Pid ppid = 0;
    std::uint64_t start_time = 0;  // field 22, clock ticks since boot: tells a reused PID apart
                                   // (0 when the line stops earlier)
};
Result<ProcStat> parse_stat(std::string_view text);

// Namespace link text "uts:[4026531838]" -> 4026531838. `kind` ("uts", "pid", ...) must match
// when not empty.
Result<std::uint64_t> parse_ns_inode(std::string_view link_text, std::string_view kind = {});

// Who a process belongs to according to its cgroup path. Either field may be empty, never both.
struct CgroupIdentity {
    std::string pod_uid;       // Kubernetes pod UID, with dashes ("1f0c3b1e-...")
    std::string container_id;  // 64 lowercase hex digits
    bool operator==(const CgroupIdentity&) const = default;
};

// One cgroup path ("/kubepods/besteffort/pod<uid>/<id>",
// ".../kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope", "crio-<id>.scope",
// "docker-<id>.scope", kind's "...slice:cri-containerd:<id>"). nullopt when neither a pod UID nor
// a container id is recognisable. CRI-O's "crio-conmon-<id>.scope" is the monitor, not the
// container: no container id.
std::optional<CgroupIdentity> parse_cgroup_path(std::string_view path);

// The whole /proc/<pid>/cgroup file, v1 ("4:memory:/path") and/or v2 ("0::/path") lines. The
// first line naming a container id wins; else the first naming a pod UID; else nullopt.
// Malformed lines are ignored (this never fails: an unknown layout just means "no identity").
std::optional<CgroupIdentity> parse_cgroup(std::string_view text);

}  // namespace ct::node
