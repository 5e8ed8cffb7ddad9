// ProcessTable: one scan of <root>/[0-9]* — every process (thread group) with its parent, name,
// namespaces and cgroup identity. A value: immutable after scan(), safe to read from any thread.
// Processes that exit mid-scan (ENOENT/ESRCH on any of their files) are skipped silently.
// ProcessScanner: the same scan, incremental: what it read of each process is kept for the next
// scan, which re-reads only new and changed processes.
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

// Scans <root> again and again, reading each process in full (status, namespaces, cgroup) once:
// a process already seen costs a read of <pid>/stat and two namespace links (a kernel thread:
// its stat only). Its facts are kept
// by (pid, start time) — a PID reused by a new process has another start time — and re-read in
// full when its name changed (an exec: a runtime's init becoming the container's command) or
// its UTS or pid_for_children namespace did (unshare(2), setns(2) without exec). The parent comes
// from stat on every scan (orphans are re-parented). A cgroup move without any of these (rare:
// containers' processes are placed before they exec) shows at the process's next exec.
// Not thread-safe: one owner calls scan() (sources serialise it under their own mutex).
class ProcessScanner {
public:
    explicit ProcessScanner(std::string root) : root_(std::move(root)) {}
    // Errors: as ProcessTable::scan. On error the cache is kept for the next scan.
    Result<ProcessTable> scan();

    struct Counts {
        size_t read = 0;    // processes read in full by the last scan (new or changed)
        size_t reused = 0;  // processes taken from the cache
    };
    Counts last_counts() const { return counts_; }
    // Whether the last scan read `pid` in full (it is new or changed since the scan before).
    bool was_read(Pid pid) const;
    const std::string& root() const { return root_; }

private:
    struct Known {
        std::uint64_t start_time = 0;
        std::string stat_comm;  // as /proc/<pid>/stat shows it (status's Name is escaped)
        ProcessEntry entry;
    };
    std::string root_;
    std::unordered_map<Pid, Known> known_;
    Counts counts_;
    std::vector<Pid> read_;  // pids the last scan read in full, ascending
};

// Every thread id under <root>/<pid>/task/ of each process, sorted and unique. Processes that
// vanished are skipped. Errors: kIo when a task directory fails for another reason.
Result<std::vector<Pid>> threads_of(const std::string& root, const std::vector<Pid>& tgids);

}  // namespace ct::node
