// A fixed list of nodes from --nodes "host:port,host:port". Parsing is pure (parse_node_list).
#pragma once

#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

// Sorted, duplicates removed. kInvalidArgument naming the bad entry ("" host or port 0 too).
Result<std::vector<NodeAddress>> parse_node_list(std::string_view text);

class StaticSource : public NodeSource {
public:
    explicit StaticSource(std::vector<NodeAddress> nodes) : nodes_(std::move(nodes)) {}
    Result<std::vector<NodeAddress>> list() override { return nodes_; }
    std::string describe() const override;

private:
    std::vector<NodeAddress> nodes_;
};

// Sorts by key and drops duplicates.
void normalize_nodes(std::vector<NodeAddress>& nodes);

}  // namespace ct::svc
