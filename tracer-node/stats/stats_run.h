// StatsRun: one run of a statistics hook (docs/hooks.md "Statistics hooks"), the counterpart of
// CaptureRun for hooks that count instead of tracing: no events, a snapshot file the hook replaces
// every interval. It reads that file, maps each group (a traced process's tgid) to the container
// it belonged to when the run started, keeps the last good snapshot and hands each new one to the
// exporters. Thread-safe: the janitor refreshes while the API and /metrics read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/syscall_stats.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

// tgid -> the container it was in when the run started.
using GroupOwners = std::map<std::uint32_t, EventOwner>;

// Pure: a snapshot's groups summed per container (in owner order); groups with no owner are left
// out and counted in `*unowned` (when given).
std::vector<ContainerSyscalls> by_container(const stats::Snapshot& snapshot, const GroupOwners& owners,
                                            std::uint64_t* unowned = nullptr);

// Pure: the /stats answer, pod -> container name -> table; pods keyed as /v1/pods keys them (a
// name another namespace's pod already took becomes "<namespace>/<name>").
stats::PodStats pod_stats(const std::vector<ContainerSyscalls>& containers);

class StatsRun {
public:
    // `snapshot_path`: the hook's first stdout line (stats::is_snapshot_path). `start_unix_ns`:
    // when the hook started counting. Reads nothing yet.
    StatsRun(std::string snapshot_path, GroupOwners owners, EventContext context,
             std::shared_ptr<const ExporterSet> exporters, std::uint64_t start_unix_ns);

    // Reads the snapshot; a new one (a later TimeNs) becomes the latest and goes to the
    // exporters. An unreadable or malformed file keeps the previous snapshot (logged once per
    // run). Returns whether a new snapshot was taken.
    bool refresh();
    // The hook has exited: reads its final snapshot, hands it to the exporters as final, removes
    // the file and its directory (docs/hooks.md: the reader does, after its last read).
    void finish();
    // The latest snapshot per container (empty before the first good read).
    StatsUpdate latest() const;
    const std::string& path() const { return path_; }

private:
    bool refresh(bool final);

    const std::string path_;
    const GroupOwners owners_;
    const EventContext context_;
    const std::shared_ptr<const ExporterSet> exporters_;

    mutable std::mutex mutex_;  // guards the fields below; never held while exporting
    StatsUpdate latest_;
    bool complained_ = false;
};

}  // namespace ct::node
