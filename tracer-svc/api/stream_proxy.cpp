#include "tracer-svc/api/stream_proxy.h"

#include <malloc.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_client.h"
#include "common/stream_fanout.h"
#include "common/strings.h"

namespace ct::svc {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxRefusalBody = 64u << 10;

// One session's node stream and the fan-out to its readers.
struct Relay {
    std::string key;   // node + target
    std::string node;  // node key, for messages
    std::shared_ptr<StreamFanout> fanout;
    std::shared_ptr<http::AsyncStream> upstream;
    // Guarded by State::mu:
    enum class Phase { kOpening, kStreaming, kRefused, kFailed, kEnded } phase = Phase::kOpening;
    int status = 0;       // the node's, once it answered
    std::string body;     // the node's refusal
    std::string failure;  // why the node could not be read
    // The relay's I/O thread only:
    std::string partial;  // a line cut between two reads
};

}  // namespace

struct StreamRelay::State {
    explicit State(StreamRelayOptions o) : options(o), work(asio::make_work_guard(io)) {}
    const StreamRelayOptions options;
    asio::io_context io;  // node streams; one thread (below)
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::thread thread;
    std::shared_ptr<StreamCounts> counts = std::make_shared<StreamCounts>();

    std::mutex mu;                      // guards relays and each Relay's phase, status, body, failure
    std::condition_variable answered;  // a relay left kOpening
    std::map<std::string, std::shared_ptr<Relay>> relays;

    void forget(const std::shared_ptr<Relay>& relay) {  // mu held
        auto it = relays.find(relay->key);
        if (it != relays.end() && it->second == relay) relays.erase(it);
    }
    std::size_t readers() const {  // mu held
        std::size_t n = 0;
        for (const auto& [key, relay] : relays) n += relay->fanout->readers();
        return n;
    }
};

namespace {

using State = StreamRelay::State;

// Whole lines of `piece` (with the part of a line left from the previous read) go to the readers;
// the rest waits for the next read, so a reader that loses pieces loses whole events.
void relay_data(Relay& relay, std::string_view piece) {
    auto last = piece.rfind('\n');
    if (last == std::string_view::npos) {
        relay.partial.append(piece);
        return;
    }
    std::string lines = std::move(relay.partial);
    lines.append(piece.substr(0, last + 1));
    relay.partial.assign(piece.substr(last + 1));
    auto events = static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
    relay.fanout->push(std::move(lines), events);
}

http::AsyncStream::Callbacks callbacks(const std::weak_ptr<State>& weak_state, const std::weak_ptr<Relay>& weak_relay) {
    http::AsyncStream::Callbacks c;
    c.on_head = [weak_state, weak_relay](const http::ClientResponse& head) {
        auto state = weak_state.lock();
        auto relay = weak_relay.lock();
        if (!state || !relay) return;
        std::lock_guard lock(state->mu);
        relay->status = head.status;
        if (head.status != 200) return;  // a refusal: answered with its body, at the end
        relay->phase = Relay::Phase::kStreaming;
        state->answered.notify_all();
    };
    c.on_data = [weak_state, weak_relay](std::string_view piece) {
        auto state = weak_state.lock();
        auto relay = weak_relay.lock();
        if (!state || !relay) return;
        if (relay->status == 200) return relay_data(*relay, piece);  // status is set on this thread
        std::lock_guard lock(state->mu);
        relay->body.append(piece.substr(0, kMaxRefusalBody - std::min(kMaxRefusalBody, relay->body.size())));
    };
    c.on_end = [weak_state, weak_relay](Result<http::ClientResponse> end) {
        auto state = weak_state.lock();
        auto relay = weak_relay.lock();
        if (!state || !relay) return;
        std::unique_lock lock(state->mu);
        state->forget(relay);  // the next reader opens a new node stream
        if (relay->phase == Relay::Phase::kStreaming || relay->phase == Relay::Phase::kEnded) {
            relay->phase = Relay::Phase::kEnded;
            lock.unlock();
            std::uint64_t node_dropped = 0;
            std::string error;
            if (end) {
                auto it = end->headers.find("x-tracer-dropped");
                if (it != end->headers.end()) node_dropped = parse_u64(it->second).value_or(0);
            } else {
                error = fmt::format("the stream from node {} broke off: {}", relay->node, end.error().message);
            }
            relay->fanout->end(node_dropped, std::move(error));
            return;
        }
        if (relay->status != 0) {
            relay->phase = Relay::Phase::kRefused;
        } else {
            relay->phase = Relay::Phase::kFailed;
            relay->failure = end ? "the node answered nothing" : end.error().message;
        }
        state->answered.notify_all();
    };
    return c;
}

// The last reader left: close the node stream (unless a reader joined meanwhile, or the node had
// ended it) and return the readers' memory.
void last_reader_left(const std::weak_ptr<State>& weak_state, const std::weak_ptr<Relay>& weak_relay) {
    auto state = weak_state.lock();
    if (!state) return;
    auto relay = weak_relay.lock();  // gone when the node had ended the stream
    bool streaming = false;
    if (relay) {
        std::lock_guard lock(state->mu);
        if (relay->fanout->readers() > 0) return;
        streaming = relay->phase == Relay::Phase::kStreaming;
        if (streaming) {
            state->forget(relay);
            relay->phase = Relay::Phase::kEnded;
        }
    }
    if (streaming) relay->upstream->cancel();
    // The readers' connections (buffers, coroutine frames) were freed across the I/O threads'
    // malloc arenas; glibc keeps such memory unless asked to return it.
    ::malloc_trim(0);
}

}  // namespace

