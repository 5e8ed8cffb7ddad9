#include "tracer-node/discovery/hostname_resolver.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cerrno>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "common/fd.h"
#include "common/file_io.h"

namespace ct::node {
namespace {

// Runs on the resolver thread: this thread's UTS namespace ends up as the last one joined,
// and dies with the thread.
Result<std::string> hostname_in(const std::string& root, std::uint64_t inode, const std::vector<Pid>& pids) {
    for (Pid pid : pids) {
        const std::string path = fmt::format("{}/{}/ns/uts", root, pid);
        FD fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            if (vanished_errno(errno)) continue;
            return fail_errno(fmt::format("opening {}", path));
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return fail_errno(fmt::format("stat {}", path));
        if (st.st_ino != inode) continue;  // pid reused by a process in another namespace
        if (::setns(fd.get(), CLONE_NEWUTS) != 0)
            return fail_errno(fmt::format("setns(CLONE_NEWUTS) into {}", path));
        struct utsname uts {};
        if (::uname(&uts) != 0) return fail_errno(fmt::format("uname in {}", path));
        return std::string(uts.nodename);
    }
    return fail(Errc::kNotFound, fmt::format("UTS namespace {} has no live process left", inode));
}

}  // namespace

HostnameResolver::Answer SetnsHostnameResolver::resolve(const std::string& procfs_root,
                                                        const Request& namespaces) {
    Answer answer;
    if (namespaces.empty()) return answer;
    try {
        std::thread worker([&] {
            for (const auto& [inode, pids] : namespaces)
                answer.emplace(inode, hostname_in(procfs_root, inode, pids));
        });
        worker.join();
    } catch (const std::system_error& e) {  // thread creation failed (limits)
        for (const auto& [inode, pids] : namespaces)
            answer.insert_or_assign(inode, fail(Errc::kIo, fmt::format("starting the hostname thread: {}", e.what())));
    }
    return answer;
}

HostnameResolver::Answer StaticHostnameResolver::resolve(const std::string&, const Request& namespaces) {
    Answer answer;
    for (const auto& [inode, pids] : namespaces) {
        auto it = names_.find(inode);
        if (it == names_.end())
            answer.emplace(inode, fail(Errc::kNotFound, fmt::format("no hostname for UTS namespace {}", inode)));
        else
            answer.emplace(inode, it->second);
    }
    return answer;
}

}  // namespace ct::node
