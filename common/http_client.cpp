#include "common/http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "common/tls_context.h"

namespace ct::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kStreamReadSize = 64 << 10;  // bytes per read of a streamed body

// Runs the io_context until `done` or the deadline; the operations themselves carry the expiry.
void run_until(asio::io_context& io, const bool& done, Clock::time_point deadline) {
    // A context that ran out of work is stopped until restarted: the next operation would never run.
    if (io.stopped()) io.restart();
    while (!done && Clock::now() < deadline) {
        io.run_one_until(deadline);
        if (io.stopped()) break;
    }
}

bhttp::request<bhttp::string_body> build(const ClientRequest& r) {
    bhttp::verb verb = bhttp::string_to_verb(r.method);
    bhttp::request<bhttp::string_body> req;
    if (verb == bhttp::verb::unknown) req.method_string(r.method);
    else req.method(verb);
    req.target(r.target);
    req.version(11);
    req.set(bhttp::field::host, fmt::format("{}:{}", r.host, r.port));
    req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : r.headers) req.set(k, v);
    req.body() = r.body;
    req.keep_alive(false);
    req.prepare_payload();
    return req;
}

Error net_error(const ClientRequest& r, const char* step, boost::system::error_code ec) {
    Errc code = ec == beast::error::timeout ? Errc::kTimeout : Errc::kUnavailable;
    return Error{code, fmt::format("{} {}:{}{}: {} failed: {}", r.method, r.host, r.port, r.target, step, ec.message())};
}

// Connects the TCP stream; returns the error, if any.
boost::system::error_code connect(asio::io_context& io, beast::tcp_stream& stream, const ClientRequest& r,
                                  Clock::time_point deadline, const char*& step) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(r.host, ec);
    tcp::resolver::results_type endpoints;
    if (ec) {
        tcp::resolver resolver(io);
        endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
        step = "resolve";
        if (ec) return ec;
    } else {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, r.port), r.host, std::to_string(r.port));
    }
    bool done = false;
    stream.expires_at(deadline);
    step = "connect";
    stream.async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) { ec = e, done = true; });
    run_until(io, done, deadline + std::chrono::milliseconds(50));
    if (!done) return beast::error::timeout;
    return ec;
}

template <class Stream>
boost::system::error_code write_request(asio::io_context& io, Stream& stream, const ClientRequest& r,
                                        Clock::time_point deadline, const char*& step) {
    auto req = build(r);
    boost::system::error_code ec;
    bool done = false;
    step = "write";
    bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) { ec = e, done = true; });
    run_until(io, done, deadline + std::chrono::milliseconds(50));
    if (!done) return beast::error::timeout;
    return ec;
}

void copy_headers(const bhttp::response_header<>& in, ClientResponse& out) {
    out.status = static_cast<int>(in.result_int());
    for (const auto& f : in) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
}

// The earlier of `deadline` and `bound` from now (bound 0: `deadline`).
Clock::time_point bounded(Clock::time_point deadline, std::chrono::milliseconds bound) {
    return bound.count() > 0 ? std::min(deadline, Clock::now() + bound) : deadline;
}

// Connects (HTTPS: handshakes, verifying the server's name) within r.connect_timeout, writes the
// request, then hands the stream — a tcp_stream or an ssl_stream over one — to
// `exchange(io, stream)` to read the answer. A tcp_stream's expiry covers every later operation
// until set again, so it goes back to `deadline` once connected.
template <class Exchange>
Result<ClientResponse> with_connection(const ClientRequest& r, Clock::time_point deadline, Exchange&& exchange) {
    asio::io_context io;
    const char* step = "connect";
    auto connect_deadline = bounded(deadline, r.connect_timeout);
    if (!r.tls) {
        beast::tcp_stream stream(io);
        auto ec = connect(io, stream, r, connect_deadline, step);
        stream.expires_at(deadline);
        if (!ec) ec = write_request(io, stream, r, deadline, step);
        if (ec) return std::unexpected(net_error(r, step, ec));
        return exchange(io, stream);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, *r.tls);
    auto ec = connect(io, beast::get_lowest_layer(stream), r, connect_deadline, step);
    if (ec) return std::unexpected(net_error(r, step, ec));
    if (auto named = expect_peer_name(stream.native_handle(), r.tls_server_name.empty() ? r.host : r.tls_server_name);
        !named)
        return std::unexpected(named.error());
    bool done = false;
    stream.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) { ec = e, done = true; });
    run_until(io, done, connect_deadline + std::chrono::milliseconds(50));
    if (!done) ec = beast::error::timeout;
    if (ec)
        return std::unexpected(Error{Errc::kUnavailable,
                                     fmt::format("{} {}:{}{}: TLS handshake failed: {}", r.method, r.host, r.port, r.target,
                                                 describe_handshake_error(ec, stream.native_handle()))});
    beast::get_lowest_layer(stream).expires_at(deadline);
    if ((ec = write_request(io, stream, r, deadline, step))) return std::unexpected(net_error(r, step, ec));
    return exchange(io, stream);
}

}  // namespace

