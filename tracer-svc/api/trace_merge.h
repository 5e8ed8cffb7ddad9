// GET /v1/trace-session/all/trace.json on tracer-svc: every session of the cluster in one Chrome
// trace document (docs/viewers.md). Each node is asked, one after the other, for its own
// sessions' events only (GET /v1/trace-session/all/trace.json?events_only=1&clock=realtime&label=1
// &pid_base=<(k+1) x 10^7>&sort_index=<k>, docs/api.md): timestamps on CLOCK_REALTIME (each
// node applies the clock offsets it recorded), processes numbered in a range of the node's own
// and named "<node> <namespace>/<pod>/<container>", so every node's processes form one group.
// Their events are spliced into one document as they arrive (export_proxy.h relays each node):
// nothing is held whole. Nodes that fail are named in the document's otherData.
#pragma once

#include <memory>
#include <vector>

#include "common/http.h"
#include "tracer-svc/api/export_proxy.h"

namespace ct::svc {

inline constexpr std::uint64_t kNodePidRange = 10'000'000;  // above the kernel's pid_max (4194304)

// Pure: the target asked of the k-th node.
std::string node_trace_json_target(std::size_t k);

// The merged document as a stream; `proxy` carries the connection options for every node.
std::shared_ptr<http::ChunkStream> merged_trace_json(std::vector<NodeAddress> nodes, ExportProxyOptions proxy);

}  // namespace ct::svc
