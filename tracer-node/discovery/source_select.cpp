#include "tracer-node/discovery/source_select.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/glob.h"
#include "tracer-node/discovery/cri/cri_parse.h"
#include "tracer-node/discovery/cri/cri_source.h"
#include "tracer-node/discovery/procfs_source.h"

namespace ct::node {

Result<std::string> normalize_endpoint(std::string_view endpoint) {
    constexpr std::string_view kUnix = "unix://";
    std::string_view path = endpoint;
    if (path.starts_with(kUnix)) path.remove_prefix(kUnix.size());
    else if (path.find("://") != std::string_view::npos)
        return fail(Errc::kInvalidArgument,
                    fmt::format("CRI endpoint \"{}\": only unix:// sockets are supported", endpoint));
    if (!path.starts_with('/'))
        return fail(Errc::kInvalidArgument,
                    fmt::format("CRI endpoint \"{}\": expected unix:///absolute/path or /absolute/path",
                                endpoint));
    return fmt::format("unix://{}", path);
}

Result<std::vector<EndpointCandidate>> endpoint_candidates(const DiscoveryConfig& config) {
    std::vector<EndpointCandidate> out;
    if (!config.cri_endpoint.empty()) {
        auto endpoint = normalize_endpoint(config.cri_endpoint);
        if (!endpoint) return std::unexpected(endpoint.error());
        std::string path = endpoint->substr(std::string_view("unix://").size());
        out.push_back({*endpoint, path, "configured", "--cri-endpoint"});
        return out;
    }
    std::set<std::string> seen;
    for (const auto& run_path : config.run_paths) {
        if (run_path.empty()) continue;
        std::string base = run_path;
        while (base.size() > 1 && base.back() == '/') base.pop_back();
        for (const auto& known : kKnownSockets) {
            std::string path = base == "/" ? fmt::format("/{}", known.relative_path)
                                           : fmt::format("{}/{}", base, known.relative_path);
            if (!seen.insert(path).second) continue;
            auto endpoint = normalize_endpoint(path);
            if (!endpoint) continue;  // a relative run path: nothing to dial
            out.push_back({*endpoint, path, std::string(known.runtime),
                           fmt::format("known {} socket under {}", known.runtime, run_path)});
        }
    }
    return out;
}

std::optional<EndpointChoice> choose_endpoint(const std::vector<EndpointCandidate>& candidates,
                                              const std::vector<ProbeResult>& probes,
                                              std::string_view pod_name) {
    size_t n = std::min(candidates.size(), probes.size());
    if (!pod_name.empty()) {
        for (size_t i = 0; i < n; ++i)
            if (probes[i].answered && probes[i].runs_pod)
                return EndpointChoice{i, fmt::format("{} ({}) runs pod \"{}\"", candidates[i].reason,
                                                     probes[i].runtime_name, pod_name)};
    }
    for (size_t i = 0; i < n; ++i) {
        if (!probes[i].answered) continue;
        std::string reason = fmt::format("{} ({}) answers", candidates[i].reason, probes[i].runtime_name);
        if (!pod_name.empty())
            reason += fmt::format("; no probed runtime runs pod \"{}\", taking the first that answers",
                                  pod_name);
        return EndpointChoice{i, std::move(reason)};
    }
    return std::nullopt;
}

namespace {

bool is_socket(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

ProbeResult probe(const EndpointCandidate& candidate, const DiscoveryConfig& config) {
    ProbeResult result;
    cri::CriClient client(candidate.endpoint, config.rpc_timeout);
    auto version = client.version();
    if (!version) {
        result.error = version.error().message;
        return result;
    }
    result.answered = true;
    result.runtime_name = fmt::format("{} {}", version->runtime_name(), version->runtime_version());
    if (config.pod_name.empty()) return result;
    auto containers = client.list_running_containers();
    if (!containers) {
        result.error = containers.error().message;
        return result;
    }
    for (const auto& c : *containers) {
        auto it = c.labels().find(std::string(cri::kPodNameLabel));
        if (it != c.labels().end() && glob_match(config.pod_name, it->second)) result.runs_pod = true;
    }
    return result;
}

std::unique_ptr<ContainerSource> procfs_source(const DiscoveryConfig& config) {
    ProcfsSourceOptions options;
    options.root = config.procfs_root;
    return std::make_unique<ProcfsSource>(std::move(options));
}

}  // namespace

std::unique_ptr<ContainerSource> make_container_source(const DiscoveryConfig& config) {
    if (config.force_procfs) {
        spdlog::info("discovery: using procfs at {} (--use-procfs)", config.procfs_root);
        return procfs_source(config);
    }
    auto candidates = endpoint_candidates(config);
    if (!candidates) {
        spdlog::error("discovery: {}; falling back to procfs at {}", candidates.error().message,
                      config.procfs_root);
        return procfs_source(config);
    }
    if (!config.cri_endpoint.empty()) {
        const auto& c = candidates->front();
        auto result = probe(c, config);
        if (result.answered)
            spdlog::info("discovery: using CRI endpoint {} ({}; {})", c.endpoint, c.reason, result.runtime_name);
        else
            spdlog::warn("discovery: using CRI endpoint {} ({}) although it does not answer yet: {}",
                         c.endpoint, c.reason, result.error);
        return std::make_unique<cri::CriSource>(c.endpoint, config);
    }

    // Only existing sockets are dialled; /var/run is usually a symlink to /run, so one socket
    // reached through both is probed once.
    std::vector<EndpointCandidate> present;
    std::set<std::string> canonical_seen;
    for (auto& c : *candidates) {
        if (!is_socket(c.path)) continue;
        std::error_code ec;
        auto canonical = std::filesystem::canonical(c.path, ec);
        if (!canonical_seen.insert(ec ? c.path : canonical.string()).second) continue;
        present.push_back(std::move(c));
    }
    std::vector<ProbeResult> probes;
    for (const auto& c : present) {
        probes.push_back(probe(c, config));
        if (!probes.back().answered)
            spdlog::info("discovery: {} ({}) does not answer: {}", c.endpoint, c.reason, probes.back().error);
    }
    if (auto choice = choose_endpoint(present, probes, config.pod_name)) {
        const auto& c = present[choice->index];
        spdlog::info("discovery: using CRI endpoint {}: {}", c.endpoint, choice->reason);
        return std::make_unique<cri::CriSource>(c.endpoint, config);
    }
    spdlog::info("discovery: no CRI runtime answers under {} ({} socket(s) found); using procfs at {}",
                 fmt::join(config.run_paths, ", "), present.size(), config.procfs_root);
    return procfs_source(config);
}

}  // namespace ct::node
