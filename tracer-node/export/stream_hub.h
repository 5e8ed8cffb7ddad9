// StreamHub: the live-stream exporter behind GET /v1/trace-session/<id>/trace. Each running
// session's events are serialised once (JSON lines, the same objects as the JSON-lines sink) into
// pieces of about chunk_bytes and pushed into the session's StreamFanout (common/stream_fanout.h),
// which the HTTP server writes to every reader from its I/O threads when woken: no thread and no
// copy per reader. Each reader is at most reader_queue_bytes behind; a reader that falls further
// behind loses the oldest events it had not taken, from its own stream only (counted per reader
// in its X-Tracer-Dropped trailer and per session in Stats.Exporters.stream.Dropped), never slowing
// capture or other readers. A stream ends (after its reader took the rest) when the session's run
// stops. Subscribing to a session without a running capture fails with kNotFound (the route
// answers 404); past max_streams readers in all or max_readers_per_session on one session with
// kTooMany (429).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <mutex>
#include <unordered_map>

#include "common/http.h"
#include "common/stream_fanout.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

struct StreamHubOptions {
    std::size_t reader_queue_bytes = 16u << 20;  // how far behind a reader may be (one log per session)
    std::size_t max_readers_per_session = 64;
    std::size_t max_streams = 1024;              // readers of all sessions together
    std::size_t chunk_bytes = 256u << 10;        // events are pushed in pieces of about this size
};

class StreamHub : public Exporter {
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

private:
    struct Session {
        std::shared_ptr<StreamFanout> fanout;  // the running capture's; null when not capturing
        std::shared_ptr<StreamCounts> counts = std::make_shared<StreamCounts>();  // over all runs
    };
    std::size_t readers_locked() const;  // of all sessions; mutex_ held

    const StreamHubOptions options_;
    mutable std::mutex mutex_;  // guards sessions_
    std::unordered_map<std::string, Session> sessions_;
    std::shared_ptr<StreamCounts> total_ = std::make_shared<StreamCounts>();
};

}  // namespace ct::node
