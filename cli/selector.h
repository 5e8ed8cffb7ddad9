// Which pods a command means: "[namespace-glob/]pod-glob", the API's `pod` pattern (docs/api.md,
// POST /v1/trace-session), matched here the way tracer-node matches it. Pure.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ct::cli {

struct PodSelector {
    std::string namespace_glob;  // "" = any namespace (no "/" given)
    std::string pod_glob = "*";

    // The pattern to send as the session's "pod".
    std::string pattern() const;
    // True when the pod (its key in GET /v1/pods, its name, its namespace — "" when unknown)
    // matches: the namespace glob (when given) and the pod glob on the name or the key.
    bool matches(std::string_view pod_key, std::string_view pod_name, std::string_view pod_namespace) const;
};

// "pod-glob", "ns-glob/pod-glob", "ns-glob/" (every pod of those namespaces).
// Errors: kInvalidArgument for "", a second "/", or an empty namespace before "/".
Result<PodSelector> parse_pod_selector(std::string_view text);

}  // namespace ct::cli
