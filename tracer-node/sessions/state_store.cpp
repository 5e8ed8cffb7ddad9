#include "tracer-node/sessions/state_store.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file_io.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tracer-node/capture/ftrace_instance.h"

namespace ct::node {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::string_view kTagFile = "node-id";

constexpr size_t kMaxStateFile = 16u << 20;  // far above any session (bodies are limited to 1 MiB)

Result<std::string> read_whole(const std::string& path) {
    std::string text;
    if (int err = read_file(path, text, kMaxStateFile); err != 0)
        return fail(Errc::kIo, fmt::format("reading {}: {}", path, std::strerror(err)));
    return text;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno(fmt::format("writing {}", path));
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status fsync_dir(const std::string& dir) {
    FD fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening directory {}", dir));
    if (::fsync(fd.get()) != 0) return fail_errno(fmt::format("syncing directory {}", dir));
    return {};
}

// Replaces <dir>/<name> with `content`: a temp file in the same directory, fsync, rename over the
// name, fsync of the directory. A crash leaves the old or the new content, never a mix.
Status write_atomically(const std::string& dir, std::string_view name, std::string_view content) {
    auto path = fmt::format("{}/{}", dir, name);
    auto temp = path + std::string(kTempSuffix);
    FD fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail_errno(fmt::format("creating {}", temp));
    auto written = write_all(fd.get(), content, temp);
    if (written && ::fsync(fd.get()) != 0) written = fail_errno(fmt::format("syncing {}", temp));
    fd.reset();
    if (written && ::rename(temp.c_str(), path.c_str()) != 0)
        written = fail_errno(fmt::format("renaming {} to {}", temp, path));
    if (!written) {
        ::unlink(temp.c_str());
        return written;
    }
    return fsync_dir(dir);
}

// The agent tag kept in <dir>/node-id, made (random, 8 hex digits) on first use.
Result<std::string> load_or_make_tag(const std::string& dir) {
    auto path = fmt::format("{}/{}", dir, kTagFile);
    std::string text;
    if (int err = read_file(path, text, 64); err == 0) {
        auto tag = std::string(trim(text));
        if (auto prefix = ftrace::instance_prefix(tag); !prefix)
            return std::unexpected(Error::wrap(prefix.error(), fmt::format("reading {}", path)));
        return tag;
    } else if (err != ENOENT) {
        return fail(Errc::kIo, fmt::format("reading {}: {}", path, std::strerror(err)));
    }
    std::uint32_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != sizeof value) return fail_errno("getrandom");
    auto tag = fmt::format("{:08x}", value);
    if (auto saved = write_atomically(dir, kTagFile, tag + "\n"); !saved) return std::unexpected(saved.error());
    return tag;
}

// Keeps a file we cannot read where an operator finds it, out of the next load's way.
std::string move_aside(const std::string& path) {
    auto aside = fmt::format("{}.corrupt-{}", path, static_cast<long long>(std::time(nullptr)));
    if (::rename(path.c_str(), aside.c_str()) != 0) {
        spdlog::error("state file {}: cannot move it aside to {}: {}", path, aside, std::strerror(errno));
        return {};
    }
    return aside;
}

// True while `pid` is still the process that started at `start_time` and has not exited (a
// zombie nobody reaps has let go of everything already).
bool same_process_alive(const std::string& procfs_root, pid_t pid, std::uint64_t start_time) {
    auto now = read_process_stat(procfs_root, pid);
    return now && now->start_time == start_time && now->state != 'Z' && now->state != 'X';
}

}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& dir) {
    std::error_code ec;
    // Session arguments and contexts are the operator's business: a directory we make is ours only.
    if (fs::create_directories(dir, ec)) ::chmod(dir.c_str(), 0700);
    if (ec) return fail(Errc::kIo, fmt::format("creating state directory {}: {}", dir, ec.message()));
    if (!fs::is_directory(dir, ec)) return fail(Errc::kIo, fmt::format("state directory {} is not a directory", dir));
    auto lock_path = dir + "/lock";
    FD lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) return fail_errno(fmt::format("opening {}", lock_path));
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return fail(Errc::kConflict, fmt::format("state directory {} is in use by another tracer-node (locked: {})",
                                                     dir, lock_path));
        return fail_errno(fmt::format("locking {}", lock_path));
    }
    auto tag = load_or_make_tag(dir);
    if (!tag) return std::unexpected(tag.error());
    return std::unique_ptr<StateStore>(new StateStore(dir, std::move(lock), std::move(*tag)));
}

