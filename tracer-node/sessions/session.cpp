#include "tracer-node/sessions/session.h"

#include "common/glob.h"
#include "common/strings.h"

namespace ct::node {

std::vector<std::string> hook_arguments(const SessionSpec& spec) {
    auto args = split_whitespace(spec.args);
    if (spec.ring_bytes > 0) {
        args.emplace_back("-b");
        args.push_back(std::to_string((spec.ring_bytes + 1023) / 1024));
    }
    return args;
}

Selection select_containers(const PodMap& pods, const std::string& pod_pattern, const std::string& container_pattern) {
    std::string ns_glob, pod_glob = pod_pattern;
    if (auto slash = pod_pattern.find('/'); slash != std::string::npos) {
        ns_glob = pod_pattern.substr(0, slash);
        pod_glob = pod_pattern.substr(slash + 1);
    }
    Selection out;
    for (const auto& [key, pod] : pods) {
        if (!ns_glob.empty() && !glob_match(ns_glob, pod.pod_namespace)) continue;
        if (!glob_match(pod_glob, pod.name) && !glob_match(pod_glob, key)) continue;
        for (const auto& [name, c] : pod.containers)
            if (glob_match(container_pattern, name)) out[key].push_back(name);
    }
    return out;
}

}  // namespace ct::node
