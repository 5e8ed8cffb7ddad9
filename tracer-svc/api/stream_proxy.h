// StreamRelay: tracer-svc's live streams (GET /v1/trace-session/<id>/trace). Per session it holds
// ONE stream from the node that owns the session (http::AsyncStream on the relay's own I/O thread)
// and fans it out to every tracer-svc reader of that session through a StreamFanout
// (common/stream_fanout.h), so the node sees one reader however many follow the session here, and
// no thread is held per reader or per stream.
// The first reader of a session opens the node stream and waits (up to header_timeout) for the
// node's answer: a 200 starts the fan-out; any other answer is passed on as it is (to every reader
// that waited for it); no answer in time is 502 naming the node. Later readers join the running
// fan-out at once, from the next event on. Pieces are split at line ends, so a reader that falls
// more than reader_queue_bytes behind loses whole events only, counted per reader (its
// X-Tracer-Dropped trailer) and in stats() (tracer-svc's /metrics). The node stream is closed when
// the last reader leaves; when the node ends it, every reader's stream ends, with the node's own
// drops added to each reader's X-Tracer-Dropped (and X-Tracer-Error when the node connection broke).
// Ownership: main owns the relay and destroys it after the HTTP server; readers' streams keep their
// fan-out alive. Thread-safety: every member may be called from any thread; open() blocks its
// caller (a handler thread) up to header_timeout for the first reader of a session only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http.h"
#include "tracer-svc/nodes/node_source.h"

namespace boost::asio::ssl {
class context;
}

namespace ct::svc {

struct StreamRelayOptions {
    std::chrono::milliseconds header_timeout{5000};  // until the node answers with its status
    std::size_t reader_queue_bytes = 8u << 20;       // how far a reader may fall behind (one log per session)
    std::size_t max_readers_per_session = 4096;
    std::size_t max_readers = 8192;                  // of all sessions
};

// How to reach the node: given per call, so a rotated token or CA is used by the next stream.
struct NodeAccess {
    std::vector<std::pair<std::string, std::string>> headers;  // sent to the node (its token)
    std::shared_ptr<boost::asio::ssl::context> tls;            // HTTPS to the node (--node-ca)
    std::string tls_server_name;                               // "" = the node's host
};

class StreamRelay {
public:
    explicit StreamRelay(StreamRelayOptions options = {});
    ~StreamRelay();  // closes every node stream and joins the I/O thread
    StreamRelay(const StreamRelay&) = delete;
    StreamRelay& operator=(const StreamRelay&) = delete;

    // `target` on `node` (".../<id>/trace") as a response for one more reader: a stream, the node's
    // refusal as it is, 429 past a reader limit, or 502 naming the node.
    http::Response open(const NodeAddress& node, const std::string& target, const NodeAccess& access);

    struct Stats {
        std::size_t node_streams = 0;  // open to nodes now
        std::size_t readers = 0;       // following them now
        std::uint64_t sent = 0;        // events sent to readers, since start
        std::uint64_t dropped = 0;     // events readers lost by falling behind, since start
    };
    Stats stats() const;

    struct State;  // shared with the node streams' callbacks (stream_proxy.cpp)

private:
    std::shared_ptr<State> state_;
};

}  // namespace ct::svc
