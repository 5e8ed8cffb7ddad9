// JsonLinesExporter: one JSON object per event per line, to stdout or a file (--trace-output);
// the default sink of tracer-node. export_events may be called from any thread: each caller
// serialises into its own buffer, and writes (whole lines, in chunks) are serialised by a mutex.
// Failures (docs/operations.md, "Trace output"): a write that fails (full disk, I/O error) costs
// its events, counted as Dropped (and the failed write as an Error), never as Exported. A line
// cut short by the failure is cut off the file again, so the file holds whole lines only and
// Exported equals its lines (a pipe or terminal cannot be cut: a fragment may stay there).
// Capture and the other exporters go on meanwhile. While the disk stays full, writes are not
// even tried until it has room for the chunk plus kChunkBytes, so a sink on the edge of full
// does not flap. The log says once that writing failed and once that it works again.
// A flight-recorder dump adds one line of its own (dump_json_line), counted like an event's.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"
#include "tracer-node/export/exporter.h"

namespace ct::node {

// Pure: a dump's line (docs/api.md "Dump records"), without the newline:
// {"kind":"dump","node":..,"session":..,"hook":..,"context":..,"dump":"<id>","reason":..,
//  "time":"<RFC 3339>","events":n,"lost":n,"from":"<RFC 3339>"|null,"to":..}. Event lines have
// no "kind" member.
std::string dump_json_line(const EventContext& context, const DumpRecord& dump);

class JsonLinesExporter : public Exporter {
public:
    // path "" or "-" = stdout. Errors: kIo when the file cannot be opened for appending.
    static Result<std::shared_ptr<JsonLinesExporter>> open(const std::string& path);

    std::string name() const override { return "jsonl:" + path_; }
    void export_events(const EventContext& context, std::span<const EnrichedEvent> events) override;
    void export_dump(const EventContext& context, const DumpRecord& dump) override;
    std::string kind() const override { return "jsonl"; }
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

private:
    static constexpr std::size_t kChunkBytes = 256 << 10;  // per write, whole lines
    JsonLinesExporter(FD owned, int fd, std::string path);
    // Writes `text` (`lines` whole lines) and counts them into `counts`. mutex_ held.
    void write_locked(std::string_view text, std::size_t lines, ExportCounts& counts);
    // write_locked, counted into the session's counts and the total. mutex_ held.
    void write_counted_locked(const std::string& session_id, std::string_view text, std::size_t lines);
    bool room_for(std::size_t bytes) const;  // false when the file system has less free

    mutable std::mutex mutex_;
    std::map<std::string, ExportCounts> sessions_;  // session id -> its counts
    ExportCounts total_;
    FD owned_;      // the file, when not stdout
    int fd_;        // where lines go
    bool regular_;  // a regular file (can be cut back to whole lines)
    std::string path_;
    int failing_ = 0;  // errno of the failure that is going on, 0 when writes work
};

}  // namespace ct::node
