// JsonLinesExporter: one JSON object per event per line, to stdout or a file (--trace-output).
// Writes are serialised by a mutex, whole lines at a time, and flushed per batch; the default
// sink of tracer-node. export_events may be called from any thread.
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "common/result.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

class JsonLinesExporter : public Exporter {
public:
    // path "" or "-" = stdout. Errors: kIo when the file cannot be opened for appending.
    static Result<std::shared_ptr<JsonLinesExporter>> open(const std::string& path);
    ~JsonLinesExporter() override;

    std::string name() const override { return "jsonl:" + path_; }
    void export_events(const EventContext& context, std::span<const EnrichedEvent> events) override;
    std::string kind() const override { return "jsonl"; }
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

private:
    static constexpr std::size_t kChunkBytes = 256 << 10;  // per write, whole lines
    JsonLinesExporter(std::FILE* file, std::string path, bool owned)
        : file_(file), path_(std::move(path)), owned_(owned) {}
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> written_;  // session id -> events written
    std::uint64_t total_ = 0;
    std::FILE* file_;
    std::string path_;
    bool owned_;
};

}  // namespace ct::node
