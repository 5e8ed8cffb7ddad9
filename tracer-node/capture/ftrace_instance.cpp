#include "tracer-node/capture/ftrace_instance.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "common/strings.h"
#include "common/target_events.h"

namespace ct::node::ftrace {

namespace fs = std::filesystem;

namespace {

constexpr auto kRetryStep = std::chrono::milliseconds(20);
constexpr std::size_t kMaxTagLength = 16;

std::string read_small(const std::string& path) {
    std::string text;
    return read_file(path, text, 1 << 16) == 0 ? text : std::string();
}

}  // namespace

Result<std::string> instance_prefix(std::string_view tag) {
    bool hex = !tag.empty() && tag.size() <= kMaxTagLength &&
               std::ranges::all_of(tag, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!hex)
        return fail(Errc::kInvalidArgument,
                    fmt::format("invalid agent tag \"{}\": expected 1-{} lowercase hex digits", tag, kMaxTagLength));
    return fmt::format("{}{}_", kNameBase, tag);
}

std::string manager_prefix(std::string_view prefix, pid_t manager_pid) {
    return fmt::format("{}{}_", prefix, manager_pid);
}

std::string instance_dir_of(const std::string& trace_path) {
    fs::path p(trace_path);
    if (p.filename() != "trace_pipe") return {};
    auto dir = p.parent_path();
    if (dir.parent_path().filename() != "instances") return {};
    return dir.string();
}

std::string tracing_dir_of(const std::string& instance_dir) {
    return fs::path(instance_dir).parent_path().parent_path().string();
}

std::string tracing_dir_under(const std::string& sysfs_root) { return sysfs_root + "/kernel/tracing"; }

std::vector<std::pair<std::string, std::string>> enabled_events(std::string_view set_event) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto line : split_any(set_event, "\n")) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto system = trim(std::string_view(line).substr(0, colon));
        auto event = trim(std::string_view(line).substr(colon + 1));
        // Both become a path under events/: nothing that could leave it.
        if (system.empty() || event.empty() || system.find('/') != std::string_view::npos ||
            event.find('/') != std::string_view::npos || system == ".." || event == "..")
            continue;
        out.emplace_back(system, event);
    }
    return out;
}

Result<std::vector<EventFormat>> read_enabled_formats(const std::string& instance_dir) {
    constexpr std::size_t kMaxFormatBytes = 1 << 20;  // format files are a few KiB
    constexpr std::string_view kKernelSystem = "ftrace";
    std::string set_event;
    const auto set_event_path = instance_dir + "/set_event";
    if (int err = read_file(set_event_path, set_event, kMaxFormatBytes); err != 0)
        return fail_errno(fmt::format("reading \"{}\"", set_event_path), err);
    auto events = enabled_events(set_event);
    if (events.empty()) return std::vector<EventFormat>{};
    const auto events_dir = fs::path(tracing_dir_of(instance_dir)) / "events";
    const auto kernel_dir = events_dir / kKernelSystem;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(kernel_dir, ec)) {
        std::error_code type_ec;
        if (entry.is_directory(type_ec)) events.emplace_back(kKernelSystem, entry.path().filename().string());
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing \"{}\": {}", kernel_dir.string(), ec.message()));
    std::ranges::sort(events);
    events.erase(std::unique(events.begin(), events.end()), events.end());
    std::vector<EventFormat> formats;
    formats.reserve(events.size());
    for (auto& [system, name] : events) {
        const auto path = (events_dir / system / name / "format").string();
        std::string text;
        if (int err = read_file(path, text, kMaxFormatBytes); err != 0)
            return fail_errno(fmt::format("reading \"{}\"", path), err);
        formats.push_back({std::move(system), std::move(name), std::move(text)});
    }
    return formats;
}

Result<std::vector<CpuBuffer>> cpu_buffers(const std::string& instance_dir) {
    std::vector<CpuBuffer> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(instance_dir) / "per_cpu", ec)) {
        auto name = entry.path().filename().string();
        if (!name.starts_with("cpu")) continue;
        auto n = parse_u64(std::string_view(name).substr(3));
        if (!n) continue;
        out.push_back({static_cast<int>(*n), (entry.path() / "trace_pipe_raw").string(), (entry.path() / "stats").string()});
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing \"{}/per_cpu\": {}", instance_dir, ec.message()));
    if (out.empty()) return fail(Errc::kIo, fmt::format("no per-CPU buffers under \"{}/per_cpu\"", instance_dir));
    std::ranges::sort(out, {}, &CpuBuffer::cpu);
    return out;
}

BufferStats parse_cpu_stats(std::string_view text) {
    BufferStats stats;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(pos, end - pos);
        if (auto colon = line.find(':'); colon != std::string_view::npos) {
            auto key = trim(line.substr(0, colon));
            auto value = parse_u64(trim(line.substr(colon + 1)));
            if (value && key == "entries") stats.entries = *value;
            if (value && key == "overrun") stats.overrun += *value;
            if (value && key == "dropped events") stats.dropped += *value;
        }
        pos = end + 1;
    }
    return stats;
}

BufferStats read_cpu_stats(const CpuBuffer& cpu) { return parse_cpu_stats(read_small(cpu.stats_path)); }

