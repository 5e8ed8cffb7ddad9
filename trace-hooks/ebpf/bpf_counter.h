// The kernel side of one syscall_stats run: owns the loaded BPF object (syscall_stats.bpf.c via
// its bpftool skeleton), its maps and attached programs. Nothing is pinned, so everything goes
// with the object's destruction or the process's exit. Single-threaded: the manager's main
// thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "trace-hooks/ebpf/counts.h"

struct syscall_stats;  // the generated skeleton

namespace ct::hooks::ebpf {

// Why BPF cannot run here, checked before anything is loaded: `btf_path` (the kernel's BTF under
// the sysfs root) missing, or the bpf() syscall not permitted. kUnavailable with that reason.
Status bpf_available(const std::string& btf_path);

class BpfCounter {
public:
    struct Options {
        std::vector<pid_t> tids;            // threads to count, each in its process's group
        std::vector<uint32_t> counted_nrs;  // syscalls to count; empty: every one
        std::string btf_path;               // kernel BTF for CO-RE; empty: libbpf's default
        // (group, syscall) and (group, syscall, errno) entries; fewer on machines with so many
        // CPUs that these would take more than 256 MiB of kernel memory (1,024 at least).
        uint32_t max_keys = 65536;
    };

    // Loads and verifies the programs, attaches them and marks the given threads; counting runs
    // from the return on. kUnavailable/kIo with libbpf's reason.
    static Result<std::unique_ptr<BpfCounter>> start(const Options& options);
    ~BpfCounter();
    BpfCounter(const BpfCounter&) = delete;
    BpfCounter& operator=(const BpfCounter&) = delete;

    // Counts so far, summed over CPUs. kIo when a map cannot be read.
    Result<RawCounts> read() const;
    // Stops counting (detaches every program); read() still answers. For a final snapshot that
    // no further call changes.
    void detach();
    // Given threads found alive when counting started.
    uint64_t seeded() const;

private:
    explicit BpfCounter(::syscall_stats* skel) : skel_(skel) {}
    ::syscall_stats* skel_;
};

}  // namespace ct::hooks::ebpf
