// Recorder: keeps every session's captured ftrace pages on disk (docs/viewers.md), for
// GET /v1/trace-session/<id>/trace.dat and trace.json. Node-wide, one per tracer-node.
//
// Recording costs no decode: a run's capture hands each raw sub-buffer to the page tap that
// start_run() returns (CaptureOptions::page_tap, on the run's capture thread). The tap pads it to
// the page size into that CPU's pending chunk; a full chunk is compressed (zstd) and appended to
// the session's current segment file. Each session keeps at most `session_limit` bytes of
// segments: past it the oldest segment goes, its events counted as dropped.
// As an Exporter (kind "record") it learns each task's name and container from the delivered
// events (for saved cmdlines and trace.json's names), closes a run at on_run_stop, reports
// Stats.Exporters.record and deletes a session's recording in forget_session.
//
// Layout and formats: recording_format.h. A recording survives restarts: open() loads what is on
// disk; a run a crashed agent left open has its torn tail cut; anything else that does not parse
// marks that session's recording damaged (its exports answer the error, recording goes on).
//
// Thread-safety: every public method may be called from any thread. One mutex guards the session
// map, one per session its files and index; the tap holds its session's for one page.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tracer-node/export/exporter.h"
#include "tracer-node/record/recording.h"

namespace ct::node::record {

struct RecorderOptions {
    std::string dir;                                // created when missing
    std::uint64_t session_limit = 256ull << 20;     // bytes of segments per session
    std::string procfs_root = "/proc";              // where a new task's thread group is read
    std::uint32_t chunk_pages = 16;                 // sub-buffers per compressed chunk
    int zstd_level = 1;
};

using PageTap = std::function<void(int cpu, std::string_view subbuf)>;

class Recorder : public Exporter, public std::enable_shared_from_this<Recorder> {
public:
    // Creates the directory and loads the recordings in it. kIo when it cannot be created or
    // listed; kInvalidArgument for a limit below one chunk.
    static Result<std::shared_ptr<Recorder>> open(RecorderOptions options);
    ~Recorder() override;

    // A run of context.session_id starts capturing the ftrace instance `instance_dir`: reads
    // what a trace.dat needs of it (formats, page size, CPUs, clock and its offset to
    // CLOCK_REALTIME), creates the run's directory, and returns the tap for its pages. The
    // previous run of the session, if still open, is closed. Errors (kIo naming the file) leave
    // nothing recorded for this run.
    Result<PageTap> start_run(const EventContext& context, const std::string& instance_dir);

    // Everything recorded for the session so far, pending chunks included. kNotFound when
    // nothing was ever recorded for it; the damage (kIo naming the file) when its recording
    // could not be read back.
    Result<Recording> snapshot(const std::string& session_id);
    // Ids of the sessions with a recording.
    std::vector<std::string> sessions() const;
    // Deletes the recordings of sessions not in `keep` (left by sessions deleted while the
    // agent was down).
    void prune(const std::set<std::string>& keep);

    // Exporter.
    std::string name() const override { return "record"; }
    void on_run_stop(const EventContext& context) override;
    void export_events(const EventContext& context, std::span<const EnrichedEvent> events) override;
    // Kept as spans per task in the run (excluded.jsonl); exports hide them (scope_scrub.h).
    void export_out_of_scope(const EventContext& context, std::span<const TraceEvent* const> events) override;
    // exported: events in the pages recorded; dropped: events in pages removed for the limit
    // or that could not be written; errors: failed writes.
    ExportCounts session_counts(const std::string& session_id) const override;
    ExportCounts total_counts() const override;
    void forget_session(const std::string& session_id) override;

private:
    struct Session;
    struct Run;
    static std::vector<TaskInfo> tasks_on_disk(const Run& run);
    struct Segment;

    explicit Recorder(RecorderOptions options);
    std::shared_ptr<Session> find(const std::string& session_id) const;
    std::shared_ptr<Session> find_or_create(const std::string& session_id);
    void tap(Session& s, const std::shared_ptr<Run>& run, int cpu, std::string_view subbuf);
    void flush_cpu(Session& s, Run& run, std::uint32_t cpu);
    void close_run(Session& s);
    void enforce_limit(Session& s);
    Status open_segment(Session& s, Run& run);

    const RecorderOptions options_;
    const std::uint64_t segment_bytes_;
    mutable std::mutex mutex_;  // guards sessions_ and totals_
    std::map<std::string, std::shared_ptr<Session>> sessions_;
    ExportCounts totals_;  // over every session since start
};

}  // namespace ct::node::record
