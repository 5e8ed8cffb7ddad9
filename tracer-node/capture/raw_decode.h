// RawDecoder: turns ftrace ring-buffer sub-buffers (pages read from per_cpu/cpuN/trace_pipe_raw)
// into TraceEvents, using the event formats in a libtraceevent tep handle. Pure: bytes in,
// events out; no files. One decoder per capture, used by one thread at a time (tep lookups
// keep internal caches). Events come out in buffer order (timestamp order within one CPU);
// comm is left empty (the caller knows the tasks).
// Syscall events get the text path's names and shapes: "sys_enter_<name>" with details
// "arg: 0x..., ..." and fields {"nr", "args": {arg: "0x..."}}; "sys_exit_<name>" with details
// "0x<ret>" and fields {"nr", "ret"}. Other events: details as ftrace prints them, numeric
// fields by name.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tracer-node/export/trace_event.h"

struct tep_handle;
struct tep_event;
struct kbuffer;

namespace ct::node {

struct DecodeCounts {
    std::size_t events = 0;     // records decoded into events
    std::size_t unknown = 0;    // records whose event type the formats don't know
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
    // Counts the records in a sub-buffer without decoding them (for exact drop accounting).
    // Uses its own reader state: may run on one other thread concurrently with decode().
    std::size_t count(const void* subbuf, std::size_t size);
    // Bytes of the sub-buffer header (timestamp + commit); data follows.
    std::size_t header_size() const;

private:
    struct FieldInfo {
        std::string name;
        int offset = 0;
        int size = 0;
        bool is_signed = false;
        bool is_string = false;  // char array or dynamic string: decoded as text
        bool is_dynamic = false;
    };
    struct EventInfo {
        enum class Kind { kEnter, kExit, kOther } kind = Kind::kOther;
        std::string name;  // as exported
        tep_event* event = nullptr;
        int pid_offset = -1, pid_size = 0;
        int nr_offset = -1;
        int ret_offset = -1, ret_size = 0;
        std::vector<FieldInfo> fields;  // syscall args (enter) or all own fields (other)
    };

    RawDecoder(tep_handle* tep, kbuffer* kbuf, kbuffer* count_kbuf);
    // `subbuf` copied into `scratch` with room to spare and its commit field cut to the bytes we
    // hold: kbuffer trusts a sub-buffer's own lengths. Null when too short for a header.
    void* bounded(const void* subbuf, std::size_t size, std::vector<char>& scratch) const;
    int commit_size() const;  // bytes of the sub-buffer header's commit field (a long)
    const EventInfo* info_for(int type);
    void fill(const EventInfo& info, int cpu, unsigned long long ts, void* data, int size, TraceEvent& e);

    tep_handle* tep_;
    kbuffer* kbuf_;
    kbuffer* count_kbuf_;
    int type_offset_ = 0, type_size_ = 2;
    std::unordered_map<int, std::unique_ptr<EventInfo>> infos_;  // nullptr value = unknown type
    const EventInfo* last_ = nullptr;  // most records repeat the previous type
    std::vector<char> scratch_, count_scratch_;  // for decode() and count() respectively
    int last_type_ = -1;
};

}  // namespace ct::node
