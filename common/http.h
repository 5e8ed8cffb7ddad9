// HTTP model shared by server, router and handlers: plain structs, no Beast types, so handlers
// and their tests (and fuzzers) don't depend on the transport.
#pragma once

#include <chrono>
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

// A response body produced over time (chunked transfer), e.g. a live trace stream.
// next() is called from a server pool thread, one call at a time per stream.
class ChunkStream {
public:
    virtual ~ChunkStream() = default;
    // Waits up to `wait` for data. Returns the next chunk ("" = nothing yet, keep going),
    // or nullopt when the stream has ended.
    virtual std::optional<std::string> next(std::chrono::milliseconds wait) = 0;
    // The client went away or the server is stopping; release resources. Called at most once,
    // after which next() is not called again.
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
