#include "tracer-node/stats/stats_run.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file_io.h"

namespace ct::node {

namespace fs = std::filesystem;

std::vector<ContainerSyscalls> by_container(const stats::Snapshot& snapshot, const GroupOwners& owners,
                                            std::uint64_t* unowned) {
    std::vector<ContainerSyscalls> out;
    for (const auto& [group, table] : snapshot.groups) {
        auto owner = owners.find(group);
        if (owner == owners.end()) {
            if (unowned) ++*unowned;
            continue;
        }
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& c) { return c.owner == owner->second; });
        if (it == out.end()) it = out.insert(out.end(), ContainerSyscalls{owner->second, {}});
        stats::merge_into(it->table, table);
    }
    return out;
}

stats::PodStats pod_stats(const std::vector<ContainerSyscalls>& containers) {
    // Keyed like /v1/pods: a pod name that a pod of another namespace already took is keyed
    // "<namespace>/<name>".
    std::map<std::string, std::string> namespace_of;  // key -> namespace
    stats::PodStats out;
    for (const auto& c : containers) {
        std::string key = c.owner.pod;
        auto [it, fresh] = namespace_of.emplace(key, c.owner.pod_namespace);
        if (!fresh && it->second != c.owner.pod_namespace) key = c.owner.pod_namespace + "/" + c.owner.pod;
        stats::merge_into(out[key][c.owner.container], c.table);
    }
    return out;
}

StatsRun::StatsRun(std::string snapshot_path, GroupOwners owners, EventContext context,
                   std::shared_ptr<const ExporterSet> exporters, std::uint64_t start_unix_ns)
    : path_(std::move(snapshot_path)), owners_(std::move(owners)), context_(std::move(context)),
      exporters_(std::move(exporters)) {
    latest_.start_unix_ns = start_unix_ns;
}

bool StatsRun::refresh() { return refresh(false); }

namespace {

// Far beyond any real snapshot (a group's every syscall with its histogram is a few hundred KB).
constexpr size_t kMaxSnapshotBytes = 64 << 20;

Result<stats::Snapshot> read_snapshot(const std::string& path) {
    std::string text;
    if (int err = read_file(path, text, kMaxSnapshotBytes); err != 0) return fail_errno("reading the snapshot", err);
    if (text.size() >= kMaxSnapshotBytes)
        return fail(Errc::kTooLarge, fmt::format("the snapshot is larger than {} bytes", kMaxSnapshotBytes));
    return stats::parse_snapshot(text);
}

}  // namespace

bool StatsRun::refresh(bool final) {
    auto snapshot = read_snapshot(path_);
    StatsUpdate update;
    {
        std::lock_guard lock(mutex_);
        if (!snapshot) {
            if (!complained_)
                spdlog::warn("session {}: statistics snapshot {}: {}", context_.session_id, path_,
                             snapshot.error().message);
            complained_ = true;
            if (!final) return false;
        } else if (snapshot->time_ns > latest_.time_unix_ns || final) {
            std::uint64_t unowned = 0;
            latest_.containers = by_container(*snapshot, owners_, &unowned);
            latest_.time_unix_ns = std::max(latest_.time_unix_ns, snapshot->time_ns);
            if (unowned)
                spdlog::debug("session {}: {} groups of the snapshot belong to no container of the run",
                              context_.session_id, unowned);
        } else {
            return false;
        }
        latest_.final = final;
        update = latest_;
    }
    if (exporters_) exporters_->export_stats(context_, update);
    return true;
}

void StatsRun::finish() {
    refresh(true);
    // Only what a statistics hook makes: its snapshot file and, once empty, the directory.
    std::error_code ec;
    fs::remove(path_, ec);
    ::rmdir(fs::path(path_).parent_path().c_str());
}

StatsUpdate StatsRun::latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
}

}  // namespace ct::node
