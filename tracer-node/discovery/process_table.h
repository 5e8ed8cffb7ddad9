// ProcessTable: one scan of <root>/[0-9]* — every process (thread group) with its parent, name,
// namespaces and cgroup identity. A value: immutable after scan(), safe to read from any thread.
// Processes that exit mid-scan (ENOENT/ESRCH on any of their files) are skipped silently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/procfs_parse.h"

namespace ct::node {

struct ProcessEntry {
    Pid pid = 0;   // thread-group id
    Pid ppid = 0;
    std::string comm;                 // status "Name:"
    std::uint64_t uts_ns = 0;         // 0 = unreadable (e.g. EACCES, zombie)
    std::uint64_t pid_ns = 0;         // 0 = unreadable
    std::uint64_t pid_ns_children = 0;  // ns/pid_for_children; 0 = unreadable
    std::optional<CgroupIdentity> cgroup;

    int kthread = -1;                   // status "Kthread:"; -1 when the kernel does not say
    // Trust the kernel's flag; only without it guess by kthreadd's pid (wrong inside a PID
    // namespace with its own procfs, where pid 2 is an ordinary process).
    bool is_kernel_thread() const { return kthread >= 0 ? kthread == 1 : (pid == 2 || ppid == 2); }
    // Created a PID namespace it is not in itself (`unshare --pid --fork`, a runtime's launcher):
    // the parent of a pod rather than a member.
    bool launches_pid_ns() const {
        return pid_ns != 0 && pid_ns_children != 0 && pid_ns != pid_ns_children;
    }
};

class ProcessTable {
public:
    // Errors: kIo when `root` itself cannot be listed. Individual unreadable processes never fail
    // the scan.
    static Result<ProcessTable> scan(const std::string& root);
    // For tests and pure callers: a table from entries (sorted and indexed here).
    static ProcessTable from_entries(std::vector<ProcessEntry> entries);

    const std::vector<ProcessEntry>& processes() const { return processes_; }  // sorted by pid
    const ProcessEntry* find(Pid pid) const;  // nullptr when not in the table
    const std::vector<Pid>& children(Pid pid) const;  // direct children, sorted; empty if none
    std::vector<Pid> descendants(Pid pid) const;      // every process below pid, sorted

private:
    std::vector<ProcessEntry> processes_;
    std::unordered_map<Pid, size_t> by_pid_;
    std::unordered_map<Pid, std::vector<Pid>> children_;
};

// Every thread id under <root>/<pid>/task/ of each process, sorted and unique. Processes that
// vanished are skipped. Errors: kIo when a task directory fails for another reason.
Result<std::vector<Pid>> threads_of(const std::string& root, const std::vector<Pid>& tgids);

}  // namespace ct::node
