#include "tracer-node/export/stream_hub.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace ct::node {

struct StreamHub::Reader {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::pair<std::string, std::size_t>> chunks;  // text, events in it
    std::size_t bytes = 0;
    bool ended = false;
    std::uint64_t dropped = 0;

    // Queues a chunk unless that would pass `limit`; false when dropped.
    bool push(const std::string& text, std::size_t events, std::size_t limit) {
        {
            std::lock_guard lock(mutex);
            if (ended) return true;
            if (bytes + text.size() > limit) {
                dropped += events;
                return false;
            }
            bytes += text.size();
            chunks.emplace_back(text, events);
        }
        cv.notify_one();
        return true;
    }
    void end() {
        {
            std::lock_guard lock(mutex);
            ended = true;
        }
        cv.notify_all();
    }
};

// The ChunkStream the HTTP server pulls; unsubscribes when closed or destroyed.
class ReaderStream : public http::ChunkStream {
public:
    ReaderStream(std::weak_ptr<StreamHub> hub, std::string session_id, std::shared_ptr<StreamHub::Reader> reader)
        : hub_(std::move(hub)), session_id_(std::move(session_id)), reader_(std::move(reader)) {}
    ~ReaderStream() override { close(); }

    std::optional<std::string> next(std::chrono::milliseconds wait) override {
        auto& r = *reader_;
        std::unique_lock lock(r.mutex);
        r.cv.wait_for(lock, wait, [&] { return !r.chunks.empty() || r.ended; });
        if (r.chunks.empty()) return r.ended ? std::nullopt : std::optional<std::string>("");
        // Hand out a few chunks at once: fewer, larger writes.
        std::string out = std::move(r.chunks.front().first);
        r.chunks.pop_front();
        while (!r.chunks.empty() && out.size() < (1u << 20)) {
            out += r.chunks.front().first;
            r.chunks.pop_front();
        }
        r.bytes = 0;
        for (const auto& c : r.chunks) r.bytes += c.first.size();
        return out;
    }

    void close() override {
        if (closed_.exchange(true)) return;
        if (auto hub = hub_.lock()) hub->unsubscribe(session_id_, reader_);
    }

private:
    std::weak_ptr<StreamHub> hub_;
    std::string session_id_;
    std::shared_ptr<StreamHub::Reader> reader_;
    std::atomic<bool> closed_{false};
};

Result<std::shared_ptr<http::ChunkStream>> StreamHub::subscribe(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end() || !it->second.capturing)
        return fail(Errc::kNotFound, fmt::format("trace session {} is not running", session_id));
    if (it->second.readers.size() >= options_.max_readers_per_session)
        return fail(Errc::kTooMany, fmt::format("trace session {} already has {} stream readers (limit {} per session)",
                                                session_id, it->second.readers.size(),
                                                options_.max_readers_per_session));
    if (readers_locked() >= options_.max_streams)
        return fail(Errc::kTooMany, fmt::format("too many concurrent trace streams (limit {})", options_.max_streams));
    auto reader = std::make_shared<Reader>();
    it->second.readers.insert(reader);
    return std::make_shared<ReaderStream>(weak_from_this(), session_id, reader);
}

std::size_t StreamHub::readers(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    return it == sessions_.end() ? 0 : it->second.readers.size();
}

std::size_t StreamHub::readers() const {
    std::lock_guard lock(mutex_);
    return readers_locked();
}

std::size_t StreamHub::readers_locked() const {
    std::size_t n = 0;
    for (const auto& [id, session] : sessions_) n += session.readers.size();
    return n;
}

void StreamHub::unsubscribe(const std::string& session_id, const std::shared_ptr<Reader>& reader) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) it->second.readers.erase(reader);
}

void StreamHub::on_run_start(const EventContext& c) {
    std::lock_guard lock(mutex_);
    sessions_[c.session_id].capturing = true;
}

void StreamHub::on_run_stop(const EventContext& c) {
    std::set<std::shared_ptr<Reader>> readers;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(c.session_id);
        if (it == sessions_.end()) return;
        it->second.capturing = false;
        readers.swap(it->second.readers);
    }
    for (const auto& r : readers) r->end();
}

void StreamHub::export_events(const EventContext& c, std::span<const EnrichedEvent> events) {
    std::vector<std::shared_ptr<Reader>> readers;
    std::shared_ptr<Counts> counts;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(c.session_id);
        if (it == sessions_.end() || it->second.readers.empty()) return;  // nobody listening: no work
        readers.assign(it->second.readers.begin(), it->second.readers.end());
        counts = it->second.counts;
    }
    // Serialise once, in chunks, outside the hub's lock.
    std::string chunk;
    std::size_t in_chunk = 0;
    auto flush = [&] {
        for (const auto& r : readers) {
            if (r->push(chunk, in_chunk, options_.reader_queue_bytes)) {
                counts->exported += in_chunk;
                total_.exported += in_chunk;
            } else {
                counts->dropped += in_chunk;
                total_.dropped += in_chunk;
            }
        }
        chunk.clear();
        in_chunk = 0;
    };
    EventJsonWriter writer(c);
    for (const auto& e : events) {
        writer.append(chunk, e.event, e.owner);
        chunk += '\n';
        if (++in_chunk, chunk.size() >= options_.chunk_bytes) flush();
    }
    if (in_chunk) flush();
}

ExportCounts StreamHub::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return {};
    return {it->second.counts->exported.load(), it->second.counts->dropped.load(), 0};
}

ExportCounts StreamHub::total_counts() const { return {total_.exported.load(), total_.dropped.load(), 0}; }

void StreamHub::forget_session(const std::string& session_id) {
    std::set<std::shared_ptr<Reader>> readers;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;
        readers.swap(it->second.readers);
        sessions_.erase(it);
    }
    for (const auto& r : readers) r->end();  // none once its runs stopped; ends them otherwise
}

}  // namespace ct::node
