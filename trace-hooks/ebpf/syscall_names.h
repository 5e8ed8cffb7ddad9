// Syscall and errno names of the syscall_stats hook. Pure; the tables are generated at build
// time from the kernel headers (gen_syscall_table.sh). Counted numbers are those of
// syscall_stats_abi.h: k for native call k, CT_MAX_SYSCALLS + k for compat (32-bit) call k.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ct::hooks::ebpf {

// "openat"; a number the headers do not name: "syscall_<k>" (native) or "compat_syscall_<k>".
std::string syscall_name(uint32_t counted_nr);

// Every counted number called `name` (native and compat; names as syscall_name() gives them).
// Empty for an unknown name.
std::vector<uint32_t> counted_nrs(std::string_view name);

// "ENOENT" for 2; kernel-internal codes a tracepoint sees before the signal code rewrites them
// ("ERESTARTSYS"); "E<n>" for anything else.
std::string errno_name(uint32_t err);

}  // namespace ct::hooks::ebpf
