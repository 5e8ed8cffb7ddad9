#include "tracer-svc/fanout/fanout_client.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ct::svc {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr size_t kFirstRead = 8192;  // a node answer of some 30 pods comes whole in the first read

// A node's answer as it is parsed: the status, and where the body lies in the buffer the answer
// was read into (so it needs no copy) — unless it came in pieces (chunked), then a copy. Framing
// (Content-Length, chunked) and keep-alive are the Beast parser's own; fields are not kept.
class ReplyParser final : public bhttp::basic_parser<false> {
public:
    ReplyParser() { eager(true); }
    int status = 0;
    const char* base = nullptr;  // the buffer put() reads from; the caller sets it before each put()
    size_t body_begin = 0, body_end = 0;  // in the buffer, while in_place
    bool in_place = true;
    std::string copied;  // the body, once !in_place

private:
    void take(boost::beast::string_view piece) {
        size_t at = static_cast<size_t>(piece.data() - base);
        if (in_place && (!started_ || at == body_end)) {
            if (!std::exchange(started_, true)) body_begin = at;
            body_end = at + piece.size();
            return;
        }
        if (in_place) copied.assign(base + body_begin, body_end - body_begin), in_place = false;
        copied.append(piece.data(), piece.size());
    }
    void on_request_impl(bhttp::verb, boost::beast::string_view, boost::beast::string_view, int, error_code&) override {}
    void on_response_impl(int code, boost::beast::string_view, int, error_code&) override { status = code; }
    void on_field_impl(bhttp::field, boost::beast::string_view, boost::beast::string_view, error_code&) override {}
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    size_t on_body_impl(boost::beast::string_view piece, error_code&) override {
        take(piece);
        return piece.size();
    }
    void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
    size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view piece, error_code&) override {
        take(piece);
        return piece.size();
    }
    void on_finish_impl(error_code&) override {}

    bool started_ = false;
};

// Memory for the one operation an exchange has pending at a time: Asio allocates the operation's
// state through HandlerAllocator (bind_allocator), so a read needs no malloc.
struct HandlerMemory {
    alignas(std::max_align_t) unsigned char storage[256];
    bool used = false;
};

template <class T>
struct HandlerAllocator {
    using value_type = T;
    explicit HandlerAllocator(HandlerMemory& m) : memory(&m) {}
    template <class U>
    HandlerAllocator(const HandlerAllocator<U>& other) : memory(other.memory) {}
    T* allocate(size_t n) {
        if (!memory->used && sizeof(T) * n <= sizeof memory->storage) {
            memory->used = true;
            return reinterpret_cast<T*>(memory->storage);
        }
        return static_cast<T*>(::operator new(sizeof(T) * n));
    }
    void deallocate(T* p, size_t) {
        if (reinterpret_cast<unsigned char*>(p) == memory->storage) memory->used = false;
        else ::operator delete(p);
    }
    template <class U>
    bool operator==(const HandlerAllocator<U>& other) const { return memory == other.memory; }
    HandlerMemory* memory;
};

// One connection to a node: plain, or TLS over TCP (holding its context).
struct Conn {
    std::optional<tcp::socket> plain;
    std::optional<ssl::stream<tcp::socket>> tls;
    std::shared_ptr<ssl::context> tls_context;

    tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
};

// One node's kept-alive connections.
struct Pool {
    std::vector<std::unique_ptr<Conn>> idle;
};

// Room for `size` bytes in `in`, those past what it held left as they are: a read fills them.
void grow(std::string& in, size_t size) {
    in.resize_and_overwrite(size, [](char*, size_t n) { return n; });
}

bool closed_while_idle(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
}

}  // namespace

struct FanoutClient::Impl {
    struct CallState;

    // One node's exchange within a call. Touched on the I/O thread only.
    struct Exchange {
        CallState* call = nullptr;
        size_t index = 0;
        enum class Stage { kQueued, kRunning, kDone } stage = Stage::kQueued;
        std::shared_ptr<Pool> pool;  // the node's (kept even if the node leaves the directory meanwhile)
        std::unique_ptr<Conn> conn;
        bool pooled = false;   // conn came from the pool: the node may have closed it meanwhile
        bool retried = false;
        const char* step = "connect";
        std::unique_ptr<tcp::resolver> resolver;
        std::string request;  // for writes that do not go at once (TLS, a full socket buffer)
        std::optional<ReplyParser> parser;
        std::string in;       // the answer as received: [0, have); parsed up to `parsed`
        size_t have = 0, parsed = 0;
        HandlerMemory memory;
        NodeReply reply;

