#include "common/http_server.h"

#include "common/http_beast.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
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
// Descriptors kept free of connections for everything else the program opens.
constexpr size_t kReservedFds = 256;

namespace {

// Which limit a connection is past, if any, decided when it is accepted.
enum class Over { kNone, kConnections, kAddress };

// The client's IP address as one key for IPv4 and IPv4-mapped IPv6 peers (a dual-stack listener
// sees 127.0.0.1 as ::ffff:127.0.0.1).
std::string address_key(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
    return address.to_string();
}

// A reading error that just means the client has gone (or we are stopping).
bool client_gone(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated ||
           ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
}

// How a waiting stream writer is woken: ChunkStream's wake posts here, onto the connection's
// strand. `waiting` and `socket` are touched on that strand only.
struct StreamWake {
    asio::any_io_executor executor;
    tcp::socket* socket = nullptr;  // null once the stream is over
    bool waiting = false;           // the writer waits for readability of `socket`; cancel it to wake
    void wake_now() {
        if (waiting && socket) {
            boost::system::error_code ignored;
            socket->cancel(ignored);
        }
    }
};

}  // namespace

struct HttpServer::Impl {
    ServerOptions options;
    Dispatch dispatch;
    Observer observer;
    std::atomic<size_t> open{0};  // every accepted connection not closed yet
    std::atomic<bool> stopping{false};
    std::unique_ptr<TlsContextSource> tls;  // set when serving HTTPS
    size_t max_connections = 0;             // options.max_connections, within the open-file limit

    std::mutex admitted_mu;  // guards admitted, per_address
    size_t admitted = 0;     // connections within the limits
    std::unordered_map<std::string, size_t> per_address;

    std::mutex streams_mu;  // guards streams: the writers stop() wakes
    std::unordered_set<std::shared_ptr<StreamWake>> streams;

    // Declared after everything above: destroying io destroys the coroutine frames of connections
    // still open at shutdown, whose guards release their counts above.
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    asio::thread_pool pool;  // request handlers
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;

    Impl(ServerOptions o, Dispatch d, Observer obs)
        : options(std::move(o)), dispatch(std::move(d)), observer(std::move(obs)),
          pool(std::max<size_t>(1, options.handler_threads)) {}

    void observe(const std::string& route, const std::string& method, int status) {
        if (observer) observer(route, method, status);
    }
    bool is_inline(const std::string& path) const {
        return std::find(options.inline_paths.begin(), options.inline_paths.end(), path) != options.inline_paths.end();
    }

    Over admit(const std::string& address) {
        std::lock_guard lock(admitted_mu);
        if (admitted >= max_connections) return Over::kConnections;
        auto& n = per_address[address];
        if (n >= options.max_connections_per_address) return Over::kAddress;
        ++n;
        ++admitted;
        return Over::kNone;
    }
    void release(const std::string& address) {
        std::lock_guard lock(admitted_mu);
        --admitted;
        auto it = per_address.find(address);
        if (--it->second == 0) per_address.erase(it);
    }

    awaitable<void> accept_loop();
    awaitable<void> serve(tcp::socket socket);
    template <class Stream>
    awaitable<void> session(Stream& stream, const std::string& remote, const std::string& address, Over over);
    template <class Stream>
    awaitable<void> write_stream(Stream& stream, Response& response);
    template <class Stream>
    awaitable<void> write_plain(Stream& stream, const Response& response, unsigned version, bool keep_alive);
};

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

