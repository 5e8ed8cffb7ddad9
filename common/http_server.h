// HttpServer: HTTP/1.1 on Boost.Beast with C++20 coroutines. Connections are handled on an
// io_context (io_threads); each request's handler runs on a bounded blocking pool
// (handler_threads) so a slow handler never stalls the network loop, except the inline paths
// (/healthz, /readyz), which are answered on the I/O thread: a probe never queues behind slow
// requests. Streamed responses (Response::stream, a push-driven http::ChunkStream) are written
// from the I/O thread when the stream wakes the connection: no thread per stream, no polling.
// The thread count is fixed at start: io_threads + handler_threads.
// Deadlines: a request's headers must arrive within header_timeout (from the connection's accept,
// or from its first byte on a kept-alive connection, which may first idle for idle_timeout), its
// body within body_timeout after them; a connection past a deadline is closed (slow clients,
// slowloris). Limits answer with a status and {"error": ...}: body > max_body -> 413, headers >
// max_header -> 431, malformed request -> 400. Past max_connections open connections, or
// max_connections_per_address from one client address, a new connection is still read for one
// request under a short deadline: the inline paths are answered as usual (a kubelet probe never
// fails because of an abusive client), anything else gets 503 (server full) or 429 (that address
// full), and the connection is closed.
// TLS (ServerOptions::tls_cert/tls_key) wraps the same protocol; authentication is a Dispatch
// wrapper (common/http_auth.h).
// Lifecycle: construct, start() (binds; returns the bound port), stop() or destroy from the
// thread that owns it. dispatch callbacks run on pool threads (inline paths: on I/O threads).
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
    size_t handler_threads = 16;                        // blocking handlers (session start, fan-out)
    size_t max_body = 1 << 20;                          // bytes
    size_t max_header = 16 << 10;                       // bytes
    size_t max_connections = 10000;                     // open connections served (see above)
    size_t max_connections_per_address = 1024;          // of those, from one client IP address
    std::chrono::milliseconds header_timeout{10000};     // a request's headers must arrive within this
    std::chrono::milliseconds body_timeout{30000};       // its body within this after the headers
    std::chrono::milliseconds idle_timeout{15000};       // kept-alive connections idle this long close
    std::chrono::milliseconds write_timeout{30000};      // one write (a response, a stream chunk)
    // Exact paths answered on the I/O thread, also past the connection limits; their handlers
    // must not block.
    std::vector<std::string> inline_paths{"/healthz", "/readyz"};
    // HTTPS when both are set: PEM certificate chain and private key, re-read when they change
    // (checked on each new connection). start() fails with kInvalidArgument when unusable.
    std::string tls_cert;
    std::string tls_key;
    std::chrono::seconds handshake_timeout{10};
};

// How long a connection past a connection limit has to send the one request it gets answered.
inline constexpr std::chrono::seconds kOverLimitDeadline{2};

// Called once per request on a pool thread. `route` names the matched route for metrics.
struct Dispatched {
    Response response;
    std::string route;
};
using Dispatch = std::function<Dispatched(const Request&)>;
// Observes every completed request (including limit rejections): route, method, status.
// Requests the server itself rejects have no route: they are reported as "limit:body",
// "limit:header", "limit:connections", "limit:address" (kLimitRoutePrefix + the limit),
// "limit:timeout" (a request cut at its header or body deadline, status 408) or "malformed".
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

    // Connections open now (served or being refused).
    size_t open_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Raises this process's open-file soft limit to its hard limit (every connection holds a
// descriptor) and returns the soft limit now in force. Call once at start, before threads.
size_t raise_open_file_limit();

}  // namespace ct::http
