// StandInNodes: many tracer-node stand-ins in this process for tracer-svc tests and
// bench/svc_fanout. Each node has its own loopback port; one thread and one io_context serve them
// all, answering every request with the node's canned /v1/pods body on a keep-alive connection
// (GET requests: a request ends at the blank line after its headers). Lighter than a full
// HttpServer per node (two threads each): on a 2-core machine, hundreds of those would measure
// the stand-ins' context switches instead of tracer-svc. A node may also hang (accept, read, never
// answer), answer late, or close the connection after each answer; set_behaviour() changes it
// while running. Real HTTP over real loopback TCP; stopped and closed in the destructor.
#pragma once

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

namespace ct::svctest {

class StandInNodes {
public:
    enum class Behaviour { kAnswer, kHang, kLate, kAnswerThenClose };
    struct Node {
        std::string body;  // the /v1/pods answer
        Behaviour behaviour = Behaviour::kAnswer;
        std::chrono::milliseconds delay{0};  // kLate: before each answer
    };

    // A /v1/pods answer of node `index` with `pods` one-container pods named
    // pod-<index>-<k> in namespace "bench", as a tracer-node named node-<index> gives it.
    static std::string pods_body(size_t index, size_t pods = 1) {
        std::string body = "{";
        for (size_t k = 0; k < pods; ++k)
            body += fmt::format(
                R"({}"pod-{}-{}":{{"Containers":{{"c":{{"Id":"c","Parent":[1],"Pod":"pod-{}-{}","Tasks":[{}],"Namespace":"bench","Node":"node-{}"}}}}}})",
                k ? "," : "", index, k, index, k, 1000 + k, index);
        return body + "}";
    }

    explicit StandInNodes(std::vector<Node> nodes)
        : nodes_(std::move(nodes)), behaviours_(new std::atomic<Behaviour>[nodes_.size()]) {
        raise_open_files();
        for (size_t i = 0; i < nodes_.size(); ++i) behaviours_[i] = nodes_[i].behaviour;
        for (const auto& n : nodes_) {
            replies_.push_back(fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                                           n.body.size(), n.body));
            acceptors_.emplace_back(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
            ports_.push_back(acceptors_.back().local_endpoint().port());
        }
        for (size_t i = 0; i < nodes_.size(); ++i) boost::asio::co_spawn(io_, accept(i), boost::asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    // n nodes answering pods_body(i, pods).
    StandInNodes(size_t n, size_t pods) : StandInNodes(answering(n, pods)) {}
    ~StandInNodes() {
        io_.stop();
        thread_.join();
    }
    StandInNodes(const StandInNodes&) = delete;
    StandInNodes& operator=(const StandInNodes&) = delete;

    const std::vector<unsigned short>& ports() const { return ports_; }
    std::string key(size_t i) const { return fmt::format("127.0.0.1:{}", ports_[i]); }
    // "127.0.0.1:<port>,..." of the first n nodes (tracer-svc's --nodes).
    std::string list(size_t n) const {
        std::string out;
        for (size_t i = 0; i < n && i < ports_.size(); ++i) out += (i ? "," : "") + key(i);
        return out;
    }
    size_t reply_bytes(size_t i) const { return replies_[i].size(); }
    // From the next request on (any thread).
    void set_behaviour(size_t i, Behaviour b) { behaviours_[i] = b; }
    // Requests received by all nodes so far.
    size_t requests() const { return requests_.load(); }

    // Every descriptor counts: hundreds of nodes hold two each (listener, connection), a bare
    // client in the same process one more.
    static void raise_open_files() {
        rlimit r{};
        if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
            r.rlim_cur = r.rlim_max;
            ::setrlimit(RLIMIT_NOFILE, &r);
        }
    }

private:
    static std::vector<Node> answering(size_t n, size_t pods) {
        std::vector<Node> nodes;
        for (size_t i = 0; i < n; ++i) nodes.push_back({pods_body(i, pods)});
        return nodes;
    }

    boost::asio::awaitable<void> accept(size_t i) {
        for (;;) {
            auto [ec, socket] = co_await acceptors_[i].async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return;
            socket.set_option(boost::asio::ip::tcp::no_delay(true));
            boost::asio::co_spawn(io_, serve(std::move(socket), i), boost::asio::detached);
        }
    }
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, size_t i) {
        constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);
        std::string buffer;
        for (;;) {
            auto [ec, n] = co_await boost::asio::async_read_until(socket, boost::asio::dynamic_buffer(buffer), "\r\n\r\n", kTuple);
            if (ec) co_return;
            buffer.erase(0, n);
            ++requests_;
            const Behaviour behaviour = behaviours_[i];
            if (behaviour == Behaviour::kHang) continue;  // read on, never answer
            if (behaviour == Behaviour::kLate) {
                boost::asio::steady_timer timer(io_, nodes_[i].delay);
                co_await timer.async_wait(kTuple);
            }
            auto [wec, w] = co_await boost::asio::async_write(socket, boost::asio::buffer(replies_[i]), kTuple);
            if (wec || behaviour == Behaviour::kAnswerThenClose) co_return;
        }
    }

    std::vector<Node> nodes_;
    std::unique_ptr<std::atomic<Behaviour>[]> behaviours_;
    boost::asio::io_context io_{1};
    std::vector<std::string> replies_;
    std::deque<boost::asio::ip::tcp::acceptor> acceptors_;  // stable addresses for the coroutines
    std::vector<unsigned short> ports_;
    std::atomic<size_t> requests_{0};
    std::thread thread_;
};

}  // namespace ct::svctest
