#include "tracer-node/export/stream_hub.h"

#include <fmt/format.h>

namespace ct::node {

Result<std::shared_ptr<http::ChunkStream>> StreamHub::subscribe(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end() || !it->second.fanout)
        return fail(Errc::kNotFound, fmt::format("trace session {} is not running", session_id));
    auto& fanout = *it->second.fanout;
    if (fanout.readers() >= options_.max_readers_per_session)
        return fail(Errc::kTooMany, fmt::format("trace session {} already has {} stream readers (limit {} per session)",
                                                session_id, fanout.readers(), options_.max_readers_per_session));
    if (readers_locked() >= options_.max_streams)
        return fail(Errc::kTooMany, fmt::format("too many concurrent trace streams (limit {})", options_.max_streams));
    return fanout.add_reader();
}

std::size_t StreamHub::readers(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    return it == sessions_.end() || !it->second.fanout ? 0 : it->second.fanout->readers();
}

std::size_t StreamHub::readers() const {
    std::lock_guard lock(mutex_);
    return readers_locked();
}

std::size_t StreamHub::readers_locked() const {
    std::size_t n = 0;
    for (const auto& [id, session] : sessions_)
        if (session.fanout) n += session.fanout->readers();
    return n;
}

void StreamHub::on_run_start(const EventContext& c) {
    std::lock_guard lock(mutex_);
    auto& session = sessions_[c.session_id];
    if (session.fanout) session.fanout->end();  // a run that never reported its stop
    session.fanout = StreamFanout::create({.log_bytes = options_.reader_queue_bytes,
                                           .count_into = {session.counts, total_}});
}

void StreamHub::on_run_stop(const EventContext& c) {
    std::shared_ptr<StreamFanout> fanout;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(c.session_id);
        if (it == sessions_.end()) return;
        fanout = std::move(it->second.fanout);
    }
    if (fanout) fanout->end();  // its readers end once they have taken the rest
}

void StreamHub::export_events(const EventContext& c, std::span<const EnrichedEvent> events) {
    std::shared_ptr<StreamFanout> fanout;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(c.session_id);
        if (it == sessions_.end() || !it->second.fanout) return;
        fanout = it->second.fanout;
    }
    if (fanout->readers() == 0) return;  // nobody listening: no work
    // Serialise once, in pieces, outside the hub's lock.
    std::string piece;
    std::size_t in_piece = 0;
    EventJsonWriter writer(c);
    for (const auto& e : events) {
        writer.append(piece, e.event, e.owner);
        piece += '\n';
        if (++in_piece, piece.size() >= options_.chunk_bytes) {
            fanout->push(std::move(piece), in_piece);
            piece = {};
            in_piece = 0;
        }
    }
    if (in_piece) fanout->push(std::move(piece), in_piece);
}

ExportCounts StreamHub::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return {};
    return {it->second.counts->sent.load(), it->second.counts->dropped.load(), 0};
}

ExportCounts StreamHub::total_counts() const { return {total_->sent.load(), total_->dropped.load(), 0}; }

void StreamHub::forget_session(const std::string& session_id) {
    std::shared_ptr<StreamFanout> fanout;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;
        fanout = std::move(it->second.fanout);
        sessions_.erase(it);
    }
    if (fanout) fanout->end();  // none once its runs stopped; ends them otherwise
}

}  // namespace ct::node