BufferStats read_loss(const std::string& instance_dir) {
    BufferStats total;
    std::error_code ec;
    for (const auto& cpu : fs::directory_iterator(fs::path(instance_dir) / "per_cpu", ec)) {
        auto stats = parse_cpu_stats(read_small((cpu.path() / "stats").string()));
        total.overrun += stats.overrun;
        total.dropped += stats.dropped;
    }
    return total;
}

bool finishing(const std::string& instance_dir) {
    std::string text;
    if (read_file(instance_dir + "/tracing_on", text, 16) != 0) return true;  // gone
    return !text.empty() && text.front() == '0';
}

std::size_t subbuf_size(const std::string& instance_dir) {
    std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (auto kb = parse_u64(trim(read_small(instance_dir + "/buffer_subbuf_size_kb"))); kb && *kb > 0)
        size = std::max<std::size_t>(size, *kb * 1024);
    return size;
}

Status set_wake_percent(const std::string& instance_dir, int percent) {
    if (percent < 0 || percent > 100)
        return fail(Errc::kInvalidArgument, fmt::format("buffer_percent {} is not within 0-100", percent));
    auto path = instance_dir + "/buffer_percent";
    FD fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening {}", path));
    auto text = std::to_string(percent);
    if (::write(fd.get(), text.data(), text.size()) < 0) return fail_errno(fmt::format("writing {} to {}", text, path));
    return {};
}

std::set<pid_t> read_event_pids(const std::string& instance_dir) {
    std::set<pid_t> out;
    std::string text;
    if (read_file(instance_dir + "/set_event_pid", text) != 0) return out;
    for (const auto& token : split_whitespace(text))
        if (auto pid = parse_u64(token); pid && *pid > 0) out.insert(static_cast<pid_t>(*pid));
    return out;
}

Status add_event_pids(const std::string& instance_dir, const std::vector<pid_t>& tids) {
    auto path = instance_dir + "/set_event_pid";
    FD fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening {}", path));
    for (pid_t t : tids) {
        auto text = std::to_string(t) + " ";
        // A thread that exited meanwhile answers EINVAL/ESRCH: nothing to follow there.
        if (::write(fd.get(), text.data(), text.size()) < 0 && errno != EINVAL && errno != ESRCH)
            return fail_errno(fmt::format("writing {}", path));
    }
    return {};
}

namespace {

Status remove_one(const std::string& instance_dir, std::chrono::milliseconds patience) {
    // Tracing off first: a reader waiting on the instance then finishes and lets go of it.
    if (FD on(::open((instance_dir + "/tracing_on").c_str(), O_WRONLY | O_CLOEXEC)); on)
        [[maybe_unused]] auto n = ::write(on.get(), "0", 1);
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (true) {
        if (::rmdir(instance_dir.c_str()) == 0 || errno == ENOENT) return {};
        int err = errno;
        if (err != EBUSY || std::chrono::steady_clock::now() >= deadline)
            return fail(Errc::kIo, fmt::format("could not remove ftrace instance {}: {}", instance_dir,
                                               err == EBUSY ? "still busy (a reader holds one of its files open)"
                                                            : std::strerror(err)));
        std::this_thread::sleep_for(kRetryStep);
    }
}

}  // namespace

std::vector<std::string> run_instances(const std::string& instance_dir) {
    std::vector<std::string> out = {instance_dir};
    std::error_code ec;
    if (auto companion = instance_dir + std::string(kCompanionSuffix); fs::is_directory(companion, ec))
        out.push_back(std::move(companion));
    return out;
}

Status remove(const std::string& instance_dir, std::chrono::milliseconds patience) {
    // A companion left by a killed trace_events hook would otherwise stay until the next start's
    // sweep of the agent's prefix.
    if (auto ok = remove_one(instance_dir + std::string(kCompanionSuffix), patience); !ok) return ok;
    return remove_one(instance_dir, patience);
}

Result<std::vector<std::string>> list(const std::string& tracing_dir, std::string_view name_prefix) {
    std::vector<std::string> out;
    std::error_code ec;
    const auto dir = fs::path(tracing_dir) / "instances";
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        auto name = entry.path().filename().string();
        if (name.starts_with(name_prefix)) out.push_back(std::move(name));
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing \"{}\": {}", dir.string(), ec.message()));
    std::ranges::sort(out);
    return out;
}

Result<std::size_t> remove_all(const std::string& tracing_dir, std::string_view name_prefix,
                               std::chrono::milliseconds patience) {
    if (!name_prefix.starts_with(kNameBase) || name_prefix.size() <= kNameBase.size())
        return fail(Errc::kInvalidArgument,
                    fmt::format("refusing to remove ftrace instances by prefix \"{}\": not an agent's own", name_prefix));
    auto names = list(tracing_dir, name_prefix);
    if (!names) return std::unexpected(names.error());
    std::size_t removed = 0;
    std::vector<std::string> failures;
    for (const auto& name : *names) {
        if (auto ok = remove(fmt::format("{}/instances/{}", tracing_dir, name), patience); ok) ++removed;
        else failures.push_back(ok.error().message);
    }
    if (!failures.empty()) return fail(Errc::kIo, fmt::format("{}", fmt::join(failures, "; ")));
    return removed;
}

}  // namespace ct::node::ftrace
