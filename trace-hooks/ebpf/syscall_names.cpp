#include "trace-hooks/ebpf/syscall_names.h"

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"
#include "trace-hooks/ebpf/syscall_stats_abi.h"

namespace ct::hooks::ebpf {
namespace {

struct SyscallName {
    std::string_view name;
    uint32_t nr;
};

#include "syscall_table.inc"  // kNativeTable, kCompatTable (generated)

constexpr std::string_view kNativeUnnamed = "syscall_";
constexpr std::string_view kCompatUnnamed = "compat_syscall_";

std::string_view find_name(const std::vector<SyscallName>& table, uint32_t nr) {
    for (const auto& entry : table)
        if (entry.nr == nr) return entry.name;
    return {};
}

}  // namespace

std::string syscall_name(uint32_t counted_nr) {
    bool compat = counted_nr >= CT_MAX_SYSCALLS;
    uint32_t nr = compat ? counted_nr - CT_MAX_SYSCALLS : counted_nr;
    std::string_view name = find_name(compat ? kCompatTable : kNativeTable, nr);
    if (!name.empty()) return std::string(name);
    return fmt::format("{}{}", compat ? kCompatUnnamed : kNativeUnnamed, nr);
}

std::vector<uint32_t> counted_nrs(std::string_view name) {
    std::vector<uint32_t> out;
    for (const auto& entry : kNativeTable)
        if (entry.name == name && entry.nr < CT_MAX_SYSCALLS) out.push_back(entry.nr);
    for (const auto& entry : kCompatTable)
        if (entry.name == name && entry.nr < CT_MAX_SYSCALLS) out.push_back(CT_MAX_SYSCALLS + entry.nr);
    if (!out.empty()) return out;
    // The unnamed spellings syscall_name() gives, so that what a snapshot shows can be selected.
    for (auto [prefix, base] : {std::pair{kCompatUnnamed, CT_MAX_SYSCALLS}, std::pair{kNativeUnnamed, 0}})
        if (name.starts_with(prefix))
            if (auto nr = parse_u64(name.substr(prefix.size())); nr && *nr < CT_MAX_SYSCALLS)
                return {static_cast<uint32_t>(base + *nr)};
    return out;
}

std::string errno_name(uint32_t err) {
    // include/linux/errno.h: returned by syscalls interrupted by a signal; the tracepoint sees
    // them before the signal code turns them into EINTR or a restart.
    switch (err) {
        case 512: return "ERESTARTSYS";
        case 513: return "ERESTARTNOINTR";
        case 514: return "ERESTARTNOHAND";
        case 516: return "ERESTART_RESTARTBLOCK";
        default: break;
    }
    if (const char* name = ::strerrorname_np(static_cast<int>(err))) return name;
    return fmt::format("E{}", err);
}

}  // namespace ct::hooks::ebpf
