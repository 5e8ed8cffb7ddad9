#include "tracer-svc/nodes/dns_source.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "common/fd.h"
#include "tracer-svc/nodes/dns_wire.h"
#include "tracer-svc/nodes/static_source.h"

namespace ct::svc {

DnsSource::DnsSource(std::string name, unsigned short port, std::optional<HostPort> server,
                     std::chrono::milliseconds timeout)
    : name_(std::move(name)), port_(port), server_(std::move(server)), timeout_(timeout),
      next_id_(static_cast<uint16_t>(std::random_device{}())) {}

std::string DnsSource::describe() const {
    return server_ ? fmt::format("DNS {}:{} via {}:{}", name_, port_, server_->host, server_->port)
                   : fmt::format("DNS {}:{}", name_, port_);
}

Result<std::vector<std::string>> DnsSource::query_server(uint16_t qtype) {
    uint16_t id = next_id_++;
    auto query = dns::encode_query(id, name_, qtype);
    if (!query) return std::unexpected(query.error());
    char buf[sizeof(sockaddr_in6)] = {};
    sockaddr_in* v4 = reinterpret_cast<sockaddr_in*>(buf);
    sockaddr_in6* v6 = reinterpret_cast<sockaddr_in6*>(buf);
    socklen_t len = 0;
    int family = AF_INET;
    if (inet_pton(AF_INET, server_->host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(server_->port);
        len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, server_->host.c_str(), &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(server_->port);
        len = sizeof(sockaddr_in6);
    } else {
        return fail(Errc::kInvalidArgument, fmt::format("DNS server \"{}\" is not an IP address", server_->host));
    }
    FD sock(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return fail_errno("creating a UDP socket");
    // connect() so only the server's datagrams are accepted.
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(buf), len) != 0) return fail_errno("connecting to the DNS server");
    if (::send(sock.get(), query->data(), query->size(), 0) < 0) return fail_errno("sending a DNS query");
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{sock.get(), POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::vector<uint8_t> answer(4096);
        ssize_t got = ::recv(sock.get(), answer.data(), answer.size(), 0);
        if (got < 0) return fail_errno("receiving a DNS answer");
        answer.resize(static_cast<size_t>(got));
        auto addrs = dns::decode_addresses(answer, id, qtype);
        if (!addrs && addrs.error().message.find("does not match") != std::string::npos) continue;  // stale answer
        return addrs;
    }
    return fail(Errc::kTimeout, fmt::format("no DNS answer within {} ms", timeout_.count()));
}

Result<std::vector<std::string>> DnsSource::query_system() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(name_.c_str(), nullptr, &hints, &res);
    if (rc != 0) return fail(rc == EAI_NONAME ? Errc::kNotFound : Errc::kUnavailable, gai_strerror(rc));
    std::vector<std::string> out;
    for (auto* ai = res; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text, sizeof text);
        else if (ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text, sizeof text);
        else continue;
        out.emplace_back(text);
    }
    ::freeaddrinfo(res);
    return out;
}

Result<std::vector<NodeAddress>> DnsSource::list() {
    std::vector<std::string> addresses;
    if (server_) {
        // A name may have only A or only AAAA records, and servers without upstreams may refuse
        // the other type: only when neither query answers is the refresh a failure.
        auto a = query_server(dns::kTypeA);
        auto aaaa = query_server(dns::kTypeAAAA);
        bool a_ok = a || a.error().code == Errc::kNotFound, aaaa_ok = aaaa || aaaa.error().code == Errc::kNotFound;
        if (!a_ok && !aaaa_ok)
            return std::unexpected(Error::wrap(a.error(), "resolving " + name_ + " (A; AAAA: " + aaaa.error().message + ")"));
        if (a) addresses = *a;
        if (aaaa) addresses.insert(addresses.end(), aaaa->begin(), aaaa->end());
    } else {
        auto all = query_system();
        // NXDOMAIN is an answer: a Service with no ready pods has no records.
        if (!all && all.error().code != Errc::kNotFound) return std::unexpected(Error::wrap(all.error(), "resolving " + name_));
        if (all) addresses = *all;
    }
    std::vector<NodeAddress> nodes;
    for (auto& a : addresses) nodes.push_back(make_node_address(a, port_, name_));
    normalize_nodes(nodes);
    return nodes;
}

}  // namespace ct::svc
