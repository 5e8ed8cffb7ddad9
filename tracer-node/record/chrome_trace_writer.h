// ChromeTraceWriter: events as Chrome trace-event JSON (the "JSON Object Format" that Perfetto UI,
// chrome://tracing and Chrome DevTools open; docs/viewers.md). Pure: events in, text out, so a
// file of any size is written piece by piece (the caller sends `out` on whenever it grew).
//
// A syscall becomes one complete event ("ph":"X", from its enter to its exit, microseconds) on
// its thread, named after the syscall, with its arguments and "ret" as args; an enter without an
// exit (still running at the end, or its exit lost) and an exit without an enter become instant
// events of their own names. Every other event is an instant event ("ph":"i", thread scope)
// with its fields as args. Each process and thread gets its name once, as metadata events, before
// its first event: "<namespace>/<pod>/<container>" and the task name.
//
// Timestamps are microseconds with three decimals (the trace clock's nanoseconds, exactly), plus
// an offset per call (a run's offset to CLOCK_REALTIME for a cluster-wide file). Durations are
// never negative: an exit stamped before its enter (per-CPU clock skew after a migration) lasts 0.
// One writer per output file, on one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "tracer-node/export/trace_event.h"

namespace ct::node::record {

struct ChromeTask {
    pid_t tgid = 0;  // the process (host PID)
    std::string comm;
    const EventOwner* owner = nullptr;  // null when unknown
};

struct ChromeTraceOptions {
    // Added to every pid (not tid) of the file: tracer-svc gives each node its own range, so
    // processes of different nodes never share an id in a merged file.
    std::uint64_t pid_base = 0;
    // Put before every process name ("<node> "): tells the nodes apart in a merged file.
    std::string process_prefix;
    // Sort processes by this (then by pid): a node's processes stay together in a merged file.
    std::int64_t sort_index = 0;
};

class ChromeTraceWriter {
public:
    explicit ChromeTraceWriter(ChromeTraceOptions options = {});

    // The document's opening: {"traceEvents":[
    static void open_document(std::string& out);
    // Its end: ],"displayTimeUnit":"ns","otherData":{...}} with `other_data` members (escaped
    // here) and "events" (this writer's count).
    void close_document(std::string& out, const std::vector<std::pair<std::string, std::string>>& other_data);

    // Appends what `e` becomes (maybe nothing yet: an enter waits for its exit). `ts_offset_ns`
    // is added to its timestamp.
    void add(std::string& out, const TraceEvent& e, const ChromeTask& task, std::int64_t ts_offset_ns);
    // Ends every syscall still waiting for its exit, as instant events.
    void flush(std::string& out);
    // Events written so far (metadata not counted).
    std::uint64_t events() const { return events_; }

private:
    struct Pending {
        std::int64_t ts_ns = 0;
        std::string name;  // the syscall
        std::string args;  // its args' JSON members, "" when none
        std::uint64_t pid = 0;
        std::string enter_event;
    };
    void begin_event(std::string& out);
    void name_task(std::string& out, pid_t tid, const ChromeTask& task, std::uint64_t pid);
    void instant(std::string& out, std::string_view name, std::int64_t ts_ns, std::uint64_t pid, pid_t tid,
                 std::string_view args);

    ChromeTraceOptions options_;
    bool first_ = true;  // no event written yet: no comma before the next
    std::uint64_t events_ = 0;
    std::unordered_map<pid_t, Pending> pending_;       // by tid
    std::unordered_set<std::uint64_t> named_processes_;
    std::unordered_map<pid_t, std::string> thread_names_;  // the name each thread was given
};

}  // namespace ct::node::record
