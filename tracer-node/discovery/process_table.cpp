#include "tracer-node/discovery/process_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "common/strings.h"

namespace ct::node {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Numeric entries of a directory, and when asked their inode numbers (same order). 0 or an
// errno value.
int list_pids(const std::string& dir, std::vector<Pid>& out, std::vector<std::uint64_t>* inodes = nullptr) {
    out.clear();
    if (inodes) inodes->clear();
    DirPtr d(::opendir(dir.c_str()));
    if (!d) return errno;
    errno = 0;
    while (dirent* e = ::readdir(d.get())) {
        auto n = parse_u64(e->d_name);
        if (n && *n > 0 && *n <= static_cast<unsigned long long>(std::numeric_limits<Pid>::max())) {
            out.push_back(static_cast<Pid>(*n));
            if (inodes) inodes->push_back(e->d_ino);
        }
    }
    return errno;  // readdir leaves it 0 at the end of the directory
}

// A namespace inode, 0 when unreadable (the reason only matters for logging).
std::uint64_t ns_inode(const std::string& proc_dir, const char* name, const char* kind) {
    std::string link;
    if (read_link(fmt::format("{}/ns/{}", proc_dir, name), link) != 0) return 0;
    auto inode = parse_ns_inode(link, kind);
    return inode ? *inode : 0;
}

// The checks a scan makes of every known process, relative to the open root directory: each call
// walks one path component less than "<root>/<pid>/...", and path walks are most of a scan's
// cost (docs/benchmarks.md, "Discovery"). `rel` is "<pid>/stat", "<pid>/ns/uts", ...
int read_at(int dir_fd, const char* rel, std::string& out) {
    FD fd(::openat(dir_fd, rel, O_RDONLY | O_CLOEXEC));
    if (!fd) return errno;
    out.clear();
    char buf[1024];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return 0;
        out.append(buf, static_cast<size_t>(n));
    }
}

std::uint64_t ns_inode_at(int dir_fd, const char* rel, const char* kind) {
    char buf[64];
    ssize_t n = ::readlinkat(dir_fd, rel, buf, sizeof buf);
    if (n <= 0) return 0;
    auto inode = parse_ns_inode(std::string_view(buf, static_cast<size_t>(n)), kind);
    return inode ? *inode : 0;
}

// nullopt when the process vanished or is not a thread-group leader (a fixture, or a caller
// handing in a thread id).
std::optional<ProcessEntry> read_process(const std::string& dir, Pid pid) {
    std::string text;
    if (int err = read_file(dir + "/status", text); err != 0) {
        if (!vanished_errno(err)) spdlog::debug("procfs: skipping {}/status: {}", dir, std::strerror(err));
        return std::nullopt;
    }
    auto status = parse_status(text);
    if (!status) {
        spdlog::debug("procfs: skipping {}: {}", dir, status.error().message);
        return std::nullopt;
    }
    if (status->tgid != pid) return std::nullopt;

    ProcessEntry entry;
    entry.pid = pid;
    entry.ppid = status->ppid;
    entry.kthread = status->kthread;
    entry.comm = std::move(status->name);
    entry.uts_ns = ns_inode(dir, "uts", "uts");
    entry.pid_ns = ns_inode(dir, "pid", "pid");
    entry.pid_ns_children = ns_inode(dir, "pid_for_children", "pid");
    if (int err = read_file(dir + "/cgroup", text); err == 0) {
        entry.cgroup = parse_cgroup(text);
    } else if (vanished_errno(err)) {
        return std::nullopt;
    }
    return entry;
}

}  // namespace

Result<ProcessTable> ProcessTable::scan(const std::string& root) {
    std::vector<Pid> pids;
    if (int err = list_pids(root, pids); err != 0) return fail_errno(fmt::format("listing {}", root), err);
    std::vector<ProcessEntry> entries;
    entries.reserve(pids.size());
    for (Pid pid : pids) {
        if (auto entry = read_process(fmt::format("{}/{}", root, pid), pid)) entries.push_back(std::move(*entry));
    }
    return from_entries(std::move(entries));
}

