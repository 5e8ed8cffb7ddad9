// Relays one tracer-node's live trace stream (GET /v1/trace-session/<id>/trace) to a tracer-svc
// client. A relay thread reads the node's chunked answer (blocking client) into a bounded queue;
// the svc's HTTP server pulls it through ChunkStream::next(). When the svc client reads slower
// than the node sends, the queue fills and the relay stops reading, so the node's own per-reader
// queue drops and counts those events (the stream contract: a slow reader gets its own counted
// drops) — tracer-svc never buffers without bound.
// Ownership: open_stream_proxy() returns the Response that owns the relay (via its stream);
// closing the stream (client gone) or the node ending it stops and joins the relay thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/http.h"
#include "common/http_client.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

struct StreamProxyOptions {
    std::chrono::milliseconds header_timeout{5000};  // until the node answers with its status
    size_t max_queued = 4 << 20;                     // bytes relayed but not yet sent on
    std::vector<std::pair<std::string, std::string>> headers;  // sent to the node (its token)
    std::shared_ptr<boost::asio::ssl::context> tls;            // HTTPS to the node (--node-ca)
    std::string tls_server_name;                               // "" = the node's host
};

// Asks `node` for `target` and, once it answered: its 200 stream relayed as our stream, or its
// error status and body as they are. 502 naming the node when it cannot be reached in time.
// Blocks the calling (pool) thread up to header_timeout.
http::Response open_stream_proxy(const NodeAddress& node, const std::string& target, const StreamProxyOptions& options);

}  // namespace ct::svc
