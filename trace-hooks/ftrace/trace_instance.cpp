#include "trace-hooks/ftrace/trace_instance.h"

#include <sys/mount.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/strings.h"
#include "trace-hooks/ftrace/hook_args.h"

extern "C" {
#include "trace-hooks/ftrace/tracefs_adapter.h"
}

namespace ct::hooks::ftrace {
namespace {

using Clock = std::chrono::steady_clock;
constexpr long kTracefsMagic = 0x74726163;  // "trac", statfs f_type of tracefs
constexpr auto kRetryStep = std::chrono::milliseconds(20);

struct FreeString {
    void operator()(char* p) const { ctfs_free(p); }
};
using CString = std::unique_ptr<char, FreeString>;
struct FreeList {
    void operator()(char** p) const { ctfs_list_free(p); }
};
using CList = std::unique_ptr<char*, FreeList>;

std::vector<std::string> to_vector(char** list) {
    std::vector<std::string> out;
    for (char** p = list; p && *p; ++p) out.emplace_back(*p);
    return out;
}

bool is_tracefs(const std::string& dir) {
    struct statfs st {};
    return ::statfs(dir.c_str(), &st) == 0 && st.f_type == kTracefsMagic;
}

std::string random_hex() {
    uint64_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != sizeof value)
        value = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^ ::getpid();
    return fmt::format("{:016x}", value);
}

std::unexpected<Error> fail_code(int err, std::string_view what) { return fail_errno(what, err); }

}  // namespace

Result<std::string> prepare_tracing_dir(std::string_view sysfs_root) {
    std::error_code ec;
    std::string dir = std::filesystem::absolute(std::filesystem::path(sysfs_root) / "kernel/tracing", ec)
                          .lexically_normal()
                          .string();
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("bad sysfs path \"{}\": {}", sysfs_root, ec.message()));
    if (!is_tracefs(dir)) {
        if (::mount("nodev", dir.c_str(), "tracefs", 0, nullptr) != 0) {
            int err = errno;
            return fail(Errc::kUnavailable,
                        fmt::format("tracefs is not mounted at {} and could not be mounted: {}", dir,
                                    std::strerror(err)));
        }
    }
    // Always explicit, so every path we hand out is under the directory we checked.
    if (int err = ctfs_set_tracing_dir(dir.c_str()); err != 0)
        return fail_code(err, fmt::format("using tracing directory {}", dir));
    return dir;
}

Result<std::vector<std::string>> available_syscalls() {
    CList events(ctfs_system_events("syscalls"));
    auto names = syscalls_from_events(to_vector(events.get()));
    if (names.empty())
        return fail(Errc::kUnavailable, "no syscall tracepoints (events/syscalls/sys_enter_*) in tracefs");
    return names;
}

Result<std::string> read_tracing_file(std::string_view file) {
    std::string f(file);
    CString text(ctfs_read_file(nullptr, f.c_str()));
    if (!text) return fail_errno(fmt::format("reading {} in the tracing directory", file));
    return std::string(text.get());
}

Result<TraceInstance> TraceInstance::create_named(std::string_view name) {
    std::string n(name);
    tracefs_instance* inst = nullptr;
    int err = ctfs_instance_create(n.c_str(), &inst);
    if (err == EEXIST) return fail(Errc::kConflict, fmt::format("ftrace instance {} exists already", name));
    if (err != 0) return fail_code(err, fmt::format("creating ftrace instance {}", name));
    CString dir(ctfs_instance_dir(inst));
    TraceInstance out(inst, n, dir ? dir.get() : "");
    if (out.dir_.empty()) return fail(Errc::kInternal, fmt::format("no directory for instance {}", name));
    return out;
}

Result<TraceInstance> TraceInstance::create(std::string_view prefix) {
    // A random part makes a clash practically impossible; retry anyway rather than share one.
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::string name = fmt::format("{}{}_{}", prefix, ::getpid(), random_hex());
        tracefs_instance* inst = nullptr;
        int err = ctfs_instance_create(name.c_str(), &inst);
        if (err == EEXIST) continue;
        if (err != 0) return fail_code(err, fmt::format("creating ftrace instance {}", name));
        CString dir(ctfs_instance_dir(inst));
        TraceInstance out(inst, name, dir ? dir.get() : "");
        if (out.dir_.empty()) return fail(Errc::kInternal, fmt::format("no directory for instance {}", name));
        return out;
    }
    return fail(Errc::kConflict, fmt::format("could not find a free ftrace instance name with prefix {}", prefix));
}

