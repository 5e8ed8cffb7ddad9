// StreamFanout: one live stream (a trace session's JSON lines) fanned out to many HTTP readers
// with no thread and no copy per reader. The producer appends pieces (text + how many events it
// holds) to one log shared by every reader and bounded to `log_bytes`; each reader is a cursor
// into that log, served as an http::ChunkStream. A reader less than `log_bytes` behind gets every
// piece; one that falls further behind loses the oldest pieces it has not taken yet, counted as its
// own drops. So a slow reader never slows the producer or the other readers, and memory is bounded
// by the log (plus the pieces writes in flight hold), not by the number of readers.
// A reader's stream starts at the next piece pushed after add_reader(), and ends once end() was
// called and it has taken the rest of the log; its trailer X-Tracer-Dropped says how many events
// it lost (its own drops plus those end() reports for the producer's source), and X-Tracer-Error
// why the source broke off, if it did.
// Thread-safety: every member may be called from any thread. The owner keeps the fanout by
// shared_ptr; each reader stream holds it too, so it lives until its last reader is closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http.h"

namespace ct {

inline constexpr const char* kDroppedTrailer = "X-Tracer-Dropped";
inline constexpr const char* kErrorTrailer = "X-Tracer-Error";

// Events counted over many fanouts (a session's runs, a whole program); updated atomically.
struct StreamCounts {
    std::atomic<std::uint64_t> sent{0};     // taken by a reader to be written to its client
    std::atomic<std::uint64_t> dropped{0};  // lost by a reader that fell more than the log behind
};

struct StreamFanoutOptions {
    std::size_t log_bytes = 16u << 20;  // pieces kept for readers that are behind
    std::size_t max_take = 1u << 20;    // bytes handed to one write (at least one piece)
    // Also counted into these (e.g. the session's and the program's totals); may be empty.
    std::vector<std::shared_ptr<StreamCounts>> count_into;
    // Called once the last reader has gone (not when there never was one), outside any lock, from
    // the thread that closed that reader. E.g. tracer-svc closes the node stream it relays.
    std::function<void()> on_last_reader;
};

class StreamFanout : public std::enable_shared_from_this<StreamFanout> {
public:
    static std::shared_ptr<StreamFanout> create(StreamFanoutOptions options);

    // Producer side. Appends a piece for every reader (none: discarded). Never blocks on readers.
    void push(std::string text, std::uint64_t events);
    // No more pieces: readers end after taking the log. `source_dropped` events that were lost
    // before the producer saw them (the relayed node's own drops) are added to every reader's
    // X-Tracer-Dropped trailer; a non-empty `error` (the source broke off) is sent as
    // X-Tracer-Error. Only the first call counts.
    void end(std::uint64_t source_dropped = 0, std::string error = {});
    bool ended() const;

    // A new reader from the next piece on. Never null; on an ended fanout it ends at once.
    std::shared_ptr<http::ChunkStream> add_reader();
    std::size_t readers() const;
    // Events sent to / lost by this fanout's readers, including readers that have gone.
    std::uint64_t sent() const;
    std::uint64_t dropped() const;

    struct Reader;  // one cursor (stream_fanout.cpp)

private:
    explicit StreamFanout(StreamFanoutOptions options) : options_(std::move(options)) {}
    friend class FanoutReaderStream;
    void start_reader(const std::shared_ptr<Reader>& reader, std::function<void()> wake);
    bool take(Reader& reader, std::vector<http::StreamPiece>& out);
    std::vector<std::pair<std::string, std::string>> trailers(const Reader& reader) const;
    void remove_reader(const std::shared_ptr<Reader>& reader);
    void count(std::uint64_t sent, std::uint64_t dropped);  // mutex_ held

    struct Piece {
        http::StreamPiece text;
        std::uint64_t events;
    };

    const StreamFanoutOptions options_;
    mutable std::mutex mutex_;
    std::deque<Piece> log_;
    std::uint64_t first_seq_ = 0;  // sequence number of log_.front()
    std::size_t log_bytes_ = 0;
    bool ended_ = false;
    std::uint64_t source_dropped_ = 0;
    std::string source_error_;
    std::vector<std::shared_ptr<Reader>> readers_;
    std::uint64_t sent_ = 0, dropped_ = 0;
};

}  // namespace ct
