// export_stream: a session's recording (recording.h) as trace.dat (trace_dat_writer.h), as
// Chrome trace JSON (chrome_trace_writer.h) and as JSON lines (a flight-recorder dump's events,
// the lines a live stream of the session gives), as HTTP chunk streams: each piece is about
// kPieceBytes, read from the segments and decompressed (JSON) just then, so memory stays bounded
// whatever the recording's size. Each stream is made on a thread of its own (common/pull_stream.h),
// which stops when the connection closes it.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/http.h"
#include "common/result.h"
#include "tracer-node/capture/capture_run.h"
#include "tracer-node/record/recording.h"
#include "tracer-node/record/trace_dat_writer.h"

namespace ct::node::record {

inline constexpr std::size_t kPieceBytes = 256 << 10;

// What a trace.dat of these runs needs besides their chunks (all runs share it: see below).
// Runs recorded with other page or event formats than the newest run (a kernel change between
// runs) cannot share one file with it: they are left out and named in `skipped_runs`.
struct DatPlan {
    DatInput input;
    std::vector<std::vector<std::size_t>> chunks;  // per CPU: indices into Recording::chunks
    std::vector<std::uint64_t> skipped_runs;
};
DatPlan plan_dat_input(const Recording& recording, const std::string& version);

// The recording as a trace-cmd data file. kInvalidArgument when it cannot be laid out.
Result<std::shared_ptr<http::ChunkStream>> trace_dat_stream(Recording recording, const std::string& version);

struct JsonExportOptions {
    // Timestamps on CLOCK_REALTIME (each run's measured offset applied) instead of the trace clock.
    bool realtime = false;
    std::uint64_t pid_base = 0;        // ChromeTraceOptions
    std::string process_prefix;        // ChromeTraceOptions
    std::int64_t sort_index = 0;       // ChromeTraceOptions
    // Only the events, comma-separated, without the document around them (tracer-svc splices
    // several nodes' into one document).
    bool events_only = false;
    std::vector<std::pair<std::string, std::string>> other_data;  // extra "otherData" members
};

// Pure: the query of GET .../trace.json (docs/api.md): clock=trace|realtime, pid_base=<n>,
// sort_index=<n>, label=0|1 (process names start with the node's name), events_only=0|1.
// Members not given keep `defaults`. kInvalidArgument naming the bad parameter or value.
struct JsonQuery {
    bool realtime = false;
    std::uint64_t pid_base = 0;
    std::int64_t sort_index = 0;
    bool label = false;
    bool events_only = false;
};
Result<JsonQuery> parse_json_query(std::string_view query, JsonQuery defaults);

// The recordings (one session's, or every session of the node) as one Chrome trace document.
std::shared_ptr<http::ChunkStream> trace_json_stream(std::vector<Recording> recordings, JsonExportOptions options);

struct JsonLinesExportOptions {
    EventContext context;                    // the session's, as its live runs have it
    std::set<ContainerRef> scope;            // the session's containers: other tasks' events are left out
    std::set<std::string> export_lifecycle;  // CaptureRunOptions::export_lifecycle
    // An event not in the pages (a flight-recorder dump's trigger), written in its time position
    // with its task's owner, whatever the scope. `extra_type` is the type it points to.
    std::optional<TraceEvent> extra;
    std::shared_ptr<const EventType> extra_type;
};

// The recording's events as JSON lines (EventJsonWriter, docs/api.md "Exported events"): the
// lines a live stream of the session gives for them, in time order (each run's CPUs merged).
// As CaptureRun: a task's owner is the recording's (TaskInfo), or its parent's from the fork
// event; events of tasks outside `scope` and the hook's lifecycle bookkeeping are left out; tasks
// are named as the live capture names them (TaskNames; the recording's names for the others).
std::shared_ptr<http::ChunkStream> jsonl_stream(Recording recording, JsonLinesExportOptions options);

// For a recording whose pages no capture judged (a flight-recorder dump): adds to each run's
// `excluded` the events of tasks outside `scope`, owners judged as jsonl_stream judges them, so
// its trace.dat and trace.json leave them out too (scope_scrub.h). Decodes every chunk once, on
// the calling thread.
void exclude_out_of_scope(Recording& recording, const std::set<ContainerRef>& scope);

}  // namespace ct::node::record