Result<TraceInstance> TraceInstance::open_existing(std::string_view name) {
    std::string n(name);
    tracefs_instance* inst = ctfs_instance_open(n.c_str());
    if (!inst) return fail(Errc::kIo, fmt::format("opening ftrace instance {}", name));
    CString dir(ctfs_instance_dir(inst));
    TraceInstance out(inst, n, dir ? dir.get() : "");
    return out;
}

TraceInstance::~TraceInstance() { release(); }

TraceInstance::TraceInstance(TraceInstance&& other) noexcept
    : inst_(std::exchange(other.inst_, nullptr)), name_(std::move(other.name_)), dir_(std::move(other.dir_)) {}

TraceInstance& TraceInstance::operator=(TraceInstance&& other) noexcept {
    if (this != &other) {
        release();
        inst_ = std::exchange(other.inst_, nullptr);
        name_ = std::move(other.name_);
        dir_ = std::move(other.dir_);
    }
    return *this;
}

void TraceInstance::release() {
    if (!inst_) return;
    // An error path: never leave the instance behind, but don't wait long for readers.
    (void)set_tracing(false);
    if (auto removed = remove(std::chrono::milliseconds(500)); !removed)
        fmt::print(stderr, "{}\n", removed.error().message);
    if (inst_) {
        ctfs_instance_free(inst_);
        inst_ = nullptr;
    }
}

Status TraceInstance::write(std::string_view file, std::string_view data) {
    std::string f(file);
    if (int err = ctfs_write_file(inst_, f.c_str(), data.data(), data.size()); err != 0)
        return fail_code(err, fmt::format("writing \"{}\" to {}/{}", data.substr(0, 64), dir_, file));
    return {};
}

Status TraceInstance::set_buffer_kb(uint64_t kb) {
    if (int err = ctfs_set_buffer_kb(inst_, kb); err != 0)
        return fail_code(err, fmt::format("setting {}/buffer_size_kb to {}", dir_, kb));
    return {};
}

Status TraceInstance::set_event_pids(const std::vector<pid_t>& pids) {
    return write("set_event_pid", fmt::format("{}\n", fmt::join(pids, " ")));
}

Result<std::vector<pid_t>> TraceInstance::event_pids() const {
    CString text(ctfs_read_file(inst_, "set_event_pid"));
    if (!text) return fail_errno(fmt::format("reading {}/set_event_pid", dir_));
    std::vector<pid_t> out;
    for (const auto& token : split_whitespace(text.get()))
        if (auto pid = parse_u64(token); pid && *pid > 0 && *pid <= static_cast<unsigned long long>(INT_MAX))
            out.push_back(static_cast<pid_t>(*pid));
    std::ranges::sort(out);
    return out;
}

Status TraceInstance::enable_event(std::string_view system, std::string_view event) {
    std::string s(system), e(event);
    if (int err = ctfs_event_enable(inst_, s.c_str(), e.c_str(), 1); err != 0) {
        if (err == ENOENT) return fail(Errc::kNotFound, fmt::format("unknown event \"{}:{}\"", system, event));
        return fail_code(err, fmt::format("enabling {}/{} in {}", system, event, dir_));
    }
    return {};
}

Status TraceInstance::set_filter(std::string_view system, std::string_view event, std::string_view filter) {
    std::string file = fmt::format("events/{}/{}/filter", system, event);
    int err = ctfs_write_file(inst_, file.c_str(), filter.data(), filter.size());
    if (err == 0) return {};
    if (err != EINVAL) return fail_code(err, fmt::format("writing the filter of {}:{} in {}", system, event, dir_));
    // The kernel leaves its reason in the filter file: the text, a caret line, "parse_error: <why>".
    std::string why = "refused";
    if (CString text(ctfs_read_file(inst_, file.c_str())); text)
        for (const auto& line : split_any(text.get(), "\n"))
            if (auto at = line.find("parse_error:"); at != std::string::npos) why = trim(line.substr(at + 12));
    return fail(Errc::kInvalidArgument, fmt::format("the kernel refused the filter of {}:{}: {}", system, event, why));
}

