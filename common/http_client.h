// Blocking HTTP/1.1 (or HTTPS) client for simple callers (tests, tools, one-off calls). One connection per
// call; every call is bounded by `timeout` (connect + write + read). Safe to call from any
// thread; no shared state. tracer-svc's concurrent fan-out uses its own async client; AsyncStream
// below follows a long response (a live stream) on the caller's io_context, without a thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

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
    // Bounds connecting (and the TLS handshake) on their own, within `timeout`, so a caller with a
    // long `timeout` (a stream) still learns quickly that nobody answers. 0: only `timeout`.
    std::chrono::milliseconds connect_timeout{0};
    // stream() only: the status line and headers must arrive within this, within `timeout`.
    // 0: only `timeout`.
    std::chrono::milliseconds header_timeout{0};
};

struct ClientResponse {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased; after a chunked body, its trailer too
};

// Errors: kTimeout when the deadline passes, kUnavailable when the connection fails or breaks.
Result<ClientResponse> send(const ClientRequest& request);

// Streams a response body: calls on_data with each piece as it arrives until the server ends the
// response, on_data returns false, or `timeout` passes (then returns what it got, status set,
// no error). While nothing arrives, on_data is also called with an empty piece every
// kStreamIdlePoll, so a caller can end an idle stream (return false). on_headers, when given, is
// called once with the status and headers before any body (returning false ends there).
// Returns the status and headers (when the body ended, with the fields of its trailer).
inline constexpr std::chrono::milliseconds kStreamIdlePoll{250};
Result<ClientResponse> stream(const ClientRequest& request, const std::function<bool(std::string_view)>& on_data,
                              const std::function<bool(const ClientResponse&)>& on_headers = {});

// A streamed request on the caller's io_context: no thread of its own, for following live streams
// (tracer-svc relays node streams with it). open() returns at once; the callbacks then run on one
// of the io_context's threads, one at a time, in this order: on_head once with the status and
// headers (within request.timeout of open(), which bounds connect, TLS handshake, write and the
// headers; the body has no deadline, TCP keep-alive notices a peer that vanished), on_data for
// each piece of the body as it arrives, and on_end once: the headers plus the trailer when the
// body ended, or the error (kTimeout, kUnavailable naming the step) — also after cancel().
// Thread-safety: cancel() may be called from any thread, any number of times; callbacks already
// running may finish after it returns, so they must own (or check) what they touch.
class AsyncStream {
public:
    struct Callbacks {
        std::function<void(const ClientResponse& head)> on_head;
        std::function<void(std::string_view piece)> on_data;
        std::function<void(Result<ClientResponse> end)> on_end;
    };
    static std::shared_ptr<AsyncStream> open(boost::asio::io_context& io, ClientRequest request, Callbacks callbacks);
    // Closes the connection; on_end follows with an error unless the body had already ended.
    void cancel();

    struct Impl;  // public only so the coroutine (an implementation detail) can name it
    explicit AsyncStream(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ct::http
