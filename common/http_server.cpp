#include "common/http_server.h"

#include "common/http_beast.h"

#include <poll.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/tls_context.h"

namespace ct::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr std::chrono::milliseconds kStreamPullWait{50};

struct HttpServer::Impl {
    ServerOptions options;
    Dispatch dispatch;
    Observer observer;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    asio::thread_pool pool;         // request handlers
    asio::thread_pool stream_pool;  // pulls of streamed responses: open streams never delay requests
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::atomic<size_t> connections{0};
    std::atomic<bool> stopping{false};
    std::unique_ptr<TlsContextSource> tls;  // set when serving HTTPS

    Impl(ServerOptions o, Dispatch d, Observer obs)
        : options(std::move(o)), dispatch(std::move(d)), observer(std::move(obs)),
          pool(options.handler_threads), stream_pool(options.stream_threads) {}

    void observe(const std::string& route, const std::string& method, int status) {
        if (observer) observer(route, method, status);
    }

    awaitable<void> accept_loop();
    awaitable<void> serve(tcp::socket socket);
    template <class Stream>
    awaitable<void> session(Stream& stream, const std::string& remote);
    template <class Stream>
    awaitable<bool> write_stream(Stream& stream, Response& response);
    template <class Stream>
    awaitable<void> write_plain(Stream& stream, const Response& response, unsigned version, bool keep_alive);
};

namespace {

// True when the peer has closed its side (checked without consuming data).
bool peer_closed(tcp::socket& socket) {
    pollfd pfd{socket.native_handle(), POLLRDHUP, 0};
    return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

}  // namespace

template <class Stream>
awaitable<void> HttpServer::Impl::write_plain(Stream& stream, const Response& response, unsigned version,
                                              bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
    res.set(bhttp::field::server, "container-tracer");
    res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [k, v] : response.headers) res.set(k, v);
    res.body() = response.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    co_await bhttp::async_write(stream, res, kTuple);
}

template <class Stream>
awaitable<bool> HttpServer::Impl::write_stream(Stream& stream, Response& response) {
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, "container-tracer");
    res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [k, v] : response.headers) res.set(k, v);
    res.chunked(true);
    res.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kTuple);
    auto source = response.stream;
    bool ok = !ec;
    while (ok && !stopping) {
        // Pull on the stream pool: next() may block up to its wait, so keep the wait short — an
        // idle stream holds a stream thread for that long each time round.
        // Capture a raw pointer (kept alive by `source`): g++ 12 destroys temporaries of a
        // co_await full-expression twice, and a captured shared_ptr released twice frees the stream.
        auto* raw_source = source.get();
        auto chunk = co_await asio::co_spawn(
            stream_pool,
            [raw_source]() -> awaitable<std::optional<std::string>> { co_return raw_source->next(kStreamPullWait); },
            use_awaitable);
        if (!chunk) {
            beast::get_lowest_layer(stream).expires_after(options.write_timeout);
            co_await asio::async_write(stream, bhttp::make_chunk_last(), kTuple);
            break;
        }
        if (chunk->empty()) {
            ok = !peer_closed(beast::get_lowest_layer(stream).socket());
            continue;
        }
        beast::get_lowest_layer(stream).expires_after(options.write_timeout);
        auto [wec, wn] = co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*chunk)), kTuple);
        ok = !wec;
    }
    source->close();
    co_return ok;
}

awaitable<void> HttpServer::Impl::serve(tcp::socket socket) {
    struct Counted {
        std::atomic<size_t>& n;
        ~Counted() { --n; }
    } counted{connections};
    boost::system::error_code ignored;
    auto endpoint = socket.remote_endpoint(ignored);
    std::string remote = fmt::format("{}:{}", endpoint.address().to_string(ignored), endpoint.port());
    if (!tls) {
        beast::tcp_stream stream(std::move(socket));
        co_await session(stream, remote);
        co_return;
    }
    auto context = tls->current();  // held for the whole connection
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *context);
    beast::get_lowest_layer(stream).expires_after(options.handshake_timeout);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (hec) {
        // Not an HTTP exchange: plain-HTTP clients, clients rejecting our certificate, scanners.
        spdlog::debug("{}: TLS handshake failed: {}", remote, hec.message());
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
    }
    co_await session(stream, remote);
}

