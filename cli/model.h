// The API's answers (docs/api.md) read into plain structs for tables and decisions. Tolerant of
// what the seed leaves optional (extension fields such as Namespace, Node, Stats may be absent);
// errors only when the shape is not the API's. Pure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "common/result.h"

namespace ct::cli {

// One container of GET /v1/pods.
struct ContainerEntry {
    std::string pod_key;    // the pod's key in the answer
    std::string pod;        // its "Pod" (the key when absent)
    std::string name;       // the container's key
    std::string pod_namespace;  // "" when unknown (procfs discovery)
    std::string node;       // the container's "Node" (tracer-svc), "" when absent
    std::vector<pid_t> tasks;
};
// In the answer's order. Errors: kInvalidArgument when the answer is not {pod: {Containers: {...}}}.
Result<std::vector<ContainerEntry>> parse_pods(const boost::json::value& answer);

// One trace session of GET /v1/trace-session/<id|all> (or POST's answer).
struct SessionEntry {
    std::string id;
    std::string node;
    std::string hook;
    std::string context;
    bool running = false;
    std::vector<std::pair<std::string, std::string>> containers;  // (pod key, container)
    std::vector<std::string> params;
    std::vector<std::string> error;  // "Error": a string or lines; empty when null
    // Stats (extension), when present.
    std::optional<std::uint64_t> delivered, lost, stream_dropped;
};
Result<std::vector<SessionEntry>> parse_sessions(const boost::json::value& answer);

// One hook of GET /v1/trace-hooks.
struct HookEntry {
    std::string manager;  // the hooks-root-relative directory, e.g. "trace-hooks/ftrace"
    std::string name;
    std::vector<std::string> description;
};
Result<std::vector<HookEntry>> parse_hooks(const boost::json::value& answer);

}  // namespace ct::cli