        const NodeAddress& node() const { return call->nodes[index]; }
    };

    // One send(): its nodes, its deadline and the caller waiting for it. Shared by the caller and
    // the deadline timer's handler (the last one out frees it); exchanges' handlers point into it
    // and all run before `remaining` reaches zero.
    struct CallState {
        CallState(asio::io_context& io, std::vector<NodeAddress> n, std::chrono::milliseconds t, const OnReply& r)
            : nodes(std::move(n)), timeout(t), on_reply(r), timer(io), exchanges(nodes.size()) {}
        std::vector<NodeAddress> nodes;
        std::chrono::milliseconds timeout;
        const OnReply& on_reply;  // the caller's, alive until send() returns
        std::string head, tail;   // the request around the Host header's value
        std::string refused;      // set: no request can be built; every node fails with this
        asio::steady_timer timer;
        bool expired = false;
        size_t remaining = 0;
        std::vector<Exchange> exchanges;
        std::mutex mu;  // guards finished, for the caller
        std::condition_variable cv;
        bool finished = false;
    };

    explicit Impl(FanoutOptions o) : options(std::move(o)), io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO) {}

    FanoutOptions options;
    // Only the I/O thread starts I/O (send() and retain() post to it): the reactor needs no locks.
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    std::atomic<uint64_t> connects{0}, reused{0};

    // I/O thread only.
    std::unordered_map<std::string, std::shared_ptr<Pool>> pools;  // by node key
    size_t in_flight = 0;
    std::deque<Exchange*> waiting;

    void start_call(const std::shared_ptr<CallState>& call);
    void expire(CallState& call);
    bool begin(Exchange& ex);  // true: written on a pooled connection, read() follows
    void connect(Exchange& ex);
    void connected(Exchange& ex);
    bool write_now(Exchange& ex);
    void write(Exchange& ex);
    void read(Exchange& ex);
    void on_read(Exchange& ex, const error_code& ec, size_t n);
    void complete(Exchange& ex, bool reusable);
    void retry(Exchange& ex);
    void fail(Exchange& ex, const error_code& ec);
    void fail(Exchange& ex, std::string why);
    void finish(Exchange& ex);
    void release_slot();
};

namespace {

// The request line, then the fields after "Host: <node>", so each node's request is one string.
void build_request(const FanoutOptions& o, const Call& c, std::string& head, std::string& tail, std::string& refused) {
    head = fmt::format("{} {} HTTP/1.1\r\nHost: ", c.method, c.target);
    tail = "\r\nUser-Agent: tracer-svc\r\n";
    if (!c.body.empty() || (c.method != "GET" && c.method != "HEAD"))
        tail += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", c.body.size());
    auto field = [&](std::string_view name, std::string_view value) {
        if (value.find_first_of("\r\n") != std::string_view::npos)
            refused = fmt::format("the {} header for the nodes contains a line break", name);
        tail.append(name).append(": ").append(value).append("\r\n");
    };
    for (const auto& [name, value] : o.headers) field(name, value);
    if (o.node_token) field("Authorization", "Bearer " + *o.node_token->current());
    tail += "\r\n";
    tail += c.body;
}

}  // namespace

void FanoutClient::Impl::start_call(const std::shared_ptr<CallState>& call) {
    call->remaining = call->nodes.size();
    call->timer.expires_after(call->timeout);
    call->timer.async_wait([this, call](const error_code& ec) {
        if (!ec && call->remaining > 0) expire(*call);
    });
    // Requests on pooled connections go out first, all of them; their replies are read after.
    std::vector<Exchange*> written;
    for (size_t i = 0; i < call->exchanges.size(); ++i) {
        auto& ex = call->exchanges[i];
        ex.call = call.get();
        ex.index = i;
        ex.reply.node = call->nodes[i].key;
        if (!call->refused.empty()) {
            ex.stage = Exchange::Stage::kRunning;
            ++in_flight;
            fail(ex, call->refused);
        } else if (in_flight >= options.max_in_flight) {
            waiting.push_back(&ex);
        } else if (begin(ex)) {
            written.push_back(&ex);
        }
    }
    for (auto* ex : written) read(*ex);
}

