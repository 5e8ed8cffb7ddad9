// Containerd (tests only): a private, real containerd (Debian's 1.6 + runc) with its own root,
// state, config and socket in a temp dir, images busybox + pause imported (oci_image.h), ready
// for CRI. Recipe and pitfalls: shared/design/cri-lab.md.
//
//   auto cd = ct::test::Containerd::start();           // REQUIRE(cd) — error says why
//   ct::test::CriPodRunner pods((*cd)->endpoint());
//   auto pod = pods.run_pod({.name = "jaeger-599bd8cddd-f6tcj"});
//   pods.start_container(pod->sandbox_id, {.name = "jaeger", .command = ct::test::idle_command()});
//   tracer-node --cri-endpoint (*cd)->endpoint()   or   --run-path (*cd)->run_path()
//
// The socket sits at <dir>/run/containerd/containerd.sock, so run_path() works as a --run-path for
// endpoint auto-detection. stop()/restart() stop containerd (SIGTERM, shims and pods keep
// running) and start it again on the same state. The destructor — also after failed checks —
// removes every pod through CRI (restarting containerd if it was stopped), stops containerd,
// removes the cgroup directories of those pods (/sys/fs/cgroup/*/kubepods/besteffort/pod<uid>,
// depth-first, then the parents when empty), unmounts anything left under the temp dir and
// deletes it.
// Needs root. Thread-safety: one test thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/subprocess.h"

namespace ct::test {

class Containerd {
public:
    // Builds the images, writes the config, starts containerd, waits until CRI answers, imports
    // the images. Errors name the step and include containerd's log tail.
    static Result<std::unique_ptr<Containerd>> start();
    ~Containerd();
    Containerd(const Containerd&) = delete;
    Containerd& operator=(const Containerd&) = delete;

    const std::string& dir() const { return dir_; }
    std::string socket_path() const;   // <dir>/run/containerd/containerd.sock
    std::string endpoint() const;      // unix://<socket_path>
    std::string run_path() const;      // <dir>/run
    std::optional<pid_t> pid() const;  // containerd's PID while running
    bool running() const { return proc_.has_value(); }

    // SIGTERM containerd and wait for it (pods keep running under their shims).
    Status stop();
    // Start containerd again on the same root/state; waits until CRI answers.
    Status restart();
    // containerd's log (stdout+stderr), for failure messages.
    std::string log_tail(size_t bytes = 4000) const;
    // `ctr -n k8s.io images import TAR`: another OCI image-layout tarball (e.g. the project's
    // own images, images/build-oci.sh). Errors name the tarball and carry ctr's stderr.
    Status import_image(const std::string& tar);

private:
    Containerd() = default;
    Status spawn_and_wait();
    void cleanup();

    std::string dir_;
    std::optional<Subprocess> proc_;
    bool run_containerd_existed_ = true;  // did /run/containerd exist before us (shim sockets)
};

// True when some line of /proc/<pid>/cgroup ends with "/<container id>": the process runs in
// that container.
bool cgroup_names_container(pid_t pid, const std::string& container_id);

}  // namespace ct::test
