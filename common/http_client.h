// Blocking HTTP/1.1 client for simple callers (tests, tools, one-off calls). One connection per
// call; every call is bounded by `timeout` (connect + write + read). Safe to call from any
// thread; no shared state. tracer-svc's concurrent fan-out uses its own async client.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/result.h"

namespace ct::http {

struct ClientRequest {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string method = "GET";
    std::string target = "/";
    std::string body;
    std::map<std::string, std::string> headers;  // extra headers; Content-Type defaults to JSON
    std::chrono::milliseconds timeout{5000};
};

struct ClientResponse {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased
};

// Errors: kTimeout when the deadline passes, kUnavailable when the connection fails or breaks.
Result<ClientResponse> send(const ClientRequest& request);

// Streams a response body: calls on_data with each piece as it arrives until the server ends the
// response, on_data returns false, or `timeout` passes (then returns what it got, status set,
// no error). Returns the status and headers.
Result<ClientResponse> stream(const ClientRequest& request, const std::function<bool(std::string_view)>& on_data);

}  // namespace ct::http
