// HTTP model shared by server, router and handlers: plain structs, no Beast types, so handlers
// and their tests (and fuzzers) don't depend on the transport.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "common/result.h"

namespace ct::http {

struct Request {
    std::string method;                          // "GET", "POST", ...
    std::string target;                          // as received: "/v1/pods?x=1"
    std::string path;                            // target without the query: "/v1/pods"
    std::string query;                           // after '?', undecoded; "" when none
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string remote;                          // peer address, for logs

    std::string header(const std::string& lower_name) const;  // "" when absent
};

// A response body produced over time (chunked transfer), e.g. a live trace stream. Push-driven:
// the producer queues data and wakes the connection; the server takes what is queued on the
// connection's I/O thread and writes it. No thread waits on a stream (common/stream_fanout.h is
// the implementation both programs use).
using StreamPiece = std::shared_ptr<const std::string>;  // shared by every reader, never copied
class ChunkStream {
public:
    virtual ~ChunkStream() = default;
    // Called once by the server before the first take(). After a take() that returned true with
    // nothing, the stream calls `wake` (from any thread, never blocking, possibly more than once)
    // when data or the end is there. `wake` is not called after close() returned.
    virtual void start(std::function<void()> wake) = 0;
    // Appends the pieces queued now to `out` (nothing = wait for wake). False once the stream
    // has ended and everything was taken; `out` is then left empty.
    virtual bool take(std::vector<StreamPiece>& out) = 0;
    // Trailer fields sent after the last chunk of a stream that ended (not of one cut short).
    virtual std::vector<std::pair<std::string, std::string>> trailers() const { return {}; }
    // The client went away, the server is stopping, or the stream ended; release resources.
    // Called once, from the connection's thread; take() is not called again.
    virtual void close() = 0;
};

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    std::shared_ptr<ChunkStream> stream;  // when set, body is ignored and the stream is sent chunked
};

// {"error": message} with the status that fits the error's code.
Response error_response(const Error& error);
Response error_response(int status, std::string message);
// Serialises `value` as the body, status 200 unless given.
Response json_response(const boost::json::value& value, int status = 200);

// The method as a metrics label: the standard methods as they are, anything else "other", so a
// client sending made-up methods cannot grow the metrics without bound.
std::string metric_method(std::string_view method);

}  // namespace ct::http
