#include "trace-hooks/ebpf/bpf_counter.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "common/fd.h"
#include "syscall_stats.skel.h"

namespace ct::hooks::ebpf {
namespace {

constexpr size_t kLogKeep = 4096;  // the end of libbpf's messages (a verifier log can be huge)
// Kernel memory the per-CPU counts may take at most: a (group, syscall) entry holds one
// ct_stats_value per possible CPU, so many CPUs mean fewer entries.
constexpr uint64_t kStatsBudgetBytes = 256ULL << 20;
constexpr uint32_t kMinKeys = 1024;

// libbpf reports through one process-wide callback without user data. The manager is
// single-threaded; the last messages wait here until an error quotes them.
std::string& libbpf_log() {
    static std::string log;
    return log;
}

int on_libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level == LIBBPF_DEBUG) return 0;
    char line[1024];
    int n = std::vsnprintf(line, sizeof line, format, args);
    std::string& log = libbpf_log();
    log.append(line, static_cast<size_t>(std::clamp(n, 0, static_cast<int>(sizeof line) - 1)));
    if (log.size() > 2 * kLogKeep) log.erase(0, log.size() - kLogKeep);
    return 0;
}

// "<what>: <strerror>" plus what libbpf said, on one line each.
std::unexpected<Error> libbpf_failure(std::string_view what, int err) {
    std::string message = fmt::format("{}: {}", what, std::strerror(err < 0 ? -err : err));
    std::string& log = libbpf_log();
    if (log.size() > kLogKeep) log.erase(0, log.size() - kLogKeep);
    while (!log.empty() && log.back() == '\n') log.pop_back();
    if (!log.empty()) message += "\nlibbpf: " + log;
    log.clear();
    Errc code = (err == -EPERM || err == EPERM || err == -EACCES || err == EACCES) ? Errc::kUnavailable : Errc::kIo;
    return fail(code, std::move(message));
}

// Runs the ct_seed task iterator once over every thread.
Status run_seed(bpf_link* link) {
    FD iter(bpf_iter_create(bpf_link__fd(link)));
    if (!iter) return libbpf_failure("starting the task iterator", errno);
    char buf[64];
    while (true) {
        ssize_t n = ::read(iter.get(), buf, sizeof buf);
        if (n == 0) return {};
        if (n < 0 && errno != EINTR) return libbpf_failure("running the task iterator", errno);
    }
}

// Visits every key of `map` with its per-CPU values (`per_cpu` holds one value per CPU).
template <class Key, class Value, class Fn>
Status for_each_entry(const bpf_map* map, std::vector<Value>& per_cpu, Fn&& fn) {
    Key key{}, next{};
    const Key* prev = nullptr;
    while (bpf_map__get_next_key(map, prev, &next, sizeof next) == 0) {
        int err = bpf_map__lookup_elem(map, &next, sizeof next, per_cpu.data(), per_cpu.size() * sizeof(Value), 0);
        if (err && err != -ENOENT) return libbpf_failure(fmt::format("reading map {}", bpf_map__name(map)), err);
        if (!err) fn(next, per_cpu);
        key = next;
        prev = &key;
    }
    return {};
}

}  // namespace