bool FanoutClient::Impl::begin(Exchange& ex) {
    ++in_flight;
    ex.stage = Exchange::Stage::kRunning;
    auto& pool = pools[ex.node().key];
    if (!pool) pool = std::make_shared<Pool>();
    ex.pool = pool;
    if (!pool->idle.empty()) {
        ex.conn = std::move(pool->idle.back());
        pool->idle.pop_back();
        ex.pooled = true;
        reused++;
        return write_now(ex);
    }
    connect(ex);
    return false;
}

void FanoutClient::Impl::expire(CallState& call) {
    call.expired = true;
    std::erase_if(waiting, [&](Exchange* ex) { return ex->call == &call; });
    for (auto& ex : call.exchanges) {
        if (ex.stage == Exchange::Stage::kQueued) {
            ex.stage = Exchange::Stage::kRunning;
            ++in_flight;  // finish() gives it back
            fail(ex, fmt::format("timed out after {} ms waiting for one of --max-in-flight {} connections",
                                 call.timeout.count(), options.max_in_flight));
        } else if (ex.stage == Exchange::Stage::kRunning) {
            // The pending operation ends with operation_aborted; its handler reports the timeout.
            error_code ignored;
            if (ex.resolver) ex.resolver->cancel();
            if (ex.conn) ex.conn->socket().close(ignored);
        }
    }
}

void FanoutClient::Impl::connect(Exchange& ex) {
    const auto& node = ex.node();
    ex.conn = std::make_unique<Conn>();
    if (options.tls) {
        ex.conn->tls_context = options.tls->current();
        ex.conn->tls.emplace(io, *ex.conn->tls_context);
        const auto& name = options.tls_server_name.empty() ? node.host : options.tls_server_name;
        if (auto named = http::expect_peer_name(ex.conn->tls->native_handle(), name); !named)
            return fail(ex, named.error().message);
    } else {
        ex.conn->plain.emplace(io);
    }
    error_code ec;
    auto address = asio::ip::make_address(node.host, ec);
    if (!ec) {
        ex.step = "connect";
        return ex.conn->socket().async_connect(tcp::endpoint(address, node.port), [this, &ex](const error_code& cec) {
            if (cec) return fail(ex, cec);
            connected(ex);
        });
    }
    ex.step = "resolve";
    ex.resolver = std::make_unique<tcp::resolver>(io);
    ex.resolver->async_resolve(node.host, std::to_string(node.port),
                               [this, &ex](const error_code& rec, const tcp::resolver::results_type& results) {
                                   if (rec) return fail(ex, rec);
                                   ex.step = "connect";
                                   asio::async_connect(ex.conn->socket(), results,
                                                       [this, &ex](const error_code& cec, const tcp::endpoint&) {
                                                           if (cec) return fail(ex, cec);
                                                           connected(ex);
                                                       });
                               });
}

void FanoutClient::Impl::connected(Exchange& ex) {
    error_code ignored;
    ex.conn->socket().set_option(tcp::no_delay(true), ignored);
    ex.conn->socket().non_blocking(true, ignored);
    if (!ex.conn->tls) {
        connects++;
        if (write_now(ex)) read(ex);
        return;
    }
    ex.step = "TLS handshake";
    ex.conn->tls->async_handshake(ssl::stream_base::client, [this, &ex](const error_code& ec) {
        if (ec) {
            if (ex.call->expired || ec == asio::error::operation_aborted) return fail(ex, ec);
            return fail(ex, "TLS handshake failed: " + http::describe_handshake_error(ec, ex.conn->tls->native_handle()));
        }
        connects++;
        write_now(ex);  // TLS: builds the request and writes it asynchronously
    });
}