Result<ClientResponse> send(const ClientRequest& r) {
    auto deadline = Clock::now() + r.timeout;
    return with_connection(r, deadline, [&](asio::io_context& io, auto& stream) -> Result<ClientResponse> {
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(r.max_response > 0 ? r.max_response : std::numeric_limits<std::uint64_t>::max());
        boost::system::error_code ec;
        bool done = false;
        bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e, done = true; });
        run_until(io, done, deadline + std::chrono::milliseconds(50));
        if (!done) ec = beast::error::timeout;
        if (ec) return std::unexpected(net_error(r, "read", ec));
        ClientResponse out;
        copy_headers(parser.get().base(), out);
        out.body = std::move(parser.get().body());
        return out;
    });
}

Result<ClientResponse> stream(const ClientRequest& r, const std::function<bool(std::string_view)>& on_data,
                              const std::function<bool(const ClientResponse&)>& on_headers) {
    auto deadline = Clock::now() + r.timeout;
    return with_connection(r, deadline, [&](asio::io_context& io, auto& stream) -> Result<ClientResponse> {
        beast::flat_buffer buffer;
        buffer.reserve(kStreamReadSize);  // Beast reads what the buffer holds, else 512 bytes at a time
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        boost::system::error_code ec;
        bool done = false;
        auto header_deadline = bounded(deadline, r.header_timeout);
        beast::get_lowest_layer(stream).expires_at(header_deadline);
        bhttp::async_read_header(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e, done = true; });
        run_until(io, done, header_deadline + std::chrono::milliseconds(50));
        if (!done) ec = beast::error::timeout;
        if (ec) return std::unexpected(net_error(r, "read header", ec));
        beast::get_lowest_layer(stream).expires_at(deadline);
        ClientResponse out;
        copy_headers(parser.get().base(), out);
        if (on_headers && !on_headers(out)) return out;
        char chunk[16384];
        while (!parser.is_done()) {
            parser.get().body().data = chunk;
            parser.get().body().size = sizeof chunk;
            done = false;
            bhttp::async_read_some(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e, done = true; });
            // Wake every kStreamIdlePoll while idle: the caller may want to stop (its reader left).
            bool stop = false;
            while (!done && !stop) {
                run_until(io, done, std::min(deadline, Clock::now() + kStreamIdlePoll));
                stop = !done && (Clock::now() >= deadline || !on_data({}));
            }
            if (!done) break;  // deadline or stopped: return what we have
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec) break;
            size_t got = sizeof chunk - parser.get().body().size;
            if (got > 0 && !on_data(std::string_view(chunk, got))) break;
        }
        if (parser.is_done()) copy_headers(parser.get().base(), out);  // now with the trailer's fields
        return out;
    });
}