StateStore::Loaded StateStore::load() {
    Loaded out;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_, ec)) files.push_back(e.path());
    if (ec) spdlog::error("listing state directory {}: {}", dir_, ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        auto name = file.filename().string();
        auto path = file.string();
        if (name.ends_with(kTempSuffix) && session_id_of_file(name.substr(0, name.size() - kTempSuffix.size()))) {
            // An interrupted write: the file it was to replace is still whole.
            spdlog::warn("state: removing {} left by an interrupted write", path);
            fs::remove(file, ec);
            continue;
        }
        auto id = session_id_of_file(name);
        if (!id) continue;  // the lock, moved-aside files, anything else
        auto text = read_whole(path);
        auto record = text ? decode_session_record(*text) : std::unexpected(text.error());
        if (record && record->id != *id)
            record = fail(Errc::kInvalidArgument, fmt::format("it holds session {}, not {}", record->id, *id));
        if (!record) {
            auto aside = move_aside(path);
            spdlog::error("state file {} is unusable ({}); {}", path, record.error().message,
                          aside.empty() ? "left in place" : "moved aside to " + aside);
            if (!aside.empty()) out.moved_aside.push_back(aside);
            continue;
        }
        out.sessions.push_back(std::move(*record));
    }
    std::sort(out.sessions.begin(), out.sessions.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

Status StateStore::save(const SessionRecord& record) {
    return write_atomically(dir_, session_file_name(record.id), encode_session_record(record));
}

Status StateStore::erase(SessionId id) {
    auto path = fmt::format("{}/{}", dir_, session_file_name(id));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno(fmt::format("removing {}", path));
    return fsync_dir(dir_);
}

Result<ProcStat> read_process_stat(const std::string& procfs_root, pid_t pid) {
    auto path = fmt::format("{}/{}/stat", procfs_root, pid);
    std::string stat;
    if (read_file(path, stat) != 0 || stat.empty()) return fail(Errc::kNotFound, fmt::format("process {} is gone", pid));
    auto parsed = parse_stat(stat);
    if (!parsed) return std::unexpected(Error::wrap(parsed.error(), fmt::format("reading {}", path)));
    return *parsed;
}

Status clean_up_run(const RunRecord& run, const std::string& procfs_root) {
    if (run.hook_pid > 0) {
        // The pidfd first: the process whose start time is checked is then the one signalled.
        FD pidfd = open_pidfd(run.hook_pid);
        if (pidfd && same_process_alive(procfs_root, run.hook_pid, run.hook_start_time)) {
            spdlog::warn("state: killing trace hook pid {} left running by a previous tracer-node", run.hook_pid);
            signal_pidfd(pidfd.get(), SIGKILL);
            // Not our child, so no waitpid: its pidfd polls readable once it has exited.
            pollfd pfd{pidfd.get(), POLLIN, 0};
            if (::poll(&pfd, 1, 5000) != 1)
                return fail(Errc::kIo, fmt::format("trace hook pid {} left by a previous tracer-node survived "
                                                   "SIGKILL", run.hook_pid));
        }
    }
    if (run.instance_dir.empty()) return {};
    std::error_code ec;
    if (!fs::exists(run.instance_dir, ec)) return {};
    spdlog::warn("state: removing ftrace instance {} left by a previous tracer-node", run.instance_dir);
    return ftrace::remove(run.instance_dir, 5s);
}

}  // namespace ct::node
