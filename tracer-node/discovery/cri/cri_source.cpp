#include "tracer-node/discovery/cri/cri_source.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tracer-node/discovery/cri/cri_parse.h"
#include "tracer-node/discovery/process_table.h"

namespace ct::node::cri {

namespace {

std::map<std::string, std::string> to_map(const google::protobuf::Map<std::string, std::string>& m) {
    return {m.begin(), m.end()};
}

// Processes that name a container in their cgroup: catches exec'd processes, which are children
// of the shim rather than descendants of the container's init.
std::map<std::string, std::vector<Pid>> by_container_cgroup(const ProcessTable& table) {
    std::map<std::string, std::vector<Pid>> out;
    for (const auto& p : table.processes())
        if (p.cgroup && !p.cgroup->container_id.empty()) out[p.cgroup->container_id].push_back(p.pid);
    return out;
}

}  // namespace

CriSource::CriSource(std::string endpoint, const DiscoveryConfig& config)
    : client_(std::move(endpoint), config.rpc_timeout), scanner_(config.procfs_root) {}

std::string CriSource::describe() const { return fmt::format("cri:{}", client_.endpoint()); }

Result<Pid> CriSource::init_pid(const std::string& container_id) {
    auto status = client_.container_status(container_id, /*verbose=*/true);
    if (!status) return std::unexpected(status.error());
    auto info = status->info().find("info");
    if (info == status->info().end())
        return fail(Errc::kInternal, fmt::format("ContainerStatus({}) on {} has no verbose info[\"info\"]",
                                                 container_id, client_.endpoint()));
    auto parsed = parse_verbose_info(info->second);
    if (!parsed)
        return std::unexpected(Error::wrap(parsed.error(), fmt::format("ContainerStatus({}) on {}",
                                                                       container_id, client_.endpoint())));
    return parsed->pid;
}

Result<PodMap> CriSource::list_pods() {
    std::lock_guard lock(mu_);
    return list(true);
}

Result<PodMap> CriSource::update_pods() {
    std::lock_guard lock(mu_);
    return list(false);
}

Result<PodMap> CriSource::list(bool ask_runtime) {
    const auto now = std::chrono::steady_clock::now();
    std::optional<ProcessTable> table;
    if (!ask_runtime && last_list_ && now - last_list_time_ < kMaxListAge) {
        // A container started or stopped since the last answer shows in /proc: a process naming
        // an unknown id, or a listed container's init gone. Otherwise that answer still holds.
        auto scanned = scanner_.scan();
        if (!scanned) return std::unexpected(Error::wrap(scanned.error(), "listing CRI containers' processes"));
        table = std::move(*scanned);
        std::map<std::string, Pid> init_pids;
        for (const auto& c : *last_list_) {
            auto it = pid_cache_.find(c.id());
            init_pids[c.id()] = it == pid_cache_.end() ? 0 : it->second;
        }
        ask_runtime = !listing_still_holds(*table, known_ids_, init_pids);
    } else {
        ask_runtime = true;
    }
    if (ask_runtime) {
        auto listed = client_.list_running_containers();
        if (!listed) return std::unexpected(listed.error());
        // Scanned after listing: every listed container's init is in the table (or gone).
        auto scanned = scanner_.scan();
        if (!scanned) return std::unexpected(Error::wrap(scanned.error(), "listing CRI containers' processes"));
        table = std::move(*scanned);
        last_list_ = std::move(*listed);
        last_list_time_ = now;
    }
    const auto by_cgroup = by_container_cgroup(*table);
    if (ask_runtime) {
        known_ids_.clear();
        for (const auto& c : *last_list_) known_ids_.insert(c.id());
        for (const auto& [id, pids] : by_cgroup) known_ids_.insert(id);
    }
    const auto& containers = *last_list_;

    const std::map<std::string, Pid>& cache = pid_cache_;
    std::map<std::string, Pid> fresh_cache;
    PodMap pods;
    for (const auto& c : containers) {
        Pid pid = 0;
        if (auto it = cache.find(c.id()); it != cache.end() && still_init_of(*table, it->second, c.id())) {
            pid = it->second;
        } else {
            auto looked_up = init_pid(c.id());
            if (!looked_up) {
                // The runtime went away: the whole answer is unknown. A container that vanished
                // or is not running any more between the two calls is just left out.
                if (looked_up.error().code == Errc::kUnavailable) return std::unexpected(looked_up.error());
                spdlog::debug("cri: skipping container {}: {}", c.id(), looked_up.error().message);
                continue;
            }
            pid = *looked_up;
        }
        fresh_cache[c.id()] = pid;

        auto labels = to_map(c.labels());
        ContainerInfo info;
        info.name = c.metadata().name().empty() ? label_or(labels, kContainerNameLabel, c.id())
                                                : c.metadata().name();
        info.pod = label_or(labels, kPodNameLabel, c.pod_sandbox_id());
        info.pod_namespace = label_or(labels, kPodNamespaceLabel, "");
        info.runtime_id = c.id();

        std::vector<Pid> members;
        if (table->find(pid)) members = table->descendants(pid);
        if (auto it = by_cgroup.find(c.id()); it != by_cgroup.end()) {
            for (Pid p : it->second) {
                if (p == pid) continue;
                members.push_back(p);
                auto below = table->descendants(p);
                members.insert(members.end(), below.begin(), below.end());
            }
        }
        auto set = task_set(pid, members, [&](Pid p) -> std::optional<Pid> {
            const ProcessEntry* e = table->find(p);
            return e ? std::optional(e->ppid) : std::nullopt;
        });
        if (!table->find(pid)) {
            // Exited between ContainerStatus and the scan: nothing of it is left to trace.
            spdlog::debug("cri: container {} init pid {} is gone", c.id(), pid);
            continue;
        }
        info.tasks = std::move(set.tasks);
        info.parents = std::move(set.parents);
        insert_container(pods, std::move(info));
    }
    pid_cache_ = std::move(fresh_cache);
    return pods;
}

}  // namespace ct::node::cri
