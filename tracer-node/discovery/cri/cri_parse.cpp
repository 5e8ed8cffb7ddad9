#include "tracer-node/discovery/cri/cri_parse.h"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace ct::node::cri {

namespace json = boost::json;

Result<VerboseInfo> parse_verbose_info(std::string_view info_json) {
    boost::system::error_code ec;
    json::value doc = json::parse(info_json, ec);
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("container info is not JSON: {}", ec.message()));
    const json::object* obj = doc.if_object();
    if (!obj) return fail(Errc::kInvalidArgument, "container info is not a JSON object");

    VerboseInfo info;
    const json::value* pid = obj->if_contains("pid");
    if (!pid) return fail(Errc::kInvalidArgument, "container info has no \"pid\"");
    if (pid->is_int64() && pid->as_int64() > 0 && pid->as_int64() <= INT32_MAX)
        info.pid = static_cast<Pid>(pid->as_int64());
    else if (pid->is_uint64() && pid->as_uint64() > 0 && pid->as_uint64() <= INT32_MAX)
        info.pid = static_cast<Pid>(pid->as_uint64());
    else
        return fail(Errc::kInvalidArgument,
                    fmt::format("container info \"pid\" is not a positive pid: {}", json::serialize(*pid)));

    if (const json::value* sandbox = obj->if_contains("sandboxID"); sandbox && sandbox->is_string())
        info.sandbox_id = std::string(sandbox->as_string());
    return info;
}

std::string label_or(const std::map<std::string, std::string>& labels, std::string_view key,
                     std::string_view fallback) {
    auto it = labels.find(std::string(key));
    if (it == labels.end() || it->second.empty()) return std::string(fallback);
    return it->second;
}

TaskSet task_set(Pid init_pid, const std::vector<Pid>& descendants,
                 const std::function<std::optional<Pid>(Pid)>& ppid_of) {
    TaskSet out;
    out.tasks.reserve(descendants.size() + 1);
    out.tasks.push_back(init_pid);
    out.tasks.insert(out.tasks.end(), descendants.begin(), descendants.end());
    std::sort(out.tasks.begin(), out.tasks.end());
    out.tasks.erase(std::unique(out.tasks.begin(), out.tasks.end()), out.tasks.end());

    for (Pid task : out.tasks) {
        auto ppid = ppid_of(task);
        if (!ppid || *ppid <= 0) continue;
        if (!std::binary_search(out.tasks.begin(), out.tasks.end(), *ppid)) out.parents.push_back(*ppid);
    }
    std::sort(out.parents.begin(), out.parents.end());
    out.parents.erase(std::unique(out.parents.begin(), out.parents.end()), out.parents.end());
    return out;
}

void insert_container(PodMap& pods, ContainerInfo container) {
    std::string key = container.pod;
    if (auto it = pods.find(key); it != pods.end() && it->second.pod_namespace != container.pod_namespace)
        key = fmt::format("{}/{}", container.pod_namespace, container.pod);

    auto [pod_it, created] = pods.try_emplace(key);
    PodInfo& pod = pod_it->second;
    if (created) {
        pod.name = container.pod;
        pod.pod_namespace = container.pod_namespace;
    }
    auto existing = pod.containers.find(container.name);
    if (existing != pod.containers.end() && existing->second.tasks.size() >= container.tasks.size()) return;
    std::string name = container.name;
    pod.containers.insert_or_assign(std::move(name), std::move(container));
}

bool still_init_of(const ProcessTable& table, Pid pid, const std::string& container_id) {
    const ProcessEntry* entry = table.find(pid);
    if (!entry) return false;
    return !entry->cgroup || entry->cgroup->container_id.empty() || entry->cgroup->container_id == container_id;
}

bool listing_still_holds(const ProcessTable& table, const std::set<std::string>& known_ids,
                         const std::map<std::string, Pid>& init_pids) {
    for (const auto& p : table.processes())
        if (p.cgroup && !p.cgroup->container_id.empty() && !known_ids.contains(p.cgroup->container_id)) return false;
    for (const auto& [id, pid] : init_pids)
        if (pid <= 0 || !still_init_of(table, pid, id)) return false;
    return true;
}

}  // namespace ct::node::cri
