// FanoutClient: sends one request to many tracer-nodes at once, from one I/O thread of its own
// (Boost.Asio, completion handlers, no coroutine or timer per exchange).
// Per node, keep-alive connections are pooled and reused; a pooled connection that the node had
// closed while idle is retried once on a fresh one. A call has one deadline, `timeout` (or the
// call's own) from the moment send() starts it: connect, TLS handshake, write and read of every
// node's exchange, and any wait for an in-flight slot, end by then, so one hung node never holds
// the answer past it. At most `max_in_flight` exchanges run at a time across all calls; the rest
// wait their turn.
// The request is written to every node with a pooled connection first, without waiting, and the
// replies are read afterwards, so they arrive while the rest are written; each reply is handed
// to the caller as soon as it is complete (send() with OnReply), so it can be parsed while slower
// nodes are still answering. docs/tracer-svc.md gives the measured cost per exchange.
// With options.tls set, nodes are spoken to over HTTPS: each new connection takes the source's
// current CA context and checks the node's certificate chain and its name against the node's host
// (IP SAN for addresses, DNS SAN + SNI for names; or options.tls_server_name); a refused certificate fails that node with
// "TLS handshake failed: certificate verify failed (SSL routines): <OpenSSL's reason>". Pooled TLS connections
// are reused like plain ones.
// Thread-safety: send() may be called from any number of threads at once, except the client's own
// I/O thread (which is where OnReply runs); it blocks the caller until every node answered,
// failed or timed out. Destroy only when no send() is running.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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
    std::chrono::milliseconds timeout{5000};  // per call: every node's exchange ends by then
    size_t max_in_flight = 4096;              // exchanges at once, across calls (each holds a connection)
    size_t max_idle_per_node = 4;             // pooled keep-alive connections per node
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
    // The call's deadline; zero = FanoutOptions::timeout. For requests a node may legitimately
    // take long over (starting and stopping trace hooks).
    std::chrono::milliseconds timeout{0};
};

class FanoutClient {
public:
    explicit FanoutClient(FanoutOptions options);
    ~FanoutClient();
    FanoutClient(const FanoutClient&) = delete;
    FanoutClient& operator=(const FanoutClient&) = delete;

    // Called once per node with its index in `nodes` and its reply, on the client's I/O thread,
    // as each reply completes; it must be quick and must not block (every node of every call
    // waits while it runs). Never throws; failures are in the replies.
    using OnReply = std::function<void(size_t index, NodeReply reply)>;
    void send(const std::vector<NodeAddress>& nodes, const Call& call, const OnReply& on_reply);
    // One reply per node, in the order of `nodes`.
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

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ct::svc
