#include "trace-hooks/ebpf/snapshot_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "common/fd.h"
#include "common/strings.h"

namespace ct::hooks::ebpf {
namespace fs = std::filesystem;

namespace {

// The manager pid in "<prefix><pid>_<hex>"; 0 for any other name.
pid_t owner_pid(std::string_view name, std::string_view prefix) {
    if (!name.starts_with(prefix)) return 0;
    name.remove_prefix(prefix.size());
    size_t sep = name.find('_');
    if (sep == std::string_view::npos) return 0;
    auto pid = parse_u64(name.substr(0, sep));
    return pid && *pid > 0 && *pid <= 0x7fffffff ? static_cast<pid_t>(*pid) : 0;
}

Status write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("writing the snapshot");
        text.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

}  // namespace

fs::path snapshot_base() {
    const char* tmp = std::getenv("TMPDIR");
    return fs::path(tmp && *tmp ? tmp : "/run") / "container-tracer" / "stats";
}

Result<SnapshotDir> SnapshotDir::create(const fs::path& base, std::string_view prefix) {
    std::error_code ec;
    fs::create_directories(base, ec);
    if (ec) return fail(Errc::kIo, fmt::format("creating {}: {}", base.string(), ec.message()));
    uint64_t random = 0;
    if (::getrandom(&random, sizeof random, 0) != sizeof random) return fail_errno("getrandom");
    fs::path dir = base / fmt::format("{}{}_{:016x}", prefix, ::getpid(), random);
    if (::mkdir(dir.c_str(), 0755) != 0) return fail_errno(fmt::format("creating {}", dir.string()));
    return SnapshotDir(std::move(dir));
}

SnapshotDir::SnapshotDir(SnapshotDir&& other) noexcept
    : dir_(std::move(other.dir_)), owned_(std::exchange(other.owned_, false)) {}

SnapshotDir::~SnapshotDir() {
    if (!owned_) return;
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

Status SnapshotDir::write(std::string_view text) const {
    fs::path target = file();
    fs::path temp = dir_ / ".snapshot.tmp";
    FD fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return fail_errno(fmt::format("creating {}", temp.string()));
    if (auto ok = write_all(fd.get(), text); !ok) return ok;
    fd.reset();
    if (::rename(temp.c_str(), target.c_str()) != 0) return fail_errno(fmt::format("renaming to {}", target.string()));
    return {};
}

Result<size_t> clear_stale(const fs::path& base, std::string_view prefix) {
    std::error_code ec;
    if (!fs::exists(base, ec)) return size_t{0};
    size_t removed = 0;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
        pid_t owner = owner_pid(entry.path().filename().string(), prefix);
        if (owner == 0 || !entry.is_directory()) continue;
        if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // its manager still runs
        fs::remove_all(entry.path(), ec);
        if (ec) return fail(Errc::kIo, fmt::format("removing {}: {}", entry.path().string(), ec.message()));
        ++removed;
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing {}: {}", base.string(), ec.message()));
    return removed;
}

}  // namespace ct::hooks::ebpf