Status bpf_available(const std::string& btf_path) {
    if (::access(btf_path.c_str(), R_OK) != 0)
        return fail(Errc::kUnavailable,
                    fmt::format("the kernel has no BTF ({}: {}); syscall_stats needs a kernel built with "
                                "CONFIG_DEBUG_INFO_BTF",
                                btf_path, std::strerror(errno)));
    FD probe(bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_probe", 4, 4, 1, nullptr));
    if (!probe)
        return fail(Errc::kUnavailable,
                    fmt::format("BPF is not permitted here (bpf: {}); syscall_stats needs root or CAP_BPF "
                                "with CAP_PERFMON",
                                std::strerror(errno)));
    return {};
}

Result<std::unique_ptr<BpfCounter>> BpfCounter::start(const Options& options) {
    libbpf_set_print(on_libbpf_print);
    bpf_object_open_opts open_opts{};
    open_opts.sz = sizeof open_opts;
    if (!options.btf_path.empty()) open_opts.btf_custom_path = options.btf_path.c_str();
    ::syscall_stats* skel = syscall_stats__open_opts(&open_opts);
    if (!skel) return libbpf_failure("opening the BPF object", errno);
    std::unique_ptr<BpfCounter> counter(new BpfCounter(skel));

    if (!options.counted_nrs.empty()) {
        skel->rodata->filter_syscalls = 1;
        for (uint32_t nr : options.counted_nrs)
            if (nr < CT_COUNTED_NRS) skel->rodata->selected[nr] = 1;
    }
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return libbpf_failure("counting possible CPUs", cpus);
    uint64_t affordable = kStatsBudgetBytes / (sizeof(ct_stats_value) * static_cast<uint64_t>(cpus));
    uint32_t keys = static_cast<uint32_t>(std::min<uint64_t>(options.max_keys, std::max<uint64_t>(affordable, kMinKeys)));
    uint32_t seeds = static_cast<uint32_t>(std::max<size_t>(options.tids.size(), 1));
    for (auto [map, entries] : {std::pair{skel->maps.seeds, seeds}, std::pair{skel->maps.stats, keys},
                                std::pair{skel->maps.errnos, keys}})
        if (int err = bpf_map__set_max_entries(map, entries)) return libbpf_failure("sizing the BPF maps", err);
    if (int err = syscall_stats__load(skel)) return libbpf_failure("loading the BPF programs", err);

    const uint8_t one = 1;
    for (pid_t tid : options.tids) {
        auto key = static_cast<uint32_t>(tid);
        if (int err = bpf_map__update_elem(skel->maps.seeds, &key, sizeof key, &one, sizeof one, BPF_ANY))
            return libbpf_failure("filling the seed map", err);
    }
    // Fork and exit handlers are attached before the seed pass, so a child forked by a thread
    // marked in that pass is marked too.
    if (int err = syscall_stats__attach(skel)) return libbpf_failure("attaching the BPF programs", err);
    if (auto ok = run_seed(skel->links.ct_seed); !ok) return std::unexpected(ok.error());
    bpf_link__destroy(skel->links.ct_seed);
    skel->links.ct_seed = nullptr;
    libbpf_log().clear();
    return counter;
}

BpfCounter::~BpfCounter() { syscall_stats__destroy(skel_); }

void BpfCounter::detach() { syscall_stats__detach(skel_); }

// The .bss counters are mmapped and change under us: atomic loads.
uint64_t BpfCounter::seeded() const { return __atomic_load_n(&skel_->bss->seeded_tasks, __ATOMIC_RELAXED); }

Result<RawCounts> BpfCounter::read() const {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return libbpf_failure("counting possible CPUs", cpus);
    RawCounts out;
    std::vector<ct_stats_value> values(static_cast<size_t>(cpus));
    auto stats_ok = for_each_entry<ct_stats_key>(skel_->maps.stats, values, [&](const ct_stats_key& key, auto& per_cpu) {
        for (const auto& v : per_cpu) out.add(key, v);
    });
    if (!stats_ok) return std::unexpected(stats_ok.error());
    std::vector<uint64_t> counts(static_cast<size_t>(cpus));
    auto errnos_ok = for_each_entry<ct_errno_key>(skel_->maps.errnos, counts, [&](const ct_errno_key& key, auto& per_cpu) {
        auto& n = out.errnos[{key.group, key.nr, key.err}];
        for (uint64_t c : per_cpu) n += c;
    });
    if (!errnos_ok) return std::unexpected(errnos_ok.error());
    for (const __u64* n : {&skel_->bss->dropped_counts, &skel_->bss->dropped_errnos, &skel_->bss->dropped_tasks})
        out.dropped += __atomic_load_n(n, __ATOMIC_RELAXED);
    return out;
}

}  // namespace ct::hooks::ebpf
