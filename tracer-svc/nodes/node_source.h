// Where tracer-svc learns which tracer-nodes exist. A NodeSource lists the nodes now; the
// NodeDirectory (node_directory.h) calls it every poll. Implementations: static list
// (static_source.h), DNS records of a headless Service (dns_source.h), Kubernetes API
// (kube_source.h). To add one: implement list() (blocking, bounded in time) and describe().
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace ct::svc {

struct NodeAddress {
    std::string key;   // "host:port" ("[v6]:port"), unique in a directory; names the node in headers/logs
    std::string host;  // IP address or host name to connect to
    unsigned short port = 0;
    std::string label; // optional extra for logs (pod name, ...)

    bool operator==(const NodeAddress& o) const { return key == o.key; }
};

NodeAddress make_node_address(std::string host, unsigned short port, std::string label = {});

class NodeSource {
public:
    virtual ~NodeSource() = default;
    // The nodes now, sorted by key, no duplicates. An error keeps the directory's previous list.
    // Called from the directory's poll thread only.
    virtual Result<std::vector<NodeAddress>> list() = 0;
    virtual std::string describe() const = 0;  // "static list of 3 nodes", "DNS name:port", ...
};

}  // namespace ct::svc