// Plain connections: one non-blocking send of the request (from the call's pieces, no copy), which
// takes it whole on an idle connection; true when it did (the caller reads next). Otherwise what
// is left goes through write().
bool FanoutClient::Impl::write_now(Exchange& ex) {
    ex.step = "write";
    const auto& c = *ex.call;
    const auto& key = ex.node().key;
    if (!ex.conn->tls) {
        std::array<asio::const_buffer, 3> pieces{asio::buffer(c.head), asio::buffer(key), asio::buffer(c.tail)};
        error_code ec;
        size_t n = ex.conn->plain->write_some(pieces, ec);
        if (!ec && n == asio::buffer_size(pieces)) return true;
        if (ec && ec != asio::error::would_block) {
            if (ex.pooled && !ex.retried) retry(ex);
            else fail(ex, ec);
            return false;
        }
        ex.request.append(c.head).append(key).append(c.tail).erase(0, n);
    } else {
        ex.request.append(c.head).append(key).append(c.tail);
    }
    write(ex);
    return false;
}

void FanoutClient::Impl::write(Exchange& ex) {
    ex.step = "write";
    auto done = [this, &ex](const error_code& ec, size_t) {
        if (!ec) return read(ex);
        if (ex.pooled && !ex.retried && !ex.call->expired && closed_while_idle(ec)) return retry(ex);
        fail(ex, ec);
    };
    if (ex.conn->tls) asio::async_write(*ex.conn->tls, asio::buffer(ex.request), done);
    else asio::async_write(*ex.conn->plain, asio::buffer(ex.request), done);
}

// The whole answer is read into one buffer, which then becomes the reply's body in place.
void FanoutClient::Impl::read(Exchange& ex) {
    ex.step = "read";
    if (!ex.parser) {
        ex.parser.emplace();
        ex.parser->body_limit(options.max_response);
        grow(ex.in, kFirstRead);
    }
    if (ex.have == ex.in.size()) {
        // A large answer: room for all of it when its length is known, else twice as much.
        size_t want = 2 * ex.in.size();
        if (ex.parser->is_header_done())
            if (auto length = ex.parser->content_length()) want = std::max<size_t>(want, ex.parsed + *length);
        grow(ex.in, want);
    }
    auto space = asio::buffer(ex.in.data() + ex.have, ex.in.size() - ex.have);
    auto done = asio::bind_allocator(HandlerAllocator<char>(ex.memory),
                                     [this, &ex](const error_code& ec, size_t n) { on_read(ex, ec, n); });
    if (ex.conn->tls) ex.conn->tls->async_read_some(space, done);
    else ex.conn->plain->async_read_some(space, done);
}

void FanoutClient::Impl::on_read(Exchange& ex, const error_code& ec, size_t n) {
    auto& parser = *ex.parser;
    parser.base = ex.in.data();
    if (ec) {
        if (ec == asio::error::eof && parser.got_some() && !ex.call->expired) {
            // An answer that ends with the connection (no Content-Length).
            error_code eec;
            parser.put_eof(eec);
            if (!eec && parser.is_done()) return complete(ex, false);
        }
        if (ex.pooled && !ex.retried && !parser.got_some() && !ex.call->expired && closed_while_idle(ec))
            return retry(ex);
        return fail(ex, ec);
    }
    ex.have += n;
    while (ex.parsed < ex.have && !parser.is_done()) {
        error_code pec;
        size_t k = parser.put(asio::buffer(ex.in.data() + ex.parsed, ex.have - ex.parsed), pec);
        if (pec == bhttp::error::need_more) pec = {};
        if (pec) {
            ex.step = "read (the node's answer is not HTTP)";
            return fail(ex, pec);
        }
        if (k == 0) break;
        ex.parsed += k;
    }
    if (!parser.is_done()) return read(ex);
    complete(ex, parser.keep_alive() && ex.parsed == ex.have);
}

// A whole answer: its body moves out of the read buffer; the connection goes back to the pool.
void FanoutClient::Impl::complete(Exchange& ex, bool reusable) {
    auto& parser = *ex.parser;
    ex.reply.status = parser.status;
    if (parser.in_place) {
        ex.in.resize(parser.body_end);
        ex.in.erase(0, parser.body_begin);
        ex.reply.body = std::move(ex.in);
    } else {
        ex.reply.body = std::move(parser.copied);
    }
    if (reusable && !ex.call->expired && ex.pool->idle.size() < options.max_idle_per_node)
        ex.pool->idle.push_back(std::move(ex.conn));
    finish(ex);
}

