#include "common/stream_fanout.h"

#include <algorithm>

namespace ct {

struct StreamFanout::Reader {
    std::uint64_t seq = 0;  // the next piece to take; never below first_seq_
    std::uint64_t dropped = 0;
    std::function<void()> wake;
    bool waiting = false;  // its last take() found nothing: wake it on the next push or the end
};

// What the HTTP server holds for one reader; leaving (close or destruction) removes the cursor.
class FanoutReaderStream : public http::ChunkStream {
public:
    FanoutReaderStream(std::shared_ptr<StreamFanout> fanout, std::shared_ptr<StreamFanout::Reader> reader)
        : fanout_(std::move(fanout)), reader_(std::move(reader)) {}
    ~FanoutReaderStream() override { close(); }

    void start(std::function<void()> wake) override { fanout_->start_reader(reader_, std::move(wake)); }
    bool take(std::vector<http::StreamPiece>& out) override { return fanout_->take(*reader_, out); }
    std::vector<std::pair<std::string, std::string>> trailers() const override { return fanout_->trailers(*reader_); }
    void close() override {
        if (closed_) return;
        closed_ = true;
        fanout_->remove_reader(reader_);
    }

private:
    std::shared_ptr<StreamFanout> fanout_;
    std::shared_ptr<StreamFanout::Reader> reader_;
    bool closed_ = false;  // the server calls close() from the connection's thread only
};

std::shared_ptr<StreamFanout> StreamFanout::create(StreamFanoutOptions options) {
    return std::shared_ptr<StreamFanout>(new StreamFanout(std::move(options)));
}

void StreamFanout::push(std::string text, std::uint64_t events) {
    if (text.empty()) return;
    std::lock_guard lock(mutex_);
    if (ended_ || readers_.empty()) return;  // nobody to keep it for
    log_bytes_ += text.size();
    log_.push_back({std::make_shared<const std::string>(std::move(text)), events});
    // Over the bound: the oldest piece goes, lost to every reader that has not taken it yet.
    std::uint64_t lost = 0;
    while (log_bytes_ > options_.log_bytes && log_.size() > 1) {
        const Piece& oldest = log_.front();
        for (auto& r : readers_) {
            if (r->seq != first_seq_) continue;
            ++r->seq;
            r->dropped += oldest.events;
            lost += oldest.events;
        }
        log_bytes_ -= oldest.text->size();
        log_.pop_front();
        ++first_seq_;
    }
    count(0, lost);
    for (auto& r : readers_) {
        if (!r->waiting || !r->wake) continue;
        r->waiting = false;
        r->wake();  // posts to the reader's connection; cheap and non-blocking
    }
}

void StreamFanout::end(std::uint64_t source_dropped, std::string error) {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = true;
    source_dropped_ = source_dropped;
    source_error_ = std::move(error);
    for (auto& c : source_error_)  // a header field's value: one line
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    for (auto& r : readers_) {
        if (!r->waiting || !r->wake) continue;
        r->waiting = false;
        r->wake();
    }
}

bool StreamFanout::ended() const {
    std::lock_guard lock(mutex_);
    return ended_;
}

std::shared_ptr<http::ChunkStream> StreamFanout::add_reader() {
    auto reader = std::make_shared<Reader>();
    {
        std::lock_guard lock(mutex_);
        reader->seq = first_seq_ + log_.size();
        readers_.push_back(reader);
    }
    return std::make_shared<FanoutReaderStream>(shared_from_this(), std::move(reader));
}

void StreamFanout::start_reader(const std::shared_ptr<Reader>& reader, std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    reader->wake = std::move(wake);
}

bool StreamFanout::take(Reader& reader, std::vector<http::StreamPiece>& out) {
    std::lock_guard lock(mutex_);
    std::size_t index = reader.seq - first_seq_, bytes = 0, taken = 0;
    std::uint64_t events = 0;
    for (; index < log_.size(); ++index, ++taken) {
        const Piece& piece = log_[index];
        if (taken > 0 && bytes + piece.text->size() > options_.max_take) break;
        out.push_back(piece.text);
        bytes += piece.text->size();
        events += piece.events;
    }
    reader.seq += taken;
    count(events, 0);
    if (taken > 0) return true;
    if (ended_) return false;
    reader.waiting = true;
    return true;
}

std::vector<std::pair<std::string, std::string>> StreamFanout::trailers(const Reader& reader) const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::string>> out{{kDroppedTrailer, std::to_string(reader.dropped + source_dropped_)}};
    if (!source_error_.empty()) out.emplace_back(kErrorTrailer, source_error_);
    return out;
}

void StreamFanout::remove_reader(const std::shared_ptr<Reader>& reader) {
    std::function<void()> last;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find(readers_.begin(), readers_.end(), reader);
        if (it == readers_.end()) return;
        readers_.erase(it);
        reader->wake = nullptr;
        if (readers_.empty()) {
            first_seq_ += log_.size();  // nobody will take it: free it now
            log_.clear();
            log_bytes_ = 0;
            last = options_.on_last_reader;
        }
    }
    if (last) last();
}

std::size_t StreamFanout::readers() const {
    std::lock_guard lock(mutex_);
    return readers_.size();
}

std::uint64_t StreamFanout::sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
}

std::uint64_t StreamFanout::dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

void StreamFanout::count(std::uint64_t sent, std::uint64_t dropped) {
    if (sent == 0 && dropped == 0) return;
    sent_ += sent;
    dropped_ += dropped;
    for (const auto& c : options_.count_into) {
        c->sent += sent;
        c->dropped += dropped;
    }
}

}  // namespace ct
