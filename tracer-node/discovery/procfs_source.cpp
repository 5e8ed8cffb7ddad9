#include "tracer-node/discovery/procfs_source.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file_io.h"

namespace ct::node {
namespace {

constexpr size_t kShortIdLength = 12;  // as `crictl ps` / `docker ps` show ids

bool is_pod_member(const ProcessEntry& p, std::uint64_t host_uts_ns) {
    return p.uts_ns != 0 && p.uts_ns != host_uts_ns && !p.is_kernel_thread() && !p.launches_pid_ns();
}

ContainerInfo make_container(const ProcessTable& table, std::string name, const std::string& pod,
                             std::string runtime_id, std::vector<Pid> tasks) {
    ContainerInfo c;
    c.name = std::move(name);
    c.pod = pod;
    c.runtime_id = std::move(runtime_id);
    std::sort(tasks.begin(), tasks.end());
    std::set<Pid> parents;
    for (Pid pid : tasks) {
        const ProcessEntry* p = table.find(pid);
        if (p && p->ppid > 0 && !std::binary_search(tasks.begin(), tasks.end(), p->ppid)) parents.insert(p->ppid);
    }
    c.tasks = std::move(tasks);
    c.parents.assign(parents.begin(), parents.end());
    return c;
}

// Splits one pod's members into containers by cgroup container id.
void fill_containers(const ProcessTable& table, const std::vector<Pid>& members, PodInfo& pod) {
    std::map<std::string, std::vector<Pid>> by_id;  // "" = no recognisable container id
    for (Pid pid : members) {
        const ProcessEntry* p = table.find(pid);
        by_id[p->cgroup ? p->cgroup->container_id : std::string()].push_back(pid);
    }
    for (auto& [id, pids] : by_id) {
        if (id.empty()) {
            pod.containers.insert_or_assign(pod.name, make_container(table, pod.name, pod.name, "", pids));
            continue;
        }
        bool sandbox = std::all_of(pids.begin(), pids.end(), [&](Pid pid) { return table.find(pid)->comm == "pause"; });
        if (sandbox) continue;
        std::string name = id.substr(0, kShortIdLength);
        if (pod.containers.contains(name)) name = id;
        pod.containers.emplace(name, make_container(table, name, pod.name, id, pids));
    }
}

}  // namespace

HostnameResolver::Request pod_namespaces(const ProcessTable& table, std::uint64_t host_uts_ns) {
    HostnameResolver::Request request;
    for (const ProcessEntry& p : table.processes())
        if (is_pod_member(p, host_uts_ns)) request[p.uts_ns].push_back(p.pid);
    return request;
}

PodMap build_pod_map(const ProcessTable& table, std::uint64_t host_uts_ns,
                     const HostnameResolver::Answer& hostnames) {
    PodMap pods;
    for (const auto& [inode, members] : pod_namespaces(table, host_uts_ns)) {
        std::string name;
        auto it = hostnames.find(inode);
        if (it == hostnames.end() || (!it->second && it->second.error().code == Errc::kNotFound)) continue;
        if (it->second && !it->second->empty()) {
            name = *it->second;
        } else {
            if (!it->second) spdlog::debug("procfs: hostname of UTS namespace {}: {}", inode, it->second.error().message);
            name = fmt::format("uts-{}", inode);
        }
        if (pods.contains(name)) name = fmt::format("{}-{}", name, inode);
        PodInfo pod;
        pod.name = name;
        fill_containers(table, members, pod);
        if (!pod.containers.empty()) pods.emplace(name, std::move(pod));
    }
    return pods;
}

ProcfsSource::ProcfsSource(ProcfsSourceOptions options)
    : root_(std::move(options.root)),
      reference_pid_(options.reference_pid > 0 ? options.reference_pid : ::getpid()),
      resolver_(options.resolver ? std::move(options.resolver) : std::make_unique<SetnsHostnameResolver>()),
      scanner_(root_) {}

std::string ProcfsSource::describe() const { return "procfs:" + root_; }

Result<PodMap> ProcfsSource::list_pods() {
    const std::string ref_path = fmt::format("{}/{}/ns/uts", root_, reference_pid_);
    std::string link;
    if (int err = read_link(ref_path, link); err != 0)
        return fail_errno(fmt::format("reading the reference UTS namespace {}", ref_path), err);
    auto host_uts = parse_ns_inode(link, "uts");
    if (!host_uts) return std::unexpected(Error::wrap(host_uts.error(), ref_path));

    std::lock_guard lock(scan_mutex_);
    auto table = scanner_.scan();
    if (!table) return std::unexpected(table.error());

    // Ask only for namespaces whose processes changed; the others keep their last name.
    HostnameResolver::Request ask;
    HostnameResolver::Answer hostnames;
    auto request = pod_namespaces(*table, *host_uts);
    for (auto& [inode, members] : request) {
        auto known = hostnames_.find(inode);
        if (known != hostnames_.end() && known->second.members == members &&
            std::none_of(members.begin(), members.end(), [&](Pid p) { return scanner_.was_read(p); }))
            hostnames.emplace(inode, known->second.hostname);
        else
            ask.emplace(inode, members);
    }
    hostnames.merge(resolver_->resolve(root_, ask));
    std::map<std::uint64_t, Named> next;
    for (auto& [inode, members] : request)
        if (auto it = hostnames.find(inode); it != hostnames.end() && it->second)
            next.emplace(inode, Named{std::move(members), *it->second});
    hostnames_ = std::move(next);  // namespaces that are gone drop out; failures are asked again
    return build_pod_map(*table, *host_uts, hostnames);
}

}  // namespace ct::node