// The pooled connection had been closed by the node: once more on a fresh one. The node's other
// pooled connections are as old, so they go too.
void FanoutClient::Impl::retry(Exchange& ex) {
    ex.pool->idle.clear();
    ex.retried = true;
    ex.pooled = false;
    ex.parser.reset();
    ex.in.clear();
    ex.have = ex.parsed = 0;
    ex.request.clear();
    connect(ex);
}

void FanoutClient::Impl::fail(Exchange& ex, const error_code& ec) {
    if (ex.call->expired) return fail(ex, fmt::format("{} timed out after {} ms", ex.step, ex.call->timeout.count()));
    fail(ex, fmt::format("{} failed: {}", ex.step, ec.message()));
}

void FanoutClient::Impl::fail(Exchange& ex, std::string why) {
    ex.reply.failure = std::move(why);
    ex.reply.status = 0;
    ex.reply.body.clear();
    finish(ex);
}

void FanoutClient::Impl::finish(Exchange& ex) {
    ex.stage = Exchange::Stage::kDone;
    ex.conn.reset();  // unless it went back to the pool
    ex.resolver.reset();
    ex.pool.reset();
    ex.parser.reset();
    std::string().swap(ex.in);
    std::string().swap(ex.request);
    CallState& call = *ex.call;
    try {
        call.on_reply(ex.index, std::move(ex.reply));
    } catch (const std::exception& e) {
        spdlog::error("fan-out: handling the reply of node {} failed: {}", call.nodes[ex.index].key, e.what());
    }
    release_slot();
    if (--call.remaining > 0) return;
    call.timer.cancel();
    std::lock_guard lock(call.mu);
    call.finished = true;
    call.cv.notify_one();
}

void FanoutClient::Impl::release_slot() {
    --in_flight;
    while (in_flight < options.max_in_flight && !waiting.empty()) {
        Exchange* next = waiting.front();
        waiting.pop_front();
        if (begin(*next)) read(*next);
    }
}

FanoutClient::FanoutClient(FanoutOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    if (impl_->options.max_in_flight == 0) impl_->options.max_in_flight = 1;
    impl_->work.emplace(impl_->io.get_executor());
    impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FanoutClient::~FanoutClient() {
    impl_->work.reset();
    impl_->io.stop();
    impl_->thread.join();
}

const FanoutOptions& FanoutClient::options() const { return impl_->options; }

std::vector<std::pair<std::string, std::string>> FanoutClient::node_headers() const {
    auto headers = impl_->options.headers;
    if (impl_->options.node_token) headers.emplace_back("Authorization", "Bearer " + *impl_->options.node_token->current());
    return headers;
}

void FanoutClient::send(const std::vector<NodeAddress>& nodes, const Call& call, const OnReply& on_reply) {
    if (nodes.empty()) return;
    const auto timeout = call.timeout.count() > 0 ? call.timeout : impl_->options.timeout;
    auto state = std::make_shared<Impl::CallState>(impl_->io, nodes, timeout, on_reply);
    build_request(impl_->options, call, state->head, state->tail, state->refused);
    asio::post(impl_->io, [impl = impl_.get(), state] { impl->start_call(state); });
    std::unique_lock lock(state->mu);
    state->cv.wait(lock, [&] { return state->finished; });
}

std::vector<NodeReply> FanoutClient::send(const std::vector<NodeAddress>& nodes, const Call& call) {
    std::vector<NodeReply> replies(nodes.size());
    send(nodes, call, [&replies](size_t i, NodeReply reply) { replies[i] = std::move(reply); });
    return replies;
}

void FanoutClient::retain(const std::vector<NodeAddress>& nodes) {
    std::unordered_set<std::string> keep;
    for (const auto& n : nodes) keep.insert(n.key);
    asio::post(impl_->io, [impl = impl_.get(), keep = std::move(keep)] {
        std::erase_if(impl->pools, [&](const auto& pool) { return !keep.contains(pool.first); });
    });
}

FanoutClient::Stats FanoutClient::stats() const { return {impl_->connects.load(), impl_->reused.load()}; }

}  // namespace ct::svc
