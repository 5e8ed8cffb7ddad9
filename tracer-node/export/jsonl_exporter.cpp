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
    // Serialise outside the lock; one write per batch. The buffer is the calling capture
    // thread's own and keeps its capacity: no large allocation per batch.
    thread_local std::string text;
    text.clear();
    const EventJsonWriter writer(context);
    for (const auto& e : events) {
        writer.append(text, e.event, e.owner.get());
        text += '\n';
    }
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
    written_[context.session_id] += events.size();
    total_ += events.size();
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