// Writes a push-driven stream: whatever the source has queued goes out as one chunk; with nothing
// queued the coroutine waits until the source wakes it (StreamWake) or the client sends anything
// (it has closed: a streaming client has nothing more to say), so an idle stream costs no thread
// and no timer. Ends with the last chunk and the source's trailers when the source ends, or cut
// when the client goes, a write times out or the server stops.
template <class Stream>
awaitable<void> HttpServer::Impl::write_stream(Stream& stream, Response& response) {
    auto source = response.stream;
    struct Closer {
        std::shared_ptr<ChunkStream>& source;
        ~Closer() { source->close(); }  // also when the coroutine is destroyed at shutdown
    } closer{source};
    auto& tcp_stream = beast::get_lowest_layer(stream);
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, "container-tracer");
    res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [k, v] : response.headers) res.set(k, v);
    std::string announced;
    for (const auto& [name, value] : source->trailers()) announced += (announced.empty() ? "" : ", ") + name;
    if (!announced.empty()) res.set(bhttp::field::trailer, announced);
    res.chunked(true);
    res.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    tcp_stream.expires_after(options.write_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream, sr, kTuple);
    if (ec) co_return;

    auto wake = std::make_shared<StreamWake>();
    wake->executor = tcp_stream.get_executor();
    wake->socket = &tcp_stream.socket();
    {
        std::lock_guard lock(streams_mu);
        streams.insert(wake);
    }
    struct Unregister {
        Impl& impl;
        std::shared_ptr<StreamWake>& wake;
        ~Unregister() {
            wake->socket = nullptr;  // a wake posted from now on finds nothing to cancel
            std::lock_guard lock(impl.streams_mu);
            impl.streams.erase(wake);
        }
    } unregister{*this, wake};
    source->start([wake] { asio::post(wake->executor, [wake] { wake->wake_now(); }); });

    std::vector<StreamPiece> pieces;
    std::vector<asio::const_buffer> buffers;
    while (!stopping) {
        pieces.clear();
        bool more = source->take(pieces);
        if (!pieces.empty()) {
            buffers.clear();
            for (const auto& p : pieces) buffers.emplace_back(p->data(), p->size());
            tcp_stream.expires_after(options.write_timeout);
            auto [wec, wn] = co_await asio::async_write(stream, bhttp::make_chunk(buffers), kTuple);
            if (wec) co_return;  // gone or too slow: cut
            continue;
        }
        if (!more) {
            bhttp::fields trailer;
            for (const auto& [name, value] : source->trailers()) trailer.set(name, value);
            tcp_stream.expires_after(options.write_timeout);
            co_await asio::async_write(stream, bhttp::make_chunk_last(trailer), kTuple);
            co_return;
        }
        tcp_stream.expires_never();
        wake->waiting = true;
        auto [rec] = co_await tcp_stream.socket().async_wait(tcp::socket::wait_read, kTuple);
        wake->waiting = false;
        if (rec != asio::error::operation_aborted) co_return;  // the client sent something or closed
    }
    // Stopping: end the chunked body properly so the client sees a complete answer.
    tcp_stream.expires_after(std::chrono::seconds(1));
    co_await asio::async_write(stream, bhttp::make_chunk_last(), kTuple);
}

awaitable<void> HttpServer::Impl::serve(tcp::socket socket) {
    struct Open {
        std::atomic<size_t>& n;
        ~Open() { --n; }
    } counted{open};
    boost::system::error_code ignored;
    auto endpoint = socket.remote_endpoint(ignored);
    std::string address = address_key(endpoint.address());
    std::string remote = fmt::format("{}:{}", endpoint.address().to_string(ignored), endpoint.port());
    const Over over = admit(address);
    struct Admitted {
        Impl* impl;
        const std::string& address;
        ~Admitted() {
            if (impl) impl->release(address);
        }
    } admitted{over == Over::kNone ? this : nullptr, address};
    if (!tls) {
        beast::tcp_stream stream(std::move(socket));
        co_await session(stream, remote, address, over);
        co_return;
    }
    auto context = tls->current();  // held for the whole connection
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *context);
    beast::get_lowest_layer(stream).expires_after(
        over == Over::kNone ? options.handshake_timeout : std::chrono::seconds(kOverLimitDeadline));
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (hec) {
        // Not an HTTP exchange: plain-HTTP clients, clients rejecting our certificate, scanners.
        spdlog::debug("{}: TLS handshake failed: {}", remote, hec.message());
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
    }
    co_await session(stream, remote, address, over);
}

