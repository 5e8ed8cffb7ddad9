// Nodes from DNS: every A/AAAA record of a name (a headless Service), each with the given port.
// With `server` set, asks that DNS server directly over UDP (dns_wire.h); otherwise the system
// resolver (getaddrinfo). list() blocks up to about `timeout` per query.
#pragma once

#include <chrono>
#include <optional>

#include "common/strings.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

class DnsSource : public NodeSource {
public:
    DnsSource(std::string name, unsigned short port, std::optional<HostPort> server,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
    Result<std::vector<NodeAddress>> list() override;
    std::string describe() const override;

private:
    Result<std::vector<std::string>> query_server(uint16_t qtype);
    Result<std::vector<std::string>> query_system();

    std::string name_;
    unsigned short port_;
    std::optional<HostPort> server_;
    std::chrono::milliseconds timeout_;
    uint16_t next_id_ = 1;
};

}  // namespace ct::svc
