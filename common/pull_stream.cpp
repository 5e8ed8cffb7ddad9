#include "common/pull_stream.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace ct::http {

namespace {

// How long one next() may wait: bounds how long close() waits for the thread.
constexpr std::chrono::milliseconds kPullWait{50};

class PullStream : public ChunkStream {
public:
    PullStream(std::shared_ptr<PullSource> source, std::size_t max_queued)
        : source_(std::move(source)), max_queued_(max_queued) {}
    ~PullStream() override { close(); }

    void start(std::function<void()> wake) override {
        wake_ = std::move(wake);
        thread_ = std::thread([this] { pull(); });
    }

    bool take(std::vector<StreamPiece>& out) override {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return !ended_;
        for (auto& piece : queue_) out.push_back(std::move(piece));
        queue_.clear();
        queued_ = 0;
        cv_.notify_all();  // room for the puller again
        return true;
    }

    void close() override {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    // The puller thread: next() until the source ends or the stream is closed.
    void pull() {
        while (true) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [this] { return closed_ || queued_ < max_queued_; });
                if (closed_) break;
            }
            auto piece = source_->next(kPullWait);
            {
                std::lock_guard lock(mutex_);
                if (!piece) ended_ = true;
                else if (!piece->empty()) queued_ += piece->size(), queue_.push_back(std::make_shared<const std::string>(std::move(*piece)));
                else continue;  // nothing yet
            }
            wake_();
            if (!piece) break;
        }
        source_->close();
    }

    std::shared_ptr<PullSource> source_;
    const std::size_t max_queued_;
    std::function<void()> wake_;
    std::thread thread_;

    std::mutex mutex_;  // guards the fields below
    std::condition_variable cv_;
    std::deque<StreamPiece> queue_;
    std::size_t queued_ = 0;
    bool ended_ = false;   // the source ended; what is queued is the rest
    bool closed_ = false;  // the connection is done with the stream
};

}  // namespace

std::shared_ptr<ChunkStream> pull_stream(std::shared_ptr<PullSource> source, std::size_t max_queued) {
    return std::make_shared<PullStream>(std::move(source), max_queued);
}

std::optional<std::string> drain_stream(ChunkStream& stream, std::chrono::milliseconds limit) {
    std::mutex mutex;
    std::condition_variable cv;
    bool woken = false;
    stream.start([&] {
        std::lock_guard lock(mutex);
        woken = true;
        cv.notify_all();
    });
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string out;
    std::optional<std::string> result;
    while (true) {
        std::vector<StreamPiece> pieces;
        {
            std::lock_guard lock(mutex);
            woken = false;
        }
        if (!stream.take(pieces)) {
            result = std::move(out);
            break;
        }
        for (const auto& p : pieces) out += *p;
        if (!pieces.empty()) continue;
        std::unique_lock lock(mutex);
        if (!cv.wait_until(lock, deadline, [&] { return woken; })) break;
    }
    stream.close();
    return result;
}

}  // namespace ct::http
