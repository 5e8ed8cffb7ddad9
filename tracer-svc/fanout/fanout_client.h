// FanoutClient: sends one request to many tracer-nodes at once (Boost.Beast, C++20 coroutines on
// its own io threads). Per node: keep-alive connections are pooled and reused; every exchange has
// a deadline (connect + write + read) of `timeout` from the moment it starts; a connection that
// turns out to be closed by the node while idle is retried once on a fresh one. At most
// `max_in_flight` exchanges run at a time across all calls; the rest wait their turn.
// Thread-safety: send() may be called from any number of threads at once (it blocks the caller
// until every node answered, failed or timed out). Destroy only when no send() is running.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tracer-svc/merge/merge.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

struct FanoutOptions {
    std::chrono::milliseconds timeout{5000};  // per node exchange
    size_t max_in_flight = 64;
    size_t max_idle_per_node = 8;             // pooled keep-alive connections per node
    size_t io_threads = 2;
    size_t max_response = 64 << 20;           // bytes; larger answers fail that node
    // Sent with every node request, e.g. {"Authorization", "Bearer <node token>"}.
    std::vector<std::pair<std::string, std::string>> headers;
};

struct Call {
    std::string method = "GET";
    std::string target;  // "/v1/pods"
    std::string body;    // forwarded as is
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
        uint64_t connects = 0;  // new TCP connections made
        uint64_t reused = 0;    // exchanges that used a pooled connection
    };
    Stats stats() const;

    const FanoutOptions& options() const;

    struct Impl;  // public only so the exchange coroutine (an implementation detail) can name it

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ct::svc
