// Pure parsing of Kubernetes API answers (PodList, EndpointsList) into tracer-node addresses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc::kube {

struct Pod {
    std::string name;
    std::string namespace_name;
    std::string phase;    // status.phase: "Running", "Pending", ...
    std::string ip;       // status.podIP, "" before it has one
    std::string node;     // spec.nodeName
};

// kind PodList -> its items. kInvalidArgument when the text is not a PodList.
Result<std::vector<Pod>> parse_pod_list(std::string_view json_text);
// kind EndpointsList -> every port of every subset, in order, duplicates removed.
Result<std::vector<unsigned short>> parse_endpoint_ports(std::string_view json_text);
// Running pods with an IP, each at `port`; sorted by key.
std::vector<NodeAddress> running_nodes(const std::vector<Pod>& pods, unsigned short port);
// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string url_encode(std::string_view value);

}  // namespace ct::svc::kube
