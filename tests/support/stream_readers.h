// StreamReaders: N clients following one live stream (GET .../<id>/trace) at once, all on one
// thread of this process (http::AsyncStream on its own io_context), for tests and benchmarks of
// streams at scale. Per reader: the status, the lines received (one event each) and, once the
// stream ended, its X-Tracer-Dropped trailer. Destroying it closes every stream still open.
// Thread-safety: construct, wait and read from one thread; the callbacks run on the I/O thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/http_client.h"

namespace ct::test {

class StreamReaders {
public:
    struct Reader {
        int status = 0;
        std::uint64_t lines = 0;
        std::uint64_t bytes = 0;
        std::optional<std::uint64_t> dropped;  // the X-Tracer-Dropped trailer, once the stream ended
        std::string error;                     // why it ended otherwise
    };

    StreamReaders(unsigned short port, const std::string& target, size_t n,
                  std::chrono::milliseconds head_timeout = std::chrono::seconds(60))
        : readers_(n), work_(io_.get_executor()) {
        for (size_t i = 0; i < n; ++i) {
            Reader& r = readers_[i];
            http::AsyncStream::Callbacks c;
            c.on_head = [this, &r](const http::ClientResponse& head) {
                r.status = head.status;
                count(heads_);
            };
            c.on_data = [&r](std::string_view piece) {
                r.lines += static_cast<std::uint64_t>(std::count(piece.begin(), piece.end(), '\n'));
                r.bytes += piece.size();
            };
            c.on_end = [this, &r](Result<http::ClientResponse> end) {
                if (!end) r.error = end.error().message;
                else if (auto it = end->headers.find("x-tracer-dropped"); it != end->headers.end())
                    r.dropped = std::stoull(it->second);
                count(ends_);
            };
            streams_.push_back(
                http::AsyncStream::open(io_, {.port = port, .target = target, .timeout = head_timeout}, std::move(c)));
        }
        thread_ = std::thread([this] { io_.run(); });
    }
    ~StreamReaders() {
        close();
        work_.reset();
        io_.stop();
        thread_.join();
    }
    StreamReaders(const StreamReaders&) = delete;
    StreamReaders& operator=(const StreamReaders&) = delete;

    // Every reader has its answer's head (its stream is subscribed) or has ended; false on timeout.
    bool wait_heads(std::chrono::milliseconds limit) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, limit, [&] { return heads_ + ends_ >= readers_.size(); });
    }
    // Every stream has ended; false on timeout.
    bool wait_ends(std::chrono::milliseconds limit) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, limit, [&] { return ends_ >= readers_.size(); });
    }
    // Closes every stream (each then ends with an error, unless it had ended).
    void close() {
        for (auto& s : streams_) s->cancel();
    }
    // Read after wait_ends() returned true: the I/O thread is done with every reader.
    const std::vector<Reader>& readers() const { return readers_; }

private:
    void count(size_t& n) {
        std::lock_guard lock(mu_);
        ++n;
        cv_.notify_all();
    }

    std::vector<Reader> readers_;
    std::mutex mu_;
    std::condition_variable cv_;
    size_t heads_ = 0, ends_ = 0;  // guarded by mu_
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::vector<std::shared_ptr<http::AsyncStream>> streams_;
    std::thread thread_;
};

}  // namespace ct::test
