// StreamHub: the live-stream exporter behind GET /v1/trace-session/<id>/trace. Keeps, per
// session, the readers subscribed to it; each batch of events is serialised once (JSON lines,
// the same objects as the JSON-lines sink) and queued to every reader of that session.
// Each reader has its own bounded queue: a reader that falls behind loses events from its own
// stream only (counted, per reader and per session), never slows capture or other readers.
// A stream ends (after its queue is read) when the session's run stops. Subscribing to a
// session without a running capture fails with kNotFound (the route answers 404); past
// max_streams readers in all or max_readers_per_session on one session with kTooMany (429).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/http.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

struct StreamHubOptions {
    std::size_t reader_queue_bytes = 16u << 20;  // per reader
    std::size_t max_readers_per_session = 64;
    std::size_t max_streams = 256;               // readers of all sessions together
    std::size_t chunk_bytes = 256u << 10;        // events are queued in chunks of about this size
};

class StreamHub : public Exporter, public std::enable_shared_from_this<StreamHub> {
public:
    explicit StreamHub(StreamHubOptions options = {}) : options_(options) {}

    // A new reader of the session's events from now on. Errors: kNotFound when the session is
    // not capturing, kTooMany past a reader limit (the message names it and its value).
    Result<std::shared_ptr<http::ChunkStream>> subscribe(const std::string& session_id);
    std::size_t readers(const std::string& session_id) const;
    std::size_t readers() const;  // of all sessions

    std::string name() const override { return "stream"; }
    void on_run_start(const EventContext& context) override;
    void on_run_stop(const EventContext& context) override;
    void export_events(const EventContext& context, std::span<const EnrichedEvent> events) override;
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

    struct Reader;  // one subscriber's queue (stream_hub.cpp)

private:
    struct Counts {
        std::atomic<std::uint64_t> exported{0}, dropped{0};
    };
    struct Session {
        bool capturing = false;
        std::set<std::shared_ptr<Reader>> readers;
        std::shared_ptr<Counts> counts = std::make_shared<Counts>();
    };
    friend class ReaderStream;
    void unsubscribe(const std::string& session_id, const std::shared_ptr<Reader>& reader);
    std::size_t readers_locked() const;  // of all sessions; mutex_ held

    StreamHubOptions options_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Session> sessions_;
    Counts total_;
};

}  // namespace ct::node
