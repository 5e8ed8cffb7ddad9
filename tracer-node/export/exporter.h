// Exporter: where enriched events go (JSON lines, live streams, OpenTelemetry, ...).
// To add one: implement this interface and add it to the ExporterSet in main.cpp.
// Exporters are called from every session's capture thread concurrently: they must be
// thread-safe and must never block capture for long (bounded queues, counted drops).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/syscall_stats.h"
#include "tracer-node/export/trace_event.h"

namespace ct::node {

// One event and its owner, as lent to the exporters: both are the capture run's and valid during
// the export_events call that hands them over. An exporter that keeps an event past that call
// copies it (and its owner). No copy is made per event otherwise.
struct EnrichedEvent {
    const TraceEvent& event;
    // Pod/container the pid belongs to; null when unknown. The run keeps one per container.
    const EventOwner* owner = nullptr;
};

// One container's syscall counts in a statistics run (docs/hooks.md "Statistics hooks").
struct ContainerSyscalls {
    EventOwner owner;
    stats::SyscallTable table;
    bool operator==(const ContainerSyscalls&) const = default;
};

// A statistics run's counts so far: cumulative from start_unix_ns, as the hook saw them at
// time_unix_ns. `final`: the run has ended and this is its last snapshot.
struct StatsUpdate {
    std::uint64_t start_unix_ns = 0;
    std::uint64_t time_unix_ns = 0;
    std::vector<ContainerSyscalls> containers;
    bool final = false;
};

// A flight-recorder dump was made (docs/flight-recorder.md): what the sinks record of it, one
// record per dump (docs/api.md "Dump records"). Export's own copy of flight::Dump's summary.
struct DumpRecord {
    std::string dump_id;  // decimal u64
    std::string reason;   // "by hand", "signal SIGSEGV to pid 4242 (pod/container)", ...
    std::int64_t time_unix_ns = 0;  // when the ring was frozen
    std::uint64_t events = 0;       // records in the dump's pages
    std::uint64_t lost = 0;         // overwritten in the ring before the dump
    std::optional<std::int64_t> from_unix_ns, to_unix_ns;  // first and last event; none when empty
};

// What one exporter did with one session's events (or with all of them).
struct ExportCounts {
    std::uint64_t exported = 0;  // events (or spans) it sent on
    std::uint64_t dropped = 0;   // events its bounded queues dropped (slow reader, endpoint down)
    std::uint64_t errors = 0;    // failed sends (each retried or given up)
};

class Exporter {
public:
    virtual ~Exporter() = default;
    virtual std::string name() const = 0;
    // A session run starts capturing / has stopped (after its last batch).
    virtual void on_run_start(const EventContext&) {}
    virtual void on_run_stop(const EventContext&) {}
    virtual void export_events(const EventContext& context, std::span<const EnrichedEvent> events) = 0;
    // Events of the same batch that were not exported because their task is outside the
    // session's containers (counted in Stats.OutOfScope), and lifecycle events of such tasks.
    // For exporters that keep what the kernel wrote (the recorder) and must hide them.
    virtual void export_out_of_scope(const EventContext& /*context*/, std::span<const TraceEvent* const> /*events*/) {}
    // A statistics run's new snapshot (no events flow for such a run). Called from the session
    // manager's janitor and at the run's end; must not block for long.
    virtual void export_stats(const EventContext& /*context*/, const StatsUpdate& /*update*/) {}
    // A flight-recorder run of the session made a dump (from the thread that made it, under the
    // session's dump lock: must not block for long). Counted with the session's exports.
    virtual void export_dump(const EventContext& /*context*/, const DumpRecord& /*dump*/) {}
    // Short kind for stats and metrics ("jsonl", "stream", "otlp"); thread-safe.
    virtual std::string kind() const { return name(); }
    // Counts for one session (by id), and over all sessions since start. Thread-safe.
    virtual ExportCounts session_counts(const std::string& /*session_id*/) const { return {}; }
    virtual ExportCounts total_counts() const { return {}; }
    // The session was deleted (its runs have stopped): drop what is kept for it. Thread-safe.
    virtual void forget_session(const std::string& /*session_id*/) {}
};

// Fans every call out to all exporters. Filled once in main(), then shared read-only.
class ExporterSet {
public:
    void add(std::shared_ptr<Exporter> exporter) { exporters_.push_back(std::move(exporter)); }
    void on_run_start(const EventContext& c) const {
        for (const auto& e : exporters_) e->on_run_start(c);
    }
    void on_run_stop(const EventContext& c) const {
        for (const auto& e : exporters_) e->on_run_stop(c);
    }
    void export_events(const EventContext& c, std::span<const EnrichedEvent> events) const {
        for (const auto& e : exporters_) e->export_events(c, events);
    }
    void export_out_of_scope(const EventContext& c, std::span<const TraceEvent* const> events) const {
        for (const auto& e : exporters_) e->export_out_of_scope(c, events);
    }
    void export_stats(const EventContext& c, const StatsUpdate& update) const {
        for (const auto& e : exporters_) e->export_stats(c, update);
    }
    void export_dump(const EventContext& c, const DumpRecord& dump) const {
        for (const auto& e : exporters_) e->export_dump(c, dump);
    }

    // kind -> counts, for each exporter.
    std::map<std::string, ExportCounts> session_counts(const std::string& session_id) const {
        std::map<std::string, ExportCounts> out;
        for (const auto& e : exporters_) out[e->kind()] = e->session_counts(session_id);
        return out;
    }
    void forget_session(const std::string& session_id) const {
        for (const auto& e : exporters_) e->forget_session(session_id);
    }
    std::map<std::string, ExportCounts> total_counts() const {
        std::map<std::string, ExportCounts> out;
        for (const auto& e : exporters_) out[e->kind()] = e->total_counts();
        return out;
    }

private:
    std::vector<std::shared_ptr<Exporter>> exporters_;
};

}  // namespace ct::node
