// HttpServer: HTTP/1.1 on Boost.Beast with C++20 coroutines. Connections are handled on an
// io_context (io_threads); each request's handler runs on a separate blocking pool
// (handler_threads) so a slow handler never stalls the network loop. Streaming responses
// (Response::stream) are pulled on a pool of their own (stream_threads), in short waits, and
// written chunked, so open streams never hold up other requests.
// Limits answer with a status and {"error": ...}: body > max_body -> 413, headers > max_header
// -> 431, malformed request -> 400, more than max_connections open -> 503.
// TLS (ServerOptions::tls_cert/tls_key) wraps the same protocol; authentication is a Dispatch
// wrapper (common/http_auth.h).
// Lifecycle: construct, start() (binds; returns the bound port), stop() or destroy from the
// thread that owns it. dispatch callbacks run on pool threads.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/http.h"
#include "common/result.h"
#include "common/strings.h"

namespace ct::http {

struct ServerOptions {
    HostPort listen;                                    // host "" = all interfaces; port 0 = any
    size_t io_threads = 2;
    size_t handler_threads = 32;
    size_t stream_threads = 8;                          // pull streamed responses (Response::stream)
    size_t max_body = 1 << 20;                          // bytes
    size_t max_header = 16 << 10;                       // bytes
    size_t max_connections = 512;
    std::chrono::seconds idle_timeout{60};              // keep-alive connections idle this long close
    std::chrono::seconds write_timeout{30};
    // HTTPS when both are set: PEM certificate chain and private key, re-read when they change
    // (checked on each new connection). start() fails with kInvalidArgument when unusable.
    std::string tls_cert;
    std::string tls_key;
    std::chrono::seconds handshake_timeout{10};
};

// Called once per request on a pool thread. `route` names the matched route for metrics.
struct Dispatched {
    Response response;
    std::string route;
};
using Dispatch = std::function<Dispatched(const Request&)>;
// Observes every completed request (including limit rejections): route, method, status.
// Requests the server itself rejects have no route: they are reported as "limit:body",
// "limit:header", "limit:connections" (kLimitRoutePrefix + the limit) or "malformed".
inline constexpr std::string_view kLimitRoutePrefix = "limit:";
using Observer = std::function<void(const std::string& route, const std::string& method, int status)>;

class HttpServer {
public:
    HttpServer(ServerOptions options, Dispatch dispatch, Observer observer = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts serving. Returns the bound port. Errors: kIo (address in use, bad host).
    Result<unsigned short> start();
    // Stops accepting, closes connections and streams, joins threads. Idempotent.
    void stop();

    size_t open_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ct::http
