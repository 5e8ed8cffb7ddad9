// DumpStore: the dumps of flight-recorder sessions (docs/flight-recorder.md). Node-wide, one per
// tracer-node.
//
// A flight-recorder run keeps its events in its hook's ftrace instance (overwrite mode) and
// reads nothing while it runs. Its FlightCapture registers the instance here (attach) for as long
// as the run lasts; a dump (by hand, or a trigger of the run) stops writing (tracing_on = 0),
// reads every CPU's pages (per_cpu/cpuN/trace_pipe_raw, non-blocking, until empty), turns
// writing on again, and keeps the pages as a recording (record/recorder.h) with a small JSON
// description. Triggers within `holdoff` of the session's previous dump make no new dump.
//
// On disk, under `dir` (default <state-dir>/dumps):
//   session-<session id>/dump-<dump id>.json       the Dump below, written last (atomically)
//   session-<session id>/session-<dump id>/run-000001/...  the pages (record/recording_format.h,
//                                                   one Recorder per session keyed by dump id)
// Dumps survive restarts (open() loads them; a recording without its description, cut short by a
// crash, is removed) and are bounded per session by `limit`: the oldest go first, counted
// (removed(), container_tracer_dumps_removed_total). Every new dump is handed to the exporters
// (Exporter::export_dump: the JSON-lines sink's and OTLP's one record per dump).
//
// Thread-safety: every public method may be called from any thread. One mutex guards the session
// map; each session's dumps are made and removed one at a time under its own mutex.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "tracer-node/export/exporter.h"
#include "tracer-node/record/recorder.h"

namespace ct::node::flight {

struct DumpStoreOptions {
    std::string dir;
    std::size_t limit = 16;                      // dumps kept per session; the oldest go first
    std::chrono::milliseconds holdoff{1000};     // triggers within it of the last dump make none
    std::string procfs_root = "/proc";           // task names
    std::uint64_t max_dump_bytes = 1ull << 30;   // recording limit of one dump (Recorder's)
    std::shared_ptr<const ExporterSet> exporters;  // told of every new dump; null: none
};

// The event that triggered a dump, kept in its description (the trigger instance's event is not
// in the dump's pages: docs/flight-recorder.md, "Triggers").
struct TriggerEvent {
    std::string event;               // "signal_generate", "mark_victim"
    std::uint64_t timestamp_ns = 0;  // trace clock of the trigger instance
    std::map<std::string, std::int64_t> fields;
    int cpu = -1;  // where it was written; -1 when not known (dumps made before it was kept)
};

// The trigger as an event of the dump's JSON lines (GET .../dumps/<id>, docs/api.md): named and
// timed as the trigger, its numeric fields as signed "fields" (details "name=value ..."), its
// task the target (`pid` field: the sender may be outside the session). The event points to
// `type`: keep both together.
struct TriggerLine {
    std::shared_ptr<const EventType> type;
    TraceEvent event;
};
TriggerLine trigger_line(const TriggerEvent& trigger);

struct Dump {
    std::string id;          // decimal u64
    std::string session_id;
    std::string reason;      // "by hand", "signal SIGSEGV to pid 4242 (pod/container)", ...
    std::int64_t time_unix_ns = 0;
    std::uint64_t events = 0;  // ring-buffer records in the dump's pages
    std::uint64_t lost = 0;    // overwritten in the ring since the run's start or its previous dump
    std::optional<std::int64_t> from_unix_ns, to_unix_ns;  // first and last event; none when empty
    std::optional<TriggerEvent> trigger;
};

std::string encode_dump(const Dump& dump);
Result<Dump> decode_dump(std::string_view text);  // kInvalidArgument naming what is missing

// Who owns a task, for the dump's task names and trace.json's process names.
using OwnerOf = std::function<std::optional<EventOwner>(pid_t tid)>;

class DumpStore {
public:
    // Creates the directory and loads the dumps in it. kIo when it cannot be created or listed.
    static Result<std::shared_ptr<DumpStore>> open(DumpStoreOptions options);
    ~DumpStore();

    // A flight-recorder run of `context.session_id` keeps its events in `instance_dir` from now
    // on; `owner_of` names tasks. Replaces an earlier attachment of the session.
    void attach(const EventContext& context, const std::string& instance_dir, OwnerOf owner_of);
    // The run ends: waits for a dump in progress, then forgets the instance.
    void detach(const std::string& session_id);
    // Whether a run of the session is attached (can be dumped).
    bool attached(const std::string& session_id) const;

    // Dumps the attached run's ring now. `holdoff`: a dump of this session made less than the
    // holdoff ago is returned instead of a new one (triggers; a dump by hand passes false).
    // kConflict when no run of the session is attached; kIo naming the file otherwise.
    Result<Dump> dump(const std::string& session_id, std::string reason, std::optional<TriggerEvent> trigger,
                      bool holdoff);

    // The session's dumps, oldest first.
    std::vector<Dump> list(const std::string& session_id) const;
    // One of them. kNotFound naming the id.
    Result<Dump> get(const std::string& session_id, const std::string& dump_id) const;
    // One dump's pages, for the export streams. kNotFound naming the id.
    Result<record::Recording> recording(const std::string& session_id, const std::string& dump_id);
    // Deletes a session's dumps (the session was deleted).
    void forget_session(const std::string& session_id);
    // Deletes the dumps of sessions not in `keep` (deleted while the agent was down).
    void prune(const std::set<std::string>& keep);

    // Dumps removed for the limit since start, and dumps kept now (all sessions), for /metrics.
    std::uint64_t removed() const;
    std::size_t kept() const;

private:
    struct Session;
    explicit DumpStore(DumpStoreOptions options);
    std::shared_ptr<Session> find(const std::string& session_id) const;
    Result<std::shared_ptr<Session>> find_or_create(const std::string& session_id);
    void enforce_limit(Session& s);

    const DumpStoreOptions options_;
    mutable std::mutex mutex_;  // guards sessions_ and removed_
    std::map<std::string, std::shared_ptr<Session>> sessions_;
    std::uint64_t removed_ = 0;  // dumps removed for the limit since start
    std::atomic<std::size_t> kept_{0};  // dumps of all sessions now
};

}  // namespace ct::node::flight