struct AsyncStream::Impl {
    explicit Impl(asio::io_context& io) : strand(asio::make_strand(io)) {}
    asio::strand<asio::io_context::executor_type> strand;
    ClientRequest request;
    Callbacks callbacks;
    std::atomic<bool> cancelled{false};
    // The connection, touched on the strand only.
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Notices a peer that vanished without closing (node crash, network gone) on a connection that
// may stay silent for long: probes after 30 s idle, every 10 s, 3 tries.
void keep_alive(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    int idle = 30, interval = 10, count = 3;
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

// Headers, then the body piece by piece, from `stream` (a tcp_stream or an ssl_stream over one).
template <class Stream>
asio::awaitable<Result<ClientResponse>> read_streamed(AsyncStream::Impl& s, Stream& stream, Clock::time_point deadline) {
    const auto& r = s.request;
    beast::flat_buffer buffer;
    buffer.reserve(kStreamReadSize);  // Beast reads what the buffer holds, else 512 bytes at a time
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    s.tcp().expires_at(deadline);
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    if (hec) co_return std::unexpected(net_error(r, "read header", hec));
    ClientResponse out;
    copy_headers(parser.get().base(), out);
    if (s.cancelled) co_return std::unexpected(Error{Errc::kUnavailable, "cancelled"});
    if (s.callbacks.on_head) s.callbacks.on_head(out);
    s.tcp().expires_never();  // the body lasts as long as the stream does
    std::vector<char> chunk(kStreamReadSize);
    while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kTuple);
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) co_return std::unexpected(net_error(r, "read", ec));
        size_t got = chunk.size() - parser.get().body().size;
        if (s.cancelled) co_return std::unexpected(Error{Errc::kUnavailable, "cancelled"});
        if (got > 0 && s.callbacks.on_data) s.callbacks.on_data(std::string_view(chunk.data(), got));
    }
    copy_headers(parser.get().base(), out);  // with the trailer's fields
    co_return out;
}

asio::awaitable<Result<ClientResponse>> run_stream(std::shared_ptr<AsyncStream::Impl> s) {
    const auto& r = s->request;
    const auto deadline = Clock::now() + r.timeout;
    auto ex = co_await asio::this_coro::executor;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(r.host, ec);
    tcp::resolver::results_type endpoints;
    if (ec) {
        tcp::resolver resolver(ex);
        auto [rec, results] = co_await resolver.async_resolve(r.host, std::to_string(r.port), kTuple);
        if (rec) co_return std::unexpected(net_error(r, "resolve", rec));
        endpoints = results;
    } else {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, r.port), r.host, std::to_string(r.port));
    }
    if (r.tls) s->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *r.tls);
    else s->plain = std::make_unique<beast::tcp_stream>(ex);
    if (s->cancelled) co_return std::unexpected(Error{Errc::kUnavailable, "cancelled"});
    s->tcp().expires_at(deadline);
    auto [cec, endpoint] = co_await s->tcp().async_connect(endpoints, kTuple);
    if (cec) co_return std::unexpected(net_error(r, "connect", cec));
    keep_alive(s->tcp().socket());
    auto req = build(r);
    if (!s->tls) {
        auto [wec, wn] = co_await bhttp::async_write(*s->plain, req, kTuple);
        if (wec) co_return std::unexpected(net_error(r, "write", wec));
        co_return co_await read_streamed(*s, *s->plain, deadline);
    }
    if (auto named = expect_peer_name(s->tls->native_handle(), r.tls_server_name.empty() ? r.host : r.tls_server_name);
        !named)
        co_return std::unexpected(named.error());
    auto [hec] = co_await s->tls->async_handshake(asio::ssl::stream_base::client, kTuple);
    if (hec)
        co_return std::unexpected(Error{Errc::kUnavailable,
                                        fmt::format("{} {}:{}{}: TLS handshake failed: {}", r.method, r.host, r.port,
                                                    r.target, describe_handshake_error(hec, s->tls->native_handle()))});
    auto [wec, wn] = co_await bhttp::async_write(*s->tls, req, kTuple);
    if (wec) co_return std::unexpected(net_error(r, "write", wec));
    co_return co_await read_streamed(*s, *s->tls, deadline);
}

}  // namespace

std::shared_ptr<AsyncStream> AsyncStream::open(asio::io_context& io, ClientRequest request, Callbacks callbacks) {
    auto impl = std::make_shared<Impl>(io);
    impl->request = std::move(request);
    impl->callbacks = std::move(callbacks);
    asio::co_spawn(impl->strand, run_stream(impl), [impl](std::exception_ptr error, Result<ClientResponse> end) {
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                end = std::unexpected(Error{Errc::kInternal, e.what()});
            }
        }
        if (impl->callbacks.on_end) impl->callbacks.on_end(std::move(end));
        impl->callbacks = {};  // releases what they hold
        boost::system::error_code ignored;
        if (impl->plain || impl->tls) impl->tcp().socket().close(ignored);
    });
    return std::make_shared<AsyncStream>(std::move(impl));
}

void AsyncStream::cancel() {
    impl_->cancelled = true;
    asio::post(impl_->strand, [impl = impl_] {
        boost::system::error_code ignored;
        if (impl->plain || impl->tls) impl->tcp().socket().close(ignored);
    });
}

}  // namespace ct::http
