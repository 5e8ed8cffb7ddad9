// HostnameResolver: the hostname of UTS namespaces, i.e. the pod name procfs discovery shows.
// SetnsHostnameResolver is the real one; StaticHostnameResolver answers from a map (fixtures).
// Both are stateless apart from construction and may be called from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"

namespace ct::node {

class HostnameResolver {
public:
    // UTS namespace inode -> pids seen in it (tried in order until one still lives there).
    using Request = std::map<std::uint64_t, std::vector<Pid>>;
    // One entry per requested namespace: its hostname, or an error. kNotFound means every pid
    // vanished (or was reused outside the namespace): the namespace is gone, not a failure.
    using Answer = std::map<std::uint64_t, Result<std::string>>;

    virtual ~HostnameResolver() = default;
    virtual Answer resolve(const std::string& procfs_root, const Request& namespaces) = 0;
};

// Joins each namespace from a short-lived std::thread (setns(CLONE_NEWUTS) changes only the
// calling thread's UTS namespace, never the process's) and reads uname(). One thread per call,
// all namespaces in it. Needs CAP_SYS_ADMIN; without it every namespace answers kIo.
class SetnsHostnameResolver final : public HostnameResolver {
public:
    Answer resolve(const std::string& procfs_root, const Request& namespaces) override;
};

// Answers from a fixed inode -> hostname map; unknown inodes answer kNotFound.
class StaticHostnameResolver final : public HostnameResolver {
public:
    explicit StaticHostnameResolver(std::map<std::uint64_t, std::string> names) : names_(std::move(names)) {}
    Answer resolve(const std::string& procfs_root, const Request& namespaces) override;

private:
    std::map<std::uint64_t, std::string> names_;
};

}  // namespace ct::node
