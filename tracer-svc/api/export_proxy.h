// Relays one tracer-node's streamed answer for one tracer-svc client: a session's recording
// (GET /v1/trace-session/<id>/trace.dat, trace.json) and each node's part of the cluster's
// trace.json (trace_merge.h). Live streams are not relayed here but by StreamRelay
// (stream_proxy.h), which shares one node stream among all readers. A relay thread reads the
// node's chunked answer (blocking client) into a bounded queue, which a PullSource hands on
// (common/pull_stream.h). When the client reads slower than the node sends, the queue fills and
// the relay stops reading: tracer-svc never buffers without bound. A download holds two threads
// for its length (downloads are few; live readers are many and hold none).
// Ownership: open_export_proxy() returns the Response that owns the relay (via its stream);
// closing the stream (client gone) or the node ending it stops and joins the relay thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/http.h"
#include "common/http_client.h"
#include "common/pull_stream.h"
#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

struct ExportProxyOptions {
    std::chrono::milliseconds header_timeout{5000};  // until the node answers with its status
    size_t max_queued = 4 << 20;                     // bytes relayed but not yet sent on
    std::vector<std::pair<std::string, std::string>> headers;  // sent to the node (its token)
    std::shared_ptr<boost::asio::ssl::context> tls;            // HTTPS to the node (--node-ca)
    std::string tls_server_name;                               // "" = the node's host
};

// Asks `node` for `target` and, once it answered: its 200 stream relayed as our stream, or its
// error status and body as they are. 502 naming the node when it cannot be reached in time.
// Blocks the calling (pool) thread up to header_timeout.
http::Response open_export_proxy(const NodeAddress& node, const std::string& target, const ExportProxyOptions& options);

// The same as a PullSource, for a caller that combines several nodes' answers (trace_merge.h):
// `source` set for a 200, else `refusal` is the answer to pass on.
struct NodeExport {
    http::Response refusal;
    std::shared_ptr<http::PullSource> source;
};
NodeExport open_node_export(const NodeAddress& node, const std::string& target, const ExportProxyOptions& options);

}  // namespace ct::svc