template <class Stream>
awaitable<void> HttpServer::Impl::session(Stream& stream, const std::string& remote) {
    boost::system::error_code ignored;
    beast::flat_buffer buffer;

    if (connections > options.max_connections) {
        Response r = error_response(503, fmt::format("too many connections (limit {})", options.max_connections));
        co_await write_plain(stream, r, 11, false);
        observe(std::string(kLimitRoutePrefix) + "connections", "", 503);
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }

    while (!stopping) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(options.max_body);
        parser.header_limit(static_cast<std::uint32_t>(options.max_header));
        beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
        auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
        if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
            ec == asio::ssl::error::stream_truncated)
            break;
        if (ec) {
            Response r;
            std::string route = "malformed";
            if (ec == bhttp::error::body_limit) {
                r = error_response(413, fmt::format("request body too large (limit {} bytes)", options.max_body));
                route = std::string(kLimitRoutePrefix) + "body";
            } else if (ec == bhttp::error::header_limit) {
                r = error_response(431, fmt::format("request headers too large (limit {} bytes)", options.max_header));
                route = std::string(kLimitRoutePrefix) + "header";
            } else {
                r = error_response(400, fmt::format("malformed HTTP request: {}", ec.message()));
            }
            co_await write_plain(stream, r, 11, false);
            observe(route, "", r.status);
            if (ec == bhttp::error::body_limit) {
                // Drop (bounded) what the client is still sending, so it can finish writing and
                // read the 413 instead of seeing a connection reset.
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
                char sink[16384];
                for (size_t total = 0; total < 4 * options.max_body + (1 << 20);) {
                    auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
                    if (rec) break;
                    total += rn;
                }
            }
            break;
        }
        auto& raw = parser.get();
        Request request = to_request(raw, remote);
        bool keep_alive = raw.keep_alive();
        unsigned version = raw.version();
        // Waiting for a free handler thread and handling are logged apart: a slow request on a
        // busy node shows which of the two it was.
        const auto read_at = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point handled_at;
        auto dispatched = co_await asio::co_spawn(
            pool,
            [this, &request, &handled_at]() -> awaitable<Dispatched> {
                handled_at = std::chrono::steady_clock::now();
                co_return dispatch(request);
            },
            use_awaitable);
        observe(dispatched.route, request.method, dispatched.response.status);
        if (spdlog::should_log(spdlog::level::debug)) {
            using ms = std::chrono::duration<double, std::milli>;
            const auto done_at = std::chrono::steady_clock::now();
            spdlog::debug("{} {} {} -> {} in {:.1f} ms (queued {:.1f} ms)", remote, request.method, request.target,
                          dispatched.response.status, ms(done_at - read_at).count(), ms(handled_at - read_at).count());
        }
        if (dispatched.response.stream) {
            co_await write_stream(stream, dispatched.response);
            break;
        }
        co_await write_plain(stream, dispatched.response, version, keep_alive);
        if (!keep_alive) break;
    }
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> HttpServer::Impl::accept_loop() {
    while (!stopping) {
        // Each connection on its own strand: its coroutine and Beast's timeout handler for its
        // stream (run on the socket's executor) never run at the same time on two io threads.
        auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(io), kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || stopping) break;
            spdlog::warn("accept failed: {}", ec.message());
            continue;
        }
        ++connections;
        auto executor = socket.get_executor();
        asio::co_spawn(executor, serve(std::move(socket)), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::warn("connection ended with error: {}", ex.what());
            }
        });
    }
}

HttpServer::HttpServer(ServerOptions options, Dispatch dispatch, Observer observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatch), std::move(observer))) {}

HttpServer::~HttpServer() { stop(); }

size_t HttpServer::open_connections() const { return impl_->connections; }

Result<unsigned short> HttpServer::start() {
    auto& o = impl_->options;
    if (o.tls_cert.empty() != o.tls_key.empty())
        return fail(Errc::kInvalidArgument, "TLS needs both a certificate and a key file");
    if (!o.tls_cert.empty() && !impl_->tls) {
        auto source = std::make_unique<TlsContextSource>(o.tls_cert, o.tls_key);
        if (auto loaded = source->load(); !loaded) return std::unexpected(loaded.error());
        impl_->tls = std::move(source);
    }
    boost::system::error_code ec;
    asio::ip::address address = o.listen.host.empty() ? asio::ip::address(asio::ip::address_v6::any())
                                                      : asio::ip::make_address(o.listen.host, ec);
    if (ec && o.listen.host == "localhost") address = asio::ip::address_v4::loopback(), ec = {};
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("invalid listen host \"{}\": {}", o.listen.host, ec.message()));
    tcp::endpoint endpoint{address, o.listen.port};
    auto& acc = impl_->acceptor.emplace(impl_->io);
    acc.open(endpoint.protocol(), ec);
    if (!ec && address.is_v6()) acc.set_option(asio::ip::v6_only(false), ec);  // dual-stack for ":port"
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        impl_->acceptor.reset();
        return fail(Errc::kIo, fmt::format("cannot listen on {}:{}: {}", o.listen.host.empty() ? "*" : o.listen.host,
                                           o.listen.port, ec.message()));
    }
    unsigned short port = acc.local_endpoint().port();
    impl_->work.emplace(impl_->io.get_executor());
    asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
    for (size_t i = 0; i < std::max<size_t>(1, o.io_threads); ++i)
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    return port;
}

void HttpServer::stop() {
    if (!impl_ || impl_->threads.empty()) return;
    impl_->stopping = true;
    asio::post(impl_->io, [this] {
        boost::system::error_code ignored;
        if (impl_->acceptor) impl_->acceptor->close(ignored);
    });
    impl_->work.reset();
    // Give open connections a moment to finish their current response, then stop the loop.
    for (int i = 0; i < 50 && impl_->connections > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    impl_->io.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->pool.join();
    impl_->stream_pool.join();
}

}  // namespace ct::http
