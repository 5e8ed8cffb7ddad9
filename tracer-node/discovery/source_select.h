// Choosing tracer-node's ContainerSource: an explicit CRI endpoint, else the first known runtime
// socket under the run paths that answers (preferring the one running --pod-name), else procfs.
// The candidate and choice logic is pure (unit-tested: tests/unit/source_select_test.cpp);
// make_container_source() does the probing I/O and logs which source was chosen and why.
// Thread-safety: call from one thread at start-up; the returned source is itself thread-safe.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tracer-node/discovery/container_source.h"
#include "tracer-node/discovery/discovery_config.h"

namespace ct::node {

struct KnownSocket {
    std::string_view runtime;
    std::string_view relative_path;  // under a run path
};

// Probe order: containerd, CRI-O, cri-dockerd, k3s's embedded containerd.
inline constexpr std::array<KnownSocket, 4> kKnownSockets = {{
    {"containerd", "containerd/containerd.sock"},
    {"cri-o", "crio/crio.sock"},
    {"cri-dockerd", "cri-dockerd.sock"},
    {"k3s", "k3s/containerd/containerd.sock"},
}};

struct EndpointCandidate {
    std::string endpoint;  // gRPC target: "unix:///run/containerd/containerd.sock"
    std::string path;      // socket path: "/run/containerd/containerd.sock"
    std::string runtime;   // "containerd", "cri-o", ... or "configured"
    std::string reason;    // why it is a candidate, for the log
};

// "unix:///abs/path" or "/abs/path" -> "unix:///abs/path". Errors: kInvalidArgument for other
// schemes or relative paths (the message names the value).
Result<std::string> normalize_endpoint(std::string_view endpoint);

// Candidates in probe order: only the configured endpoint when cri_endpoint is set; otherwise
// every known socket under every run path (duplicates by path removed). Errors: a bad
// cri_endpoint (kInvalidArgument).
Result<std::vector<EndpointCandidate>> endpoint_candidates(const DiscoveryConfig& config);

// What probing one candidate found.
struct ProbeResult {
    bool answered = false;      // Version answered within the timeout
    bool runs_pod = false;      // a RUNNING container's pod name matches config.pod_name
    std::string runtime_name;   // from Version, e.g. "containerd"
    std::string error;          // why it did not answer
};

struct EndpointChoice {
    size_t index = 0;    // into the candidates
    std::string reason;  // for the log
};

// The first candidate that runs `pod_name` (when set), else the first that answered; nullopt
// when none answered. probes[i] belongs to candidates[i].
std::optional<EndpointChoice> choose_endpoint(const std::vector<EndpointCandidate>& candidates,
                                              const std::vector<ProbeResult>& probes,
                                              std::string_view pod_name);

// The source tracer-node uses: ProcfsSource when force_procfs; a CriSource on cri_endpoint when
// set (kept even if the runtime does not answer yet: it recovers when the runtime starts);
// otherwise the chosen probed runtime; otherwise ProcfsSource. Never null. Logs the decision.
std::unique_ptr<ContainerSource> make_container_source(const DiscoveryConfig& config);

}  // namespace ct::node
