#include "tracer-svc/nodes/static_source.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/strings.h"

namespace ct::svc {

void normalize_nodes(std::vector<NodeAddress>& nodes) {
    std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
}

Result<std::vector<NodeAddress>> parse_node_list(std::string_view text) {
    std::vector<NodeAddress> nodes;
    for (const auto& item : split_any(text, ", \t\n")) {
        auto hp = parse_host_port(item);
        if (!hp) return fail(Errc::kInvalidArgument, fmt::format("node \"{}\": {}", item, hp.error().message));
        if (hp->host.empty() || hp->port == 0)
            return fail(Errc::kInvalidArgument, fmt::format("node \"{}\": expected host:port with a host and a non-zero port", item));
        nodes.push_back(make_node_address(hp->host, hp->port));
    }
    if (nodes.empty()) return fail(Errc::kInvalidArgument, fmt::format("node list \"{}\" names no node", text));
    normalize_nodes(nodes);
    return nodes;
}

std::string StaticSource::describe() const { return fmt::format("static list of {} nodes", nodes_.size()); }

}  // namespace ct::svc
