#include "tracer-svc/fanout/fanout_client.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

namespace ct::svc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

// One connection to a node: plain, or TLS over TCP (then `tls_context` keeps its context alive).
struct Conn {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    std::shared_ptr<asio::ssl::context> tls_context;

    explicit operator bool() const { return plain || tls; }
    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

}  // namespace

struct FanoutClient::Impl : std::enable_shared_from_this<FanoutClient::Impl> {
    explicit Impl(FanoutOptions o) : options(o), work(asio::make_work_guard(io)) {}

    FanoutOptions options;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::thread thread;  // runs io

    std::mutex mu;  // guards idle, in_flight, waiting
    std::map<std::string, std::vector<Conn>> idle;
    size_t in_flight = 0;
    std::deque<std::function<void()>> waiting;
    std::atomic<uint64_t> connects{0}, reused{0};

    Conn take_idle(const std::string& key) {
        std::lock_guard lock(mu);
        auto it = idle.find(key);
        if (it == idle.end() || it->second.empty()) return {};
        auto s = std::move(it->second.back());
        it->second.pop_back();
        return s;
    }
    void drop_idle(const std::string& key) {
        std::lock_guard lock(mu);
        idle.erase(key);
    }
    void put_idle(const std::string& key, Conn s) {
        std::lock_guard lock(mu);
        auto& v = idle[key];
        if (v.size() < options.max_idle_per_node) v.push_back(std::move(s));
    }
    // Runs `start` now when a slot is free, else when one frees up.
    void start_or_queue(std::function<void()> start) {
        {
            std::lock_guard lock(mu);
            if (in_flight >= options.max_in_flight) {
                waiting.push_back(std::move(start));
                return;
            }
            ++in_flight;
        }
        start();
    }
    void finished() {
        std::function<void()> next;
        {
            std::lock_guard lock(mu);
            if (waiting.empty()) {
                --in_flight;
                return;
            }
            next = std::move(waiting.front());
            waiting.pop_front();
        }
        next();  // keeps the slot
    }
};

namespace {

std::string describe_error(const boost::system::error_code& ec, const char* step, std::chrono::milliseconds timeout,
                           Clock::time_point deadline) {
    if (ec == beast::error::timeout || (ec == asio::error::operation_aborted && Clock::now() >= deadline)) return fmt::format("{} timed out after {} ms", step, timeout.count());
    return fmt::format("{} failed: {}", step, ec.message());
}

// One exchange with one node. Parameters by value: the coroutine outlives the caller's frame.
asio::awaitable<NodeReply> exchange(std::shared_ptr<FanoutClient::Impl> impl, NodeAddress node, Call call) {
    NodeReply reply;
    reply.node = node.key;
    const auto timeout = call.timeout.count() > 0 ? call.timeout : impl->options.timeout;
    const auto deadline = Clock::now() + timeout;
    auto ex = co_await asio::this_coro::executor;

    for (int attempt = 0; attempt < 2; ++attempt) {
        // A retry follows a pooled connection the node had closed: its other pooled ones are stale too.
        if (attempt > 0) impl->drop_idle(node.key);
        Conn conn = attempt == 0 ? impl->take_idle(node.key) : Conn{};
        bool was_pooled = static_cast<bool>(conn);
        if (!conn) {
            if (impl->options.tls) {
                conn.tls_context = impl->options.tls->current();
                conn.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *conn.tls_context);
                const auto& name = impl->options.tls_server_name.empty() ? node.host : impl->options.tls_server_name;
                if (auto named = http::expect_peer_name(conn.tls->native_handle(), name); !named) {
                    reply.failure = named.error().message;
                    co_return reply;
                }
            } else {
                conn.plain = std::make_unique<beast::tcp_stream>(ex);
            }
            auto& stream = conn.tcp();
            boost::system::error_code ec;
            auto address = asio::ip::make_address(node.host, ec);
            tcp::resolver::results_type endpoints;
            if (ec) {
                tcp::resolver resolver(ex);
                auto [rec, results] = co_await resolver.async_resolve(node.host, std::to_string(node.port), kTuple);
                if (rec) {
                    reply.failure = describe_error(rec, "resolve", timeout, deadline);
                    co_return reply;
                }
                endpoints = results;
            } else {
                endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, node.port), node.host,
                                                                std::to_string(node.port));
            }
            stream.expires_at(deadline);
            auto [cec, _] = co_await stream.async_connect(endpoints, kTuple);
            if (cec) {
                reply.failure = describe_error(cec, "connect", timeout, deadline);
                co_return reply;
            }
            if (conn.tls) {
                auto [hec] = co_await conn.tls->async_handshake(asio::ssl::stream_base::client, kTuple);
                if (hec) {
                    reply.failure = hec == beast::error::timeout
                                        ? describe_error(hec, "TLS handshake", timeout, deadline)
                                        : "TLS handshake failed: " +
                                              http::describe_handshake_error(hec, conn.tls->native_handle());
                    co_return reply;
                }
            }
            impl->connects++;
        } else {
            impl->reused++;
        }

        bhttp::request<bhttp::string_body> req;
        bhttp::verb verb = bhttp::string_to_verb(call.method);
        if (verb == bhttp::verb::unknown) req.method_string(call.method);
        else req.method(verb);
        req.target(call.target);
        req.version(11);
        req.set(bhttp::field::host, node.key);
        req.set(bhttp::field::content_type, "application/json");
        req.set(bhttp::field::user_agent, "tracer-svc");
        for (const auto& [name, value] : impl->options.headers) req.set(name, value);
        req.keep_alive(true);
        req.body() = call.body;
        req.prepare_payload();

        if (impl->options.node_token)
            req.set(bhttp::field::authorization, "Bearer " + *impl->options.node_token->current());

        conn.tcp().expires_at(deadline);
        // if/else rather than ?: around co_await: g++ 12 mishandles co_await in conditional operators.
        std::tuple<boost::system::error_code, size_t> written;
        if (conn.tls) written = co_await bhttp::async_write(*conn.tls, req, kTuple);
        else written = co_await bhttp::async_write(*conn.plain, req, kTuple);
        auto [wec, _w] = written;
        if (wec) {
            if (was_pooled && wec != beast::error::timeout) continue;  // the node closed it while idle
            reply.failure = describe_error(wec, "write", timeout, deadline);
            co_return reply;
        }
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(impl->options.max_response);
        std::tuple<boost::system::error_code, size_t> got;
        if (conn.tls) got = co_await bhttp::async_read(*conn.tls, buffer, parser, kTuple);
        else got = co_await bhttp::async_read(*conn.plain, buffer, parser, kTuple);
        auto [rec, _r] = got;
        if (rec) {
            bool closed_idle = rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                               rec == asio::error::connection_reset || rec == asio::ssl::error::stream_truncated;
            if (was_pooled && closed_idle) continue;
            reply.failure = describe_error(rec, "read", timeout, deadline);
            co_return reply;
        }
        auto res = parser.release();
        reply.status = static_cast<int>(res.result_int());
        reply.body = std::move(res.body());
        if (res.keep_alive() && buffer.size() == 0) {
            conn.tcp().expires_never();
            impl->put_idle(node.key, std::move(conn));
        }
        co_return reply;
    }
    reply.failure = "connection closed by the node twice";
    co_return reply;
}

