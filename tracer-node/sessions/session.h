// Trace session model: what a user asked for (SessionSpec) and what the API shows (SessionView).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/request_body.h"
#include "common/result.h"
#include "tracer-node/discovery/container_source.h"

namespace ct::node {

using SessionId = std::uint64_t;

// The POST body, its PUT body and the id in a route: parsed as tracer-svc parses them
// (common/request_body.h).
using api::parse_run_request;
using api::parse_session_id;
using api::parse_session_spec;
using api::SessionSpec;

// pod name -> container names in it.
using Selection = std::map<std::string, std::vector<std::string>>;

// One exporter's counts for a session (see export/exporter.h ExportCounts).
struct SessionExportStats {
    std::uint64_t exported = 0;
    std::uint64_t dropped = 0;
    std::uint64_t errors = 0;
};

// Every event the kernel recorded for the session is either delivered, out of scope or counted
// in lost.
struct SessionStats {
    std::uint64_t delivered = 0;      // handed to the exporters
    std::uint64_t lost = 0;           // overrun + dropped + unparsed + queue_dropped
    std::uint64_t overrun = 0;        // kernel ring buffer overwrote them before they were read
    std::uint64_t dropped = 0;        // kernel dropped them (buffer full)
    std::uint64_t unparsed = 0;       // read but not understood
    std::uint64_t queue_dropped = 0;  // tracer-node's bounded capture queue was full
    std::uint64_t out_of_scope = 0;   // of tasks outside the session's containers: dropped, not exported
    std::uint64_t cache_evictions = 0;  // per-task capture cache entries pushed out by their bound (metrics only)
    std::uint64_t runs = 0;           // how many times the hook was started
    std::map<std::string, SessionExportStats> exporters;  // per exporter kind, of delivered events
};

struct SessionView {
    SessionId id = 0;
    SessionSpec spec;
    Selection containers;
    std::string node;
    std::optional<std::vector<std::string>> output;  // null when the hook printed nothing
    std::optional<std::vector<std::string>> error;   // null when there was no error
    bool running = false;
    SessionStats stats;
};

// Pure: the arguments a run hands its hook after tracer-node's --pid: trace-arguments split on
// whitespace, then "-b <KiB>" for a ring-size (the ftrace manager's per-CPU buffer, docs/hooks.md).
std::vector<std::string> hook_arguments(const SessionSpec& spec);

// Pure: the pods/containers of `pods` that `spec` selects (pod "ns/glob" matches namespace too).
Selection select_containers(const PodMap& pods, const std::string& pod_pattern, const std::string& container_pattern);

}  // namespace ct::node
