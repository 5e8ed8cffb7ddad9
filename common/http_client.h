// Blocking HTTP/1.1 (or HTTPS) client for simple callers (tests, tools, one-off calls). One connection per
// call; every call is bounded by `timeout` (connect + write + read). Safe to call from any
// thread; no shared state. tracer-svc's concurrent fan-out uses its own async client.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace boost::asio::ssl {
class context;
}

namespace ct::http {

struct ClientRequest {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string method = "GET";
    std::string target = "/";
    std::string body;
    std::map<std::string, std::string> headers;  // extra headers; Content-Type defaults to JSON
    std::chrono::milliseconds timeout{5000};
    // HTTPS when set: the server must present a certificate this context trusts, for
    // tls_server_name (default: host) — see expect_peer_name() in common/tls_context.h.
    std::shared_ptr<boost::asio::ssl::context> tls;
    std::string tls_server_name;
    size_t max_response = 0;  // body bytes send() accepts; more is kUnavailable. 0 = no limit
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
// no error). While nothing arrives, on_data is also called with an empty piece every
// kStreamIdlePoll, so a caller can end an idle stream (return false). on_headers, when given, is
// called once with the status and headers before any body (returning false ends there).
// Returns the status and headers.
inline constexpr std::chrono::milliseconds kStreamIdlePoll{250};
Result<ClientResponse> stream(const ClientRequest& request, const std::function<bool(std::string_view)>& on_data,
                              const std::function<bool(const ClientResponse&)>& on_headers = {});

}  // namespace ct::http
