// Where a syscall_stats run writes its snapshot (docs/hooks.md "Statistics hooks"):
// <base>/<prefix><manager pid>_<16 hex>/syscall_stats.stats.json, <base> being
// $TMPDIR/container-tracer/stats when TMPDIR is set, else /run/container-tracer/stats, <prefix>
// $TRACER_INSTANCE_PREFIX (default "ctrace_"). The run owns the directory until it has printed
// the path; from then on the reader removes it after its last read (the final snapshot must
// outlive the hook), and --clear removes those whose manager is gone.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ct::hooks::ebpf {

std::filesystem::path snapshot_base();

class SnapshotDir {
public:
    // Makes a fresh directory under `base` (and `base` itself when missing). kIo on failure.
    static Result<SnapshotDir> create(const std::filesystem::path& base, std::string_view prefix);
    // Removes the directory unless release() was called.
    ~SnapshotDir();
    SnapshotDir(SnapshotDir&& other) noexcept;
    SnapshotDir& operator=(SnapshotDir&&) = delete;

    std::filesystem::path file() const { return dir_ / "syscall_stats.stats.json"; }
    // Replaces the snapshot atomically (a temp file in the same directory, then rename).
    Status write(std::string_view text) const;
    // Leaves the directory to the reader from now on.
    void release() { owned_ = false; }

private:
    explicit SnapshotDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
    std::filesystem::path dir_;
    bool owned_ = true;
};

// Removes <base>/<prefix><pid>_* directories whose manager process is gone; returns how many.
// Directories of running managers and every other name stay.
Result<size_t> clear_stale(const std::filesystem::path& base, std::string_view prefix);

}  // namespace ct::hooks::ebpf
