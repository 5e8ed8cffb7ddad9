#include "tracer-node/export/jsonl_exporter.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace ct::node {

Result<std::shared_ptr<JsonLinesExporter>> JsonLinesExporter::open(const std::string& path) {
    if (path.empty() || path == "-")
        return std::shared_ptr<JsonLinesExporter>(new JsonLinesExporter(stdout, "stdout", false));
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) return fail_errno(fmt::format("opening trace output \"{}\"", path));
    return std::shared_ptr<JsonLinesExporter>(new JsonLinesExporter(f, path, true));
}

JsonLinesExporter::~JsonLinesExporter() {
    if (owned_) std::fclose(file_);
}

void JsonLinesExporter::export_events(const EventContext& context, std::span<const EnrichedEvent> events) {
    // Serialise outside the lock, and write whole lines in chunks of about kChunkBytes: the
    // buffer is the calling capture thread's own and keeps its capacity (no allocation per
    // batch), and a chunk bounds it (a batch of 10k events would be 3 MB, times every capture
    // thread of a busy node).
    thread_local std::string text;
    EventJsonWriter writer(context);
    text.clear();
    auto write = [&](bool last) {
        std::lock_guard lock(mutex_);
        std::fwrite(text.data(), 1, text.size(), file_);
        text.clear();
        if (!last) return;
        std::fflush(file_);
        written_[context.session_id] += events.size();
        total_ += events.size();
    };
    for (const auto& e : events) {
        writer.append(text, e.event, e.owner);
        text += '\n';
        if (text.size() >= kChunkBytes) write(false);
    }
    write(true);
}

ExportCounts JsonLinesExporter::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = written_.find(session_id);
    return {it == written_.end() ? 0 : it->second, 0, 0};
}

ExportCounts JsonLinesExporter::total_counts() const {
    std::lock_guard lock(mutex_);
    return {total_, 0, 0};
}

void JsonLinesExporter::forget_session(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    written_.erase(session_id);
}

}  // namespace ct::node
