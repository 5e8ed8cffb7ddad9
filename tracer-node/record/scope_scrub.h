// scope_scrub: keeps events outside a session's containers out of its recording's exports
// (issue 14.1; docs/viewers.md "Scope"). The recorder keeps pages as the kernel wrote them, before
// anything is decoded, so an event the capture later judged out of scope (a PID that is not the
// node's in set_event_pid, a task whose container is not the session's) is still in its page. The
// capture reports those events (Exporter::export_out_of_scope); the recorder keeps them as spans
// of time per task (excluded.jsonl), and each export hides the records they cover:
// trace.json drops them, trace.dat gets the page with each one rewritten as a discarded record
// (ring-buffer padding of the same length, its bytes zeroed), which trace-cmd and our decoder skip.
// Pure, no I/O.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace ct::node::record {

// Events of task `tid` from `from_ns` to `to_ns` (trace clock, inclusive) are out of scope.
struct ExcludedSpan {
    pid_t tid = 0;
    std::uint64_t from_ns = 0;
    std::uint64_t to_ns = 0;
    bool operator==(const ExcludedSpan&) const = default;
};

std::string encode_excluded(const ExcludedSpan& span);  // one JSON object, no newline
Result<ExcludedSpan> decode_excluded(std::string_view line);

// Spans made from a run's events in time order: an out-of-scope event of a task grows its open
// span (or opens one); an exported event of it closes it. Not thread-safe: its owner's lock.
class ExcludedSpanBuilder {
public:
    explicit ExcludedSpanBuilder(std::vector<ExcludedSpan> spans = {}) : spans_(std::move(spans)) {}
    // Returns the index in spans() of the span grown.
    std::size_t out_of_scope(pid_t tid, std::uint64_t ts);
    void in_scope(pid_t tid) {
        if (!open_.empty()) open_.erase(tid);
    }
    void close_all() { open_.clear(); }
    const std::vector<ExcludedSpan>& spans() const { return spans_; }

private:
    std::vector<ExcludedSpan> spans_;
    std::unordered_map<pid_t, std::size_t> open_;  // tid -> its span still growing
};

// The spans of one run, looked up by task and time. Immutable once made.
class ExcludedEvents {
public:
    ExcludedEvents() = default;
    explicit ExcludedEvents(const std::vector<ExcludedSpan>& spans);
    bool empty() const { return by_tid_.empty(); }
    bool contains(pid_t tid, std::uint64_t ts) const;

private:
    std::unordered_map<pid_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> by_tid_;  // sorted, merged
};

// Rewrites, in place, each data record of the sub-buffer `page` whose task (the common_pid field
// at `pid_offset` of its body) and timestamp `excluded` contains, as a discarded record of the same
// length whose bytes after its length word are zeroed. Timestamps of the other records stay as
// they were: a rewritten record keeps its time delta, except that a discarded record needs a delta
// of at least 1 ns, which the following records give back (only a run of records all 0 ns apart
// can end up 1 ns late). Returns how many records were rewritten.
std::size_t scrub_page(char* page, std::size_t size, int commit_bytes, int pid_offset, const ExcludedEvents& excluded);

// Bytes of the sub-buffer header's commit field, from the ring buffer's header_page text: 8 (a long
// on 64-bit kernels) unless it says 4.
int commit_bytes_of(std::string_view header_page);

// Where common_pid is in the records of these formats (each event's format text), or -1 when the
// formats disagree or do not say.
int common_pid_offset(const std::vector<std::string>& format_texts);

}  // namespace ct::node::record
