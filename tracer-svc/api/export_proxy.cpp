#include "tracer-svc/api/export_proxy.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_client.h"
#include "common/pull_stream.h"

namespace ct::svc {

namespace {

// Shared by the relay thread (producer) and the server's pool thread (consumer).
struct Relay {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<http::ClientResponse> head;  // set once the node's status line arrived
    std::deque<std::string> queue;
    size_t queued = 0;
    bool ended = false;   // the node's answer is over (or failed)
    bool closed = false;  // our client left: the relay must stop
    std::string failure;  // why the node could not be read, when it ended before a head
};

class ProxyStream : public http::PullSource {
public:
    ProxyStream(std::shared_ptr<Relay> relay, std::thread thread) : relay_(std::move(relay)), thread_(std::move(thread)) {}
    ~ProxyStream() override { close(); }

    std::optional<std::string> next(std::chrono::milliseconds wait) override {
        std::unique_lock lock(relay_->mu);
        relay_->cv.wait_for(lock, wait, [&] { return !relay_->queue.empty() || relay_->ended; });
        if (relay_->queue.empty()) return relay_->ended ? std::nullopt : std::optional<std::string>("");
        std::string out;
        while (!relay_->queue.empty()) {  // hand everything queued on as one chunk
            out += relay_->queue.front();
            relay_->queued -= relay_->queue.front().size();
            relay_->queue.pop_front();
        }
        relay_->cv.notify_all();  // room again for the relay
        return out;
    }

    void close() override {
        {
            std::lock_guard lock(relay_->mu);
            relay_->closed = true;
        }
        relay_->cv.notify_all();
        if (thread_.joinable()) thread_.join();  // the relay wakes within kStreamIdlePoll
    }

private:
    std::shared_ptr<Relay> relay_;
    std::thread thread_;
};

}  // namespace

NodeExport open_node_export(const NodeAddress& node, const std::string& target, const ExportProxyOptions& options) {
    auto relay = std::make_shared<Relay>();
    http::ClientRequest request{.host = node.host, .port = node.port, .method = "GET", .target = target, .body = {},
                                .headers = {}, .timeout = std::chrono::hours(24 * 365),  // ends with the session
                                .tls = options.tls, .tls_server_name = options.tls_server_name};
    for (const auto& [name, value] : options.headers) request.headers[name] = value;
    const size_t max_queued = options.max_queued;

    std::thread thread([relay, request, max_queued] {
        auto on_headers = [&](const http::ClientResponse& head) {
            std::lock_guard lock(relay->mu);
            relay->head = head;
            relay->cv.notify_all();
            return !relay->closed;
        };
        auto on_data = [&](std::string_view piece) {
            std::unique_lock lock(relay->mu);
            // Backpressure: wait for the client to take what is queued (or to leave).
            relay->cv.wait(lock, [&] { return relay->closed || relay->queued < max_queued; });
            if (relay->closed) return false;
            if (!piece.empty()) {
                relay->queue.emplace_back(piece);
                relay->queued += piece.size();
                relay->cv.notify_all();
            }
            return true;
        };
        auto result = http::stream(request, on_data, on_headers);
        std::lock_guard lock(relay->mu);
        if (!result) relay->failure = result.error().message;
        relay->ended = true;
        relay->cv.notify_all();
    });

    // Wait for the node's status: a 200 becomes our stream, anything else is answered as is.
    std::unique_lock lock(relay->mu);
    bool answered = relay->cv.wait_for(lock, options.header_timeout, [&] { return relay->head || relay->ended; });
    if (!answered || !relay->head) {
        auto why = answered ? relay->failure : fmt::format("no answer within {} ms", options.header_timeout.count());
        relay->closed = true;
        lock.unlock();
        relay->cv.notify_all();
        // It may sit in connect() to a dead node for minutes; it owns nothing but the relay.
        thread.detach();
        spdlog::warn("stream {} from node {}: {}", target, node.key, why);
        return {.refusal = http::error_response(502, fmt::format("node {} did not stream {}: {}", node.key, target, why))};
    }
    if (relay->head->status != 200) {
        // An error answer is short: wait for its whole body and pass it on.
        relay->cv.wait(lock, [&] { return relay->ended; });
        http::Response res;
        res.status = relay->head->status;
        for (const auto& piece : relay->queue) res.body += piece;
        lock.unlock();
        thread.join();
        return {.refusal = std::move(res)};
    }
    lock.unlock();
    return {.source = std::make_shared<ProxyStream>(relay, std::move(thread))};
}

http::Response open_export_proxy(const NodeAddress& node, const std::string& target, const ExportProxyOptions& options) {
    auto opened = open_node_export(node, target, options);
    if (!opened.source) return std::move(opened.refusal);
    http::Response res;
    res.content_type = "application/x-ndjson";
    res.stream = http::pull_stream(std::move(opened.source));
    return res;
}

}  // namespace ct::svc