Result<ProcessTable> ProcessScanner::scan() {
    std::vector<Pid> pids;
    std::vector<std::uint64_t> inodes;
    if (int err = list_pids(root_, pids, &inodes); err != 0) return fail_errno(fmt::format("listing {}", root_), err);
    FD root_fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return fail_errno(fmt::format("opening {}", root_));
    std::unordered_map<Pid, Known> next;
    next.reserve(pids.size());
    std::vector<ProcessEntry> entries;
    entries.reserve(pids.size());
    counts_ = {};
    read_.clear();
    std::string text;
    char rel[64];
    auto path = [&](Pid pid, const char* file) {
        *fmt::format_to_n(rel, sizeof rel - 1, "{}/{}", pid, file).out = '\0';
        return rel;
    };
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < pids.size(); ++i) {
        const Pid pid = pids[i];
        auto old = known_.find(pid);
        // Settled and not due: the same directory (procfs gives a new one, with another inode
        // number, to a new process that reuses the PID) is the same process; nothing to read.
        if (old != known_.end() && old->second.inode == inodes[i] && now - old->second.first_seen >= options_.settle &&
            now - old->second.checked < options_.recheck + options_.recheck * (pid % 16) / 16) {
            entries.push_back(old->second.entry);
            next.emplace(pid, std::move(old->second));
            ++counts_.trusted;
            continue;
        }
        if (read_at(root_fd.get(), path(pid, "stat"), text) != 0) continue;  // gone (or unreadable: so is the rest)
        auto stat = parse_stat(text);
        if (!stat) continue;
        Known known;
        // A kernel thread neither execs nor changes namespaces: its start time is enough.
        auto same_namespaces = [&](const ProcessEntry& e) {
            return e.kthread == 1 || (e.uts_ns == ns_inode_at(root_fd.get(), path(pid, "ns/uts"), "uts") &&
                                      e.pid_ns_children == ns_inode_at(root_fd.get(), path(pid, "ns/pid_for_children"), "pid"));
        };
        if (old != known_.end() && old->second.start_time == stat->start_time && old->second.stat_comm == stat->comm &&
            same_namespaces(old->second.entry)) {
            known = std::move(old->second);
            known.entry.ppid = stat->ppid;
            ++counts_.reused;
        } else {
            auto entry = read_process(fmt::format("{}/{}", root_, pid), pid);
            if (!entry) continue;
            known = Known{stat->start_time, std::move(stat->comm), std::move(*entry)};
            known.first_seen = now;
            ++counts_.read;
            read_.push_back(pid);
        }
        known.inode = inodes[i];
        known.checked = now;
        entries.push_back(known.entry);
        next.emplace(pid, std::move(known));
    }
    known_ = std::move(next);  // exited processes drop out
    return ProcessTable::from_entries(std::move(entries));
}

bool ProcessScanner::was_read(Pid pid) const { return std::binary_search(read_.begin(), read_.end(), pid); }

ProcessTable ProcessTable::from_entries(std::vector<ProcessEntry> entries) {
    ProcessTable table;
    std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.pid < b.pid; });
    table.processes_ = std::move(entries);
    for (size_t i = 0; i < table.processes_.size(); ++i) {
        const ProcessEntry& p = table.processes_[i];
        table.by_pid_.emplace(p.pid, i);
        table.children_[p.ppid].push_back(p.pid);  // pids ascend, so each list is sorted
    }
    return table;
}

const ProcessEntry* ProcessTable::find(Pid pid) const {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : &processes_[it->second];
}

const std::vector<Pid>& ProcessTable::children(Pid pid) const {
    static const std::vector<Pid> kNone;
    auto it = children_.find(pid);
    return it == children_.end() ? kNone : it->second;
}

std::vector<Pid> ProcessTable::descendants(Pid pid) const {
    std::unordered_set<Pid> seen = {pid};  // also guards against cycles in odd fixture data
    std::vector<Pid> out;
    std::vector<Pid> todo = {pid};
    while (!todo.empty()) {
        Pid next = todo.back();
        todo.pop_back();
        for (Pid child : children(next)) {
            if (!seen.insert(child).second) continue;
            out.push_back(child);
            todo.push_back(child);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::vector<Pid>> threads_of(const std::string& root, const std::vector<Pid>& tgids) {
    std::vector<Pid> out, tids;
    for (Pid tgid : tgids) {
        const std::string dir = fmt::format("{}/{}/task", root, tgid);
        if (int err = list_pids(dir, tids); err != 0) {
            if (vanished_errno(err)) continue;
            return fail_errno(fmt::format("listing {}", dir), err);
        }
        out.insert(out.end(), tids.begin(), tids.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace ct::node
