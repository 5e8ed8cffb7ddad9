// FanoutClient: sends one request to many tracer-nodes at once (Boost.Beast, C++20 coroutines on
// its own io threads). Per node: keep-alive connections are pooled and reused; every exchange has
// a deadline (connect + write + read) of `timeout` (or the call's own) from the moment it starts; a connection that
// turns out to be closed by the node while idle is retried once on a fresh one. At most
// `max_in_flight` exchanges run at a time across all calls; the rest wait their turn.
// With options.tls set, nodes are spoken to over HTTPS: each new connection takes the source's
// current CA context and checks the node's certificate chain and its name against the node's host
// (IP SAN for addresses, DNS SAN + SNI for names; or options.tls_server_name); a refused certificate fails that node with
// "TLS handshake failed: certificate verify failed (SSL routines): <OpenSSL's reason>". Pooled TLS connections
// are reused like plain ones.
// Thread-safety: send() may be called from any number of threads at once (it blocks the caller
// until every node answered, failed or timed out). Destroy only when no send() is running.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http_auth.h"
#include "common/tls_context.h"
#include "tracer-svc/merge/merge.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

struct FanoutOptions {
    std::chrono::milliseconds timeout{5000};  // per node exchange
    size_t max_in_flight = 64;
    size_t max_idle_per_node = 8;             // pooled keep-alive connections per node
    size_t max_response = 64 << 20;           // bytes; larger answers fail that node
    // Sent with every node request, e.g. {"User-Agent", ...}.
    std::vector<std::pair<std::string, std::string>> headers;
    // Set: every request carries "Authorization: Bearer <its current token>" (re-read on rotation).
    std::shared_ptr<http::TokenSource> node_token = nullptr;
    // Set: HTTPS to the nodes, verified against this CA source (already loaded). Unset: plain HTTP.
    std::shared_ptr<http::TlsClientContextSource> tls = nullptr;
    // With tls: the name every node's certificate must carry (and SNI) instead of the node's own
    // host, for one shared node certificate when nodes are dialled by pod IP. "" = the node's host.
    std::string tls_server_name;
};

struct Call {
    std::string method = "GET";
    std::string target;  // "/v1/pods"
    std::string body;    // forwarded as is
    // Per node exchange; zero = FanoutOptions::timeout. For requests a node may legitimately take
    // long over (starting and stopping trace hooks).
    std::chrono::milliseconds timeout{0};
};

class FanoutClient {
public:
    explicit FanoutClient(FanoutOptions options);
    ~FanoutClient();
    FanoutClient(const FanoutClient&) = delete;
    FanoutClient& operator=(const FanoutClient&) = delete;

    // One reply per node, in the order of `nodes`. Never throws; failures are in the replies.
    std::vector<NodeReply> send(const std::vector<NodeAddress>& nodes, const Call& call);
    // Closes pooled connections of nodes that are no longer in the directory.
    void retain(const std::vector<NodeAddress>& nodes);

    struct Stats {
        uint64_t connects = 0;  // new TCP connections made (and, with TLS, handshaken)
        uint64_t reused = 0;    // exchanges that used a pooled connection
    };
    Stats stats() const;

    const FanoutOptions& options() const;
    // options().headers plus "Authorization: Bearer <current node token>" when there is one: for
    // other clients of the nodes (the stream proxy), so they follow token rotation too.
    std::vector<std::pair<std::string, std::string>> node_headers() const;

    struct Impl;  // public only so the exchange coroutine (an implementation detail) can name it

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ct::svc
