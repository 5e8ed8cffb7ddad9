// RawDecoder: turns ftrace ring-buffer sub-buffers (pages read from per_cpu/cpuN/trace_pipe_raw)
// into TraceEvents, using the event formats in a libtraceevent tep handle. Pure: bytes in,
// events out; no files. One decoder per capture, used by one thread at a time (tep lookups
// keep internal caches). Events come out in buffer order (timestamp order within one CPU);
// comm is left empty (the caller knows the tasks). The decoder owns the EventTypes its events
// point to: it must outlive them (docs/architecture.md, "One event, from the kernel to a user").
// Syscall events get the text path's names and shapes: "sys_enter_<name>" with fields
// {"nr", "args": {arg: "0x..."}} and details "arg: 0x..., ..."; "sys_exit_<name>" with fields
// {"nr", "ret"} (signed) and details "0x<ret>". Nothing is formatted while decoding: the values
// are packed and the JSON writer prints them (no allocation per syscall event).
// Every other event: details as ftrace prints them (tep_print_event), and every field of its
// format by name: integers as numbers (signed as the format says), char arrays and
// __data_loc/__rel_loc char[] as strings, other arrays as arrays of numbers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tracer-node/export/trace_event.h"

struct tep_handle;
struct tep_event;
struct trace_seq;

namespace ct::node {

struct DecodeCounts {
    std::size_t events = 0;     // records decoded into events
    std::size_t unknown = 0;    // records whose event type the formats don't know, or too short for their format
    std::size_t missed = 0;     // events the kernel reports lost before this sub-buffer
};

// One event's format file text (events/<system>/<name>/format) and where it came from: the text
// does not name its system, and errors name the event.
struct EventFormat {
    std::string system;
    std::string name;
    std::string text;
};

class RawDecoder {
public:
    // Takes ownership of `tep` (which must have parsed header_page). kInvalidArgument when null.
    static Result<std::unique_ptr<RawDecoder>> create(tep_handle* tep);
    // A decoder from format texts: the ring buffer's header_page, then each event's format.
    // kInvalidArgument naming the first text that does not parse.
    static Result<std::unique_ptr<RawDecoder>> from_formats(std::string_view header_page,
                                                            const std::vector<EventFormat>& formats);
    ~RawDecoder();
    RawDecoder(const RawDecoder&) = delete;
    RawDecoder& operator=(const RawDecoder&) = delete;

    // Decodes one sub-buffer of `cpu`; appends to `out`. A malformed sub-buffer yields what
    // could be read before the damage.
    DecodeCounts decode(int cpu, const void* subbuf, std::size_t size, std::vector<TraceEvent>& out);
    // Counts the records in a sub-buffer without decoding them (for exact drop accounting),
    // leaving out those of skip_in_count's events. Reads nothing decode() changes: may run on
    // another thread concurrently with decode().
    std::size_t count(const void* subbuf, std::size_t size) const;
    // Events count() leaves out: those the capture consumes itself and never delivers (the
    // hook's lifecycle bookkeeping), so a dropped one is no lost event. Before any count().
    void skip_in_count(const std::set<std::string>& event_names);
    // Bytes of the sub-buffer header (timestamp + commit); data follows.
    std::size_t header_size() const;

private:
    // Where one exported field is in a record and how it is read.
    struct FieldPlan {
        int offset = 0;
        int size = 0;          // of the field in the record (4 for a dynamic one's locator)
        int element_size = 0;  // arrays: bytes per element
        bool is_signed = false;
        bool dynamic = false;   // __data_loc: the field locates the data (offset | length << 16)
        bool relative = false;  // __rel_loc: that offset counts from the field's end
        FieldKind kind = FieldKind::kSigned;
    };
    struct EventInfo {
        std::unique_ptr<EventType> type;
        tep_event* event = nullptr;
        int pid_offset = -1, pid_size = 0;
        int min_size = 0;  // bytes a record needs for every fixed field of the format
        std::vector<std::pair<int, bool>> locators;  // dynamic fields: (offset, __rel_loc)
        std::vector<FieldPlan> plans;  // one per type->fields(), in order
    };

    explicit RawDecoder(tep_handle* tep);
    int commit_size() const;  // bytes of the sub-buffer header's commit field (a long)
    const EventInfo* info_for(int type);
    std::unique_ptr<EventInfo> make_info(tep_event* ev) const;
    // False (nothing appended) for a record too short for its format.
    bool fill(const EventInfo& info, int cpu, std::uint64_t ts, const char* data, int size, TraceEvent& e);
    // The details text as ftrace prints the record, packed first.
    // (Empty when a dynamic field's locator points outside the record.)
    void pack_details(const EventInfo& info, int cpu, std::uint64_t ts, const char* data, int size, PackedValues& v);

    tep_handle* tep_;
    int type_offset_ = 0, type_size_ = 2;
    std::unordered_map<int, std::unique_ptr<EventInfo>> infos_;  // nullptr value = unknown type
    const EventInfo* last_ = nullptr;  // most records repeat the previous type
    std::unique_ptr<trace_seq> seq_;  // reused for tep_print_event
    int last_type_ = -1;
    std::vector<int> uncounted_;  // type ids count() leaves out; fixed before threads use it
};

}  // namespace ct::node