struct CallState {
    std::mutex mu;
    std::condition_variable cv;
    size_t remaining = 0;
    std::vector<NodeReply> replies;
};

}  // namespace

FanoutClient::FanoutClient(FanoutOptions options) : impl_(std::make_shared<Impl>(options)) {
    if (impl_->options.max_in_flight == 0) impl_->options.max_in_flight = 1;
    // One I/O thread: a pooled connection moves between exchanges, and Beast runs a stream's
    // timeout handler on the executor the stream was made with, so with more threads a timeout
    // could close a socket another exchange is using (TSan saw it). One thread multiplexes
    // every node's exchange; the merge runs on the caller's thread.
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

std::vector<NodeReply> FanoutClient::send(const std::vector<NodeAddress>& nodes, const Call& call) {
    auto state = std::make_shared<CallState>();
    state->remaining = nodes.size();
    state->replies.resize(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
        impl_->start_or_queue([impl = impl_, state, node = nodes[i], call, i] {
            asio::co_spawn(impl->io, exchange(impl, node, call),
                           [impl, state, i, key = node.key](std::exception_ptr error, NodeReply reply) {
                               if (error) {
                                   reply = NodeReply{};
                                   reply.node = key;
                                   try {
                                       std::rethrow_exception(error);
                                   } catch (const std::exception& e) {
                                       reply.failure = fmt::format("internal error: {}", e.what());
                                   }
                               }
                               impl->finished();
                               std::lock_guard lock(state->mu);
                               state->replies[i] = std::move(reply);
                               if (--state->remaining == 0) state->cv.notify_all();
                           });
        });
    }
    std::unique_lock lock(state->mu);
    state->cv.wait(lock, [&] { return state->remaining == 0; });
    return std::move(state->replies);
}

void FanoutClient::retain(const std::vector<NodeAddress>& nodes) {
    std::lock_guard lock(impl_->mu);
    for (auto it = impl_->idle.begin(); it != impl_->idle.end();) {
        bool keep = std::any_of(nodes.begin(), nodes.end(), [&](const NodeAddress& n) { return n.key == it->first; });
        it = keep ? std::next(it) : impl_->idle.erase(it);
    }
}

FanoutClient::Stats FanoutClient::stats() const { return {impl_->connects.load(), impl_->reused.load()}; }

}  // namespace ct::svc
