#include "tests/support/containerd_fixture.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tests/support/cri_pod_runner.h"
#include "tests/support/oci_image.h"
#include "tracer-node/discovery/cri/cri_client.h"

namespace ct::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto kStartTimeout = 30s;
constexpr auto kStopGrace = 10s;

std::string config_toml(const std::string& dir, const std::string& socket) {
    return fmt::format(R"(version = 2
root = "{0}/root"
state = "{0}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{1}"
[ttrpc]
  address = "{1}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{0}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{2}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "{0}/runc"
        SystemdCgroup = false
)",
                       dir, socket, kPauseImage);
}

bool is_socket(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// rmdir a cgroup directory depth-first (cgroupfs dirs hold only control files, which go with it).
void rmdir_tree(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    std::vector<fs::path> subdirs;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_directory(ec) && !entry.is_symlink(ec)) subdirs.push_back(entry.path());
    for (const auto& sub : subdirs) rmdir_tree(sub);
    if (::rmdir(dir.c_str()) != 0) spdlog::warn("containerd fixture: rmdir {}: {}", dir.string(), ::strerror(errno));
}

void remove_pod_cgroups(const std::vector<std::string>& uids) {
    std::error_code ec;
    for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        fs::path kubepods = hierarchy.path() / "kubepods";
        if (!fs::is_directory(kubepods, ec)) continue;
        for (const auto& uid : uids) rmdir_tree(kubepods / "besteffort" / fmt::format("pod{}", uid));
        // Parents only when empty (another test's pods may live there): rmdir fails otherwise.
        ::rmdir((kubepods / "besteffort").c_str());
        ::rmdir(kubepods.c_str());
    }
}

// Mounts left under `dir` (sandbox shm, rootfs overlays), deepest first.
void unmount_under(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> points;
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string id, parent, devs, root, point;
        fields >> id >> parent >> devs >> root >> point;
        if (point.starts_with(dir + "/")) points.push_back(point);
    }
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& p : points)
        if (::umount2(p.c_str(), MNT_DETACH) != 0)
            spdlog::warn("containerd fixture: umount {}: {}", p, ::strerror(errno));
}

}  // namespace

std::string Containerd::socket_path() const { return dir_ + "/run/containerd/containerd.sock"; }
std::string Containerd::endpoint() const { return "unix://" + socket_path(); }
std::string Containerd::run_path() const { return dir_ + "/run"; }

std::optional<pid_t> Containerd::pid() const {
    if (!proc_) return std::nullopt;
    return proc_->pid();
}

std::string Containerd::log_tail(size_t bytes) const {
    std::ifstream in(dir_ + "/containerd.log", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

Result<std::unique_ptr<Containerd>> Containerd::start() {
    std::unique_ptr<Containerd> cd(new Containerd());
    char tmpl[] = "/tmp/ct-containerd-XXXXXX";
    if (!::mkdtemp(tmpl)) return fail_errno("containerd fixture: mkdtemp");
    cd->dir_ = tmpl;
    std::error_code ec;
    cd->run_containerd_existed_ = fs::exists("/run/containerd", ec);
    fs::create_directories(cd->dir_ + "/run/containerd", ec);
    if (ec) return fail(Errc::kIo, fmt::format("containerd fixture: mkdir {}/run/containerd: {}", cd->dir_, ec.message()));

    for (const auto& [file, spec] : {std::pair{"busybox.tar", busybox_image_spec()},
                                     std::pair{"pause.tar", pause_image_spec()}})
        if (auto s = build_oci_image(cd->dir_ + "/" + file, spec); !s) return std::unexpected(s.error());

    std::ofstream(cd->dir_ + "/config.toml") << config_toml(cd->dir_, cd->socket_path());
    if (auto s = cd->spawn_and_wait(); !s) return std::unexpected(s.error());
    for (const char* file : {"busybox.tar", "pause.tar"})
        if (auto s = cd->import_image(cd->dir_ + "/" + file); !s) return std::unexpected(s.error());
    return cd;
}

Status Containerd::spawn_and_wait() {
    SpawnOptions options;
    // The shell only redirects the log and execs: the PID is containerd's.
    options.argv = {"/bin/sh", "-c", "exec containerd --config \"$1\" >>\"$2\" 2>&1", "sh",
                    dir_ + "/config.toml", dir_ + "/containerd.log"};
    options.capture_stdout = false;
    options.capture_stderr = false;
    auto proc = Subprocess::spawn(options);
    if (!proc) return std::unexpected(Error::wrap(proc.error(), "starting containerd"));
    proc_.emplace(std::move(*proc));

    // Dial only once the socket exists: a channel created earlier sits in reconnect back-off.
    auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    std::string last_error = "socket not created";
    while (std::chrono::steady_clock::now() < deadline) {
        if (!proc_->running()) {
            proc_.reset();
            return fail(Errc::kUnavailable, fmt::format("containerd exited during start-up; log:\n{}", log_tail()));
        }
        if (is_socket(socket_path())) {
            node::cri::CriClient client(endpoint(), 1s);
            auto version = client.version();
            if (version) return {};
            last_error = version.error().message;
        }
        std::this_thread::sleep_for(100ms);
    }
    return fail(Errc::kTimeout, fmt::format("containerd did not answer CRI within {}s: {}; log:\n{}",
                                            kStartTimeout.count(), last_error, log_tail()));
}

Status Containerd::import_image(const std::string& tar) {
    SpawnOptions options;
    options.argv = {"ctr", "-a", socket_path(), "-n", "k8s.io", "images", "import", tar};
    auto run = run_capture(options, 60s);
    if (!run) return std::unexpected(Error::wrap(run.error(), fmt::format("ctr images import {}", tar)));
    if (!run->status.ok())
        return fail(Errc::kInternal, fmt::format("ctr images import {}: {}: {}", tar, run->status.describe(), run->err));
    return {};
}

Status Containerd::stop() {
    if (!proc_) return {};
    ExitStatus status = proc_->stop(kStopGrace, SIGTERM);
    proc_.reset();
    if (status.signal == SIGKILL)
        return fail(Errc::kTimeout, "containerd ignored SIGTERM and was killed");
    return {};
}

Status Containerd::restart() {
    if (proc_) return {};
    return spawn_and_wait();
}

void Containerd::cleanup() {
    // Pods first, through CRI, while containerd runs: shims outlive containerd (cri-lab.md).
    if (!proc_) {
        if (auto s = restart(); !s)
            spdlog::error("containerd fixture: cannot restart containerd to remove pods: {}", s.error().message);
    }
    std::vector<std::string> uids;
    if (proc_) {
        CriPodRunner runner(endpoint(), 60s);
        auto removed = runner.remove_all_pods();
        if (removed) uids = *removed;
        else spdlog::error("containerd fixture: removing pods: {}", removed.error().message);
    }
    if (auto s = stop(); !s) spdlog::error("containerd fixture: {}", s.error().message);
    remove_pod_cgroups(uids);
    unmount_under(dir_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) spdlog::error("containerd fixture: removing {}: {}", dir_, ec.message());
    if (!run_containerd_existed_) {
        // Shim sockets live in /run/containerd/s whatever the config says; rmdir only when empty
        // (another fixture may be running).
        ::rmdir("/run/containerd/s");
        ::rmdir("/run/containerd");
    }
}

Containerd::~Containerd() {
    if (!dir_.empty()) cleanup();
}

bool cgroup_names_container(pid_t pid, const std::string& container_id) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
    for (std::string line; std::getline(in, line);)
        if (line.ends_with("/" + container_id)) return true;
    return false;
}

}  // namespace ct::test