StreamRelay::StreamRelay(StreamRelayOptions options) : state_(std::make_shared<State>(options)) {
    state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

StreamRelay::~StreamRelay() {
    std::vector<std::shared_ptr<http::AsyncStream>> open;
    {
        std::lock_guard lock(state_->mu);
        for (const auto& [key, relay] : state_->relays) open.push_back(relay->upstream);
        state_->relays.clear();
    }
    for (const auto& upstream : open) upstream->cancel();
    state_->work.reset();
    state_->io.stop();
    state_->thread.join();
}

http::Response StreamRelay::open(const NodeAddress& node, const std::string& target, const NodeAccess& access) {
    auto& state = *state_;
    const auto& o = state.options;
    std::unique_lock lock(state.mu);
    const std::string key = node.key + target;
    auto it = state.relays.find(key);
    std::shared_ptr<Relay> relay = it == state.relays.end() ? nullptr : it->second;
    if (relay && relay->fanout->readers() >= o.max_readers_per_session)
        return http::error_response(429, fmt::format("stream {} already has {} readers (limit {} per session)", target,
                                                     relay->fanout->readers(), o.max_readers_per_session));
    if (state.readers() >= o.max_readers)
        return http::error_response(429, fmt::format("too many concurrent trace streams (limit {})", o.max_readers));
    bool opening = !relay;
    if (opening) {
        relay = std::make_shared<Relay>();
        relay->key = key;
        relay->node = node.key;
        std::weak_ptr<State> weak_state = state_;
        std::weak_ptr<Relay> weak_relay = relay;
        relay->fanout = StreamFanout::create({.log_bytes = o.reader_queue_bytes,
                                              .count_into = {state.counts},
                                              .on_last_reader = [weak_state, weak_relay] {
                                                  last_reader_left(weak_state, weak_relay);
                                              }});
        state.relays[key] = relay;
    }
    // A reader from now on, before the node answers: the first events the node sends are kept for it.
    auto reader = relay->fanout->add_reader();
    if (opening) {
        http::ClientRequest request{.host = node.host, .port = node.port, .method = "GET", .target = target,
                                    .body = {}, .headers = {}, .timeout = o.header_timeout, .tls = access.tls,
                                    .tls_server_name = access.tls_server_name};
        for (const auto& [name, value] : access.headers) request.headers[name] = value;
        relay->upstream = http::AsyncStream::open(state.io, std::move(request),
                                                  callbacks(std::weak_ptr<State>(state_), std::weak_ptr<Relay>(relay)));
    }
    state.answered.wait_for(lock, o.header_timeout, [&] { return relay->phase != Relay::Phase::kOpening; });
    http::Response res;
    std::shared_ptr<http::AsyncStream> abandon;
    switch (relay->phase) {
        case Relay::Phase::kStreaming:
        case Relay::Phase::kEnded:
            res.content_type = "application/x-ndjson";
            res.stream = std::move(reader);
            return res;
        case Relay::Phase::kOpening:
            state.forget(relay);
            relay->phase = Relay::Phase::kFailed;
            relay->failure = fmt::format("no answer within {} ms", o.header_timeout.count());
            abandon = relay->upstream;
            [[fallthrough]];
        case Relay::Phase::kFailed:
            res = http::error_response(502, fmt::format("node {} did not stream {}: {}", node.key, target, relay->failure));
            break;
        case Relay::Phase::kRefused:
            res.status = relay->status;
            res.body = relay->body;
            break;
    }
    lock.unlock();  // closing the reader may call last_reader_left, which locks
    reader->close();
    if (abandon) {
        abandon->cancel();
        spdlog::warn("stream {} from node {}: no answer within {} ms", target, node.key, o.header_timeout.count());
    }
    return res;
}

StreamRelay::Stats StreamRelay::stats() const {
    std::lock_guard lock(state_->mu);
    return {state_->relays.size(), state_->readers(), state_->counts->sent.load(), state_->counts->dropped.load()};
}

}  // namespace ct::svc