template <class Stream>
awaitable<void> HttpServer::Impl::session(Stream& stream, const std::string& remote, const std::string& address,
                                          Over over) {
    boost::system::error_code ignored;
    beast::flat_buffer buffer;
    auto& tcp_stream = beast::get_lowest_layer(stream);
    bool first = true;

    while (!stopping) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(options.max_body);
        parser.header_limit(static_cast<std::uint32_t>(options.max_header));
        // Deadlines: the headers within header_timeout of the accept (a kept-alive connection:
        // of the request's first byte, after up to idle_timeout idle), the body within body_timeout.
        bool idle_wait = !first && buffer.size() == 0 && over == Over::kNone;
        if (idle_wait) {
            tcp_stream.expires_after(options.idle_timeout);
            auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
            if (iec) break;  // idle too long, or closed
            buffer.commit(in);
        }
        tcp_stream.expires_after(over == Over::kNone ? options.header_timeout
                                                     : std::chrono::seconds(kOverLimitDeadline));
        auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
        if (!ec && !parser.is_done()) {
            tcp_stream.expires_after(options.body_timeout);
            std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kTuple);
        }
        first = false;
        if (ec == beast::error::timeout) {
            // Beast has closed the socket. Only a request cut halfway is worth counting.
            if (parser.got_some() || idle_wait) {
                observe(std::string(kLimitRoutePrefix) + "timeout", "", 408);
                spdlog::debug("{}: request not complete within its deadline: closed", remote);
            }
            co_return;
        }
        if (client_gone(ec)) break;
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
                tcp_stream.expires_after(std::chrono::seconds(2));
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
        bool keep_alive = raw.keep_alive() && over == Over::kNone;
        unsigned version = raw.version();
        const bool inline_path = is_inline(request.path);
        if (over != Over::kNone && !inline_path) {
            // Past a connection limit: one clear answer, then the connection closes.
            bool per_address = over == Over::kAddress;
            Response r = per_address
                             ? error_response(429, fmt::format("too many connections from {} (limit {} per client address)",
                                                               address, options.max_connections_per_address))
                             : error_response(503, fmt::format("too many connections (limit {})", max_connections));
            co_await write_plain(stream, r, version, false);
            observe(std::string(kLimitRoutePrefix) + (per_address ? "address" : "connections"), request.method, r.status);
            break;
        }
        // Waiting for a free handler thread and handling are logged apart: a slow request on a
        // busy node shows which of the two it was.
        const auto read_at = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point handled_at;
        Dispatched dispatched;
        if (inline_path) {
            handled_at = read_at;
            dispatched = dispatch(request);
        } else {
            dispatched = co_await asio::co_spawn(
                pool,
                [this, &request, &handled_at]() -> awaitable<Dispatched> {
                    handled_at = std::chrono::steady_clock::now();
                    co_return dispatch(request);
                },
                use_awaitable);
        }
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
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> HttpServer::Impl::accept_loop() {
    asio::steady_timer backoff(io);
    auto last_warning = std::chrono::steady_clock::time_point{};
    while (!stopping) {
        // Each connection on its own strand: its coroutine, Beast's timeout handler for its
        // stream and stream wake-ups (run on the socket's executor) never run at the same time on
        // two io threads.
        auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(io), kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || stopping) break;
            // Out of descriptors (EMFILE/ENFILE) or memory: the pending connection stays in the
            // backlog; retrying at once would spin. Pause, and warn at most once a second.
            auto now = std::chrono::steady_clock::now();
            if (now - last_warning > std::chrono::seconds(1)) {
                spdlog::warn("accept failed: {} ({} connections open)", ec.message(), open.load());
                last_warning = now;
            }
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(kTuple);
            continue;
        }
        ++open;
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

size_t HttpServer::open_connections() const { return impl_->open; }

Result<unsigned short> HttpServer::start() {
    auto& o = impl_->options;
    if (o.tls_cert.empty() != o.tls_key.empty())
        return fail(Errc::kInvalidArgument, "TLS needs both a certificate and a key file");
    if (!o.tls_cert.empty() && !impl_->tls) {
        auto source = std::make_unique<TlsContextSource>(o.tls_cert, o.tls_key);
        if (auto loaded = source->load(); !loaded) return std::unexpected(loaded.error());
        impl_->tls = std::move(source);
    }
    // Each connection holds a descriptor: stay within the open-file limit, or accept() fails
    // before the limit answers anybody.
    impl_->max_connections = o.max_connections;
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
        o.max_connections + kReservedFds > files.rlim_cur) {
        impl_->max_connections = files.rlim_cur > 2 * kReservedFds ? files.rlim_cur - kReservedFds : files.rlim_cur / 2;
        spdlog::warn("max connections {} do not fit the open-file limit {}: serving at most {}", o.max_connections,
                     files.rlim_cur, impl_->max_connections);
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
    {
        // Waiting stream writers see `stopping` once woken, and end their streams properly.
        std::lock_guard lock(impl_->streams_mu);
        for (const auto& wake : impl_->streams) asio::post(wake->executor, [wake] { wake->wake_now(); });
    }
    impl_->work.reset();
    // Give open connections a moment to finish their current response, then stop the loop.
    for (int i = 0; i < 50 && impl_->open > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    impl_->io.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->pool.join();
}

size_t raise_open_file_limit() {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
    if (files.rlim_cur < files.rlim_max) {
        rlimit raised{files.rlim_max, files.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
    }
    return files.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(files.rlim_cur);
}

}  // namespace ct::http
