// ProcessTable: one scan of <root>/[0-9]* — every process (thread group) with its parent, name,
// namespaces and cgroup identity. A value: immutable after scan(), safe to read from any thread.
// Processes that exit mid-scan (ENOENT/ESRCH on any of their files) are skipped silently.
// ProcessScanner: the same scan, incremental: what it read of each process is kept for the next
// scan, which re-reads only new and changed processes.
#pragma once

#include <chrono>
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

// Scans <root> again and again, reading each process in full (status, namespaces, cgroup) once.
// A process already seen is checked — a read of <pid>/stat and two namespace links (a kernel
// thread: its stat only) — on every scan while it is young (seen for less than `settle`), then
// about every `recheck`; in between it costs nothing: its directory's inode number (from the
// listing) tells it is the same process, as procfs gives a new process reusing a PID a new
// directory. A check re-reads the process in full when its start time changed (a reused PID),
// its name did (an exec: a runtime's init becoming the container's command) or its UTS or
// pid_for_children namespace did (unshare(2), setns(2)); the parent comes from stat (orphans are
// re-parented). So new processes, exits and reused PIDs show on the next scan; an exec or a
// namespace change of a process older than `settle` shows within `recheck` to 2 x `recheck`;
// a cgroup move without any of these shows at the process's next exec (containers' processes are
// placed before they exec).
// Not thread-safe: one owner calls scan() (sources serialise it under their own mutex).
struct ProcessScannerOptions {
    std::chrono::milliseconds settle{5000};
    std::chrono::milliseconds recheck{30000};  // spread by pid over [recheck, 2 x recheck)
};

class ProcessScanner {
public:
    explicit ProcessScanner(std::string root, ProcessScannerOptions options = {})
        : root_(std::move(root)), options_(options) {}
    // Errors: as ProcessTable::scan. On error the cache is kept for the next scan.
    Result<ProcessTable> scan();

    struct Counts {
        size_t read = 0;     // processes read in full by the last scan (new or changed)
        size_t reused = 0;   // checked and found unchanged
        size_t trusted = 0;  // settled: taken from the cache without a check
    };
    Counts last_counts() const { return counts_; }
    // Whether the last scan read `pid` in full (it is new or changed since the scan before).
    bool was_read(Pid pid) const;

private:
    struct Known {
        std::uint64_t start_time = 0;
        std::string stat_comm;  // as /proc/<pid>/stat shows it (status's Name is escaped)
        ProcessEntry entry;
        std::uint64_t inode = 0;  // of <root>/<pid>, from the listing
        std::chrono::steady_clock::time_point first_seen, checked;
    };
    std::string root_;
    ProcessScannerOptions options_;
    std::unordered_map<Pid, Known> known_;
    Counts counts_;
    std::vector<Pid> read_;  // pids the last scan read in full, ascending
};

// Every thread id under <root>/<pid>/task/ of each process, sorted and unique. Processes that
// vanished are skipped. Errors: kIo when a task directory fails for another reason.
Result<std::vector<Pid>> threads_of(const std::string& root, const std::vector<Pid>& tgids);

}  // namespace ct::node