Status TraceInstance::enable_event_fork() {
    if (int err = ctfs_enable_event_fork(inst_); err != 0)
        return fail_code(err, fmt::format("enabling option event-fork in {}", dir_));
    return {};
}

Status TraceInstance::enable_syscall(std::string_view name) {
    for (std::string_view kind : {"sys_enter_", "sys_exit_"}) {
        std::string event = fmt::format("{}{}", kind, name);
        if (int err = ctfs_event_enable(inst_, "syscalls", event.c_str(), 1); err != 0) {
            if (err == ENOENT) return fail(Errc::kNotFound, fmt::format("unknown syscall \"{}\"", name));
            return fail_code(err, fmt::format("enabling syscalls/{} in {}", event, dir_));
        }
    }
    return {};
}

Status TraceInstance::enable_process_lifecycle() {
    for (const char* event : {"sched_process_fork", "sched_process_exec"})
        if (int err = ctfs_event_enable(inst_, "sched", event, 1); err != 0)
            return fail_code(err, fmt::format("enabling sched/{} in {}", event, dir_));
    return {};
}

Status TraceInstance::enable_all_syscalls() {
    if (int err = ctfs_event_enable(inst_, "syscalls", nullptr, 1); err != 0)
        return fail_code(err, fmt::format("enabling all syscall events in {}", dir_));
    return {};
}

Status TraceInstance::set_tracing(bool on) {
    if (int err = ctfs_tracing_on(inst_, on ? 1 : 0); err != 0)
        return fail_code(err, fmt::format("writing {} to {}/tracing_on", on ? 1 : 0, dir_));
    return {};
}

Result<bool> TraceInstance::drained() const {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir_ + "/per_cpu", ec);
    if (ec) return fail(Errc::kIo, fmt::format("listing {}/per_cpu: {}", dir_, ec.message()));
    for (const auto& entry : it) {
        std::string file = fmt::format("per_cpu/{}/stats", entry.path().filename().string());
        CString text(ctfs_read_file(inst_, file.c_str()));
        if (!text) return fail_errno(fmt::format("reading {}/{}", dir_, file));
        auto entries = parse_stats_entries(text.get());
        if (!entries)
            return std::unexpected(Error::wrap(entries.error(), fmt::format("reading {}/{}", dir_, file)));
        if (*entries != 0) return false;
    }
    return true;
}

Status TraceInstance::remove(std::chrono::milliseconds patience) {
    if (!inst_) return {};
    auto deadline = Clock::now() + patience;
    int err = 0;
    while (true) {
        err = ctfs_instance_destroy(inst_);
        if (err == 0 || err == ENOENT) break;
        if (err != EBUSY || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(kRetryStep);
    }
    if (err != 0 && err != ENOENT) {
        std::string why = err == EBUSY ? "still busy (a reader holds its trace pipe open)" : std::strerror(err);
        return fail(Errc::kIo, fmt::format("could not remove ftrace instance {}: {}", dir_, why));
    }
    ctfs_instance_free(inst_);
    inst_ = nullptr;
    return {};
}

Result<size_t> remove_instances_with_prefix(std::string_view prefix, std::chrono::milliseconds patience) {
    char** raw = nullptr;
    if (int err = ctfs_instance_names(&raw); err != 0) return fail_code(err, "listing ftrace instances");
    CList list(raw);
    size_t removed = 0;
    std::vector<std::string> failures;
    for (const auto& name : to_vector(list.get())) {
        if (!name.starts_with(prefix)) continue;
        auto inst = TraceInstance::open_existing(name);
        if (!inst) {
            failures.push_back(inst.error().message);
            continue;
        }
        (void)inst->set_tracing(false);
        if (auto ok = inst->remove(patience); !ok) failures.push_back(ok.error().message);
        else ++removed;
    }
    if (!failures.empty()) return fail(Errc::kIo, fmt::format("{}", fmt::join(failures, "; ")));
    return removed;
}

}  // namespace ct::hooks::ftrace
