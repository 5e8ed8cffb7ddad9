#include "tracer-node/capture/raw_decode.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <traceevent/event-parse.h>
#include <traceevent/trace-seq.h>

// kbuffer.h, unlike event-parse.h, has no extern "C" of its own.
extern "C" {
#include <traceevent/kbuffer.h>
}

#include "common/strings.h"

namespace ct::node {
namespace {

std::uint64_t read_unsigned(const char* p, int size) {
    switch (size) {
        case 1: return static_cast<std::uint8_t>(*p);
        case 2: { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
        case 4: { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
        case 8: { std::uint64_t v; std::memcpy(&v, p, 8); return v; }
        default: return 0;
    }
}

std::int64_t read_signed(const char* p, int size) {
    switch (size) {
        case 1: return static_cast<std::int8_t>(*p);
        case 2: { std::int16_t v; std::memcpy(&v, p, 2); return v; }
        case 4: { std::int32_t v; std::memcpy(&v, p, 4); return v; }
        case 8: { std::int64_t v; std::memcpy(&v, p, 8); return v; }
        default: return 0;
    }
}

// "0x" + lower-case hex, as the kernel's "0x%lx".
void append_hex(std::string& out, std::uint64_t v) {
    char buf[20] = {'0', 'x'};
    auto [end, ec] = std::to_chars(buf + 2, buf + sizeof buf, v, 16);
    out.append(buf, end);
}

// True when the reader moved past the previous record (`last`, updated). A damaged record can
// make kbuffer return the same record forever.
bool advanced(kbuffer* kbuf, int& last) {
    int index = kbuffer_curr_index(kbuf);
    if (index <= last) return false;
    last = index;
    return true;
}

}  // namespace

Result<std::unique_ptr<RawDecoder>> RawDecoder::create(tep_handle* tep) {
    if (!tep) return fail(Errc::kInvalidArgument, "no event formats to decode raw trace buffers with");
    kbuffer* kbuf = tep_kbuffer(tep);
    kbuffer* count_kbuf = tep_kbuffer(tep);
    if (!kbuf || !count_kbuf) {
        if (kbuf) kbuffer_free(kbuf);
        if (count_kbuf) kbuffer_free(count_kbuf);
        tep_free(tep);
        return fail(Errc::kInternal, "cannot set up a ring-buffer reader for the event formats");
    }
    return std::unique_ptr<RawDecoder>(new RawDecoder(tep, kbuf, count_kbuf));
}

Result<std::unique_ptr<RawDecoder>> RawDecoder::from_formats(std::string_view header_page,
                                                             const std::vector<EventFormat>& formats) {
    tep_handle* tep = tep_alloc();
    if (!tep) return fail(Errc::kInternal, "tep_alloc failed");
    tep_set_long_size(tep, sizeof(long));
    tep_set_file_bigendian(tep, TEP_LITTLE_ENDIAN);
    tep_set_local_bigendian(tep, TEP_LITTLE_ENDIAN);
    std::string header(header_page);
    if (tep_parse_header_page(tep, header.data(), header.size(), sizeof(long)) != 0) {
        tep_free(tep);
        return fail(Errc::kInvalidArgument, "cannot parse header_page");
    }
    for (const auto& f : formats) {
        if (tep_parse_event(tep, f.text.data(), f.text.size(), f.system.c_str()) != 0) {
            tep_free(tep);
            return fail(Errc::kInvalidArgument,
                        fmt::format("cannot parse the format of event \"{}:{}\"", f.system, f.name));
        }
    }
    return create(tep);
}

RawDecoder::RawDecoder(tep_handle* tep, kbuffer* kbuf, kbuffer* count_kbuf)
    : tep_(tep), kbuf_(kbuf), count_kbuf_(count_kbuf) {}

RawDecoder::~RawDecoder() {
    kbuffer_free(kbuf_);
    kbuffer_free(count_kbuf_);
    tep_free(tep_);
}

// The u64 timestamp, then the commit field (header_page). Not kbuffer_start_of_data(): that is
// only set once a sub-buffer has been loaded.
std::size_t RawDecoder::header_size() const { return 8 + static_cast<std::size_t>(commit_size()); }

int RawDecoder::commit_size() const {
    int size = tep_get_header_page_size(tep_);
    return size == 4 ? 4 : 8;
}

const RawDecoder::EventInfo* RawDecoder::info_for(int type) {
    if (type == last_type_) return last_;
    auto it = infos_.find(type);
    if (it == infos_.end()) {
        std::unique_ptr<EventInfo> info;
        if (tep_event* ev = tep_find_event(tep_, type)) {
            info = std::make_unique<EventInfo>();
            info->event = ev;
            info->name = ev->name;
            std::string_view name = ev->name;
            bool syscalls = ev->system && std::string_view(ev->system) == "syscalls";
            if (syscalls && name.starts_with("sys_enter_")) info->kind = EventInfo::Kind::kEnter;
            if (syscalls && name.starts_with("sys_exit_")) info->kind = EventInfo::Kind::kExit;
            if (auto* pid = tep_find_common_field(ev, "common_pid")) {
                info->pid_offset = pid->offset;
                info->pid_size = pid->size;
            }
            for (tep_format_field* f = ev->format.fields; f; f = f->next) {
                std::string_view fname = f->name;
                if (info->kind != EventInfo::Kind::kOther && fname == "__syscall_nr") {
                    info->nr_offset = f->offset;
                    continue;
                }
                if (info->kind == EventInfo::Kind::kExit) {
                    if (fname == "ret") {
                        info->ret_offset = f->offset;
                        info->ret_size = f->size;
                    }
                    continue;
                }
                FieldInfo fi{f->name, f->offset, f->size, (f->flags & TEP_FIELD_IS_SIGNED) != 0,
                             (f->flags & TEP_FIELD_IS_STRING) != 0 ||
                                 ((f->flags & TEP_FIELD_IS_ARRAY) && f->elementsize == 1),
                             (f->flags & TEP_FIELD_IS_DYNAMIC) != 0};
                info->fields.push_back(std::move(fi));
            }
        }
        it = infos_.emplace(type, std::move(info)).first;
    }
    last_type_ = type;
    last_ = it->second.get();
    return last_;
}

void RawDecoder::fill(const EventInfo& info, int cpu, unsigned long long ts, void* data, int size, TraceEvent& e) {
    const char* p = static_cast<const char*>(data);
    e.timestamp_ns = ts;
    e.cpu = cpu;
    if (info.pid_offset >= 0 && info.pid_offset + info.pid_size <= size)
        e.pid = static_cast<pid_t>(read_signed(p + info.pid_offset, info.pid_size));
    switch (info.kind) {
        case EventInfo::Kind::kEnter: {
            e.event = info.name;
            e.fields.reserve(2);  // no rehash as members go in
            boost::json::object args(info.fields.size());
            for (const auto& f : info.fields) {
                if (f.offset + f.size > size) break;
                if (!e.details.empty()) e.details += ", ";
                e.details += f.name;
                e.details += ": ";
                auto start = e.details.size();
                append_hex(e.details, read_unsigned(p + f.offset, f.size));
                args[f.name] = std::string_view(e.details).substr(start);
            }
            if (info.nr_offset >= 0 && info.nr_offset + 4 <= size) e.fields["nr"] = read_signed(p + info.nr_offset, 4);
            if (!args.empty()) e.fields["args"] = std::move(args);
            return;
        }
        case EventInfo::Kind::kExit: {
            e.event = info.name;
            e.fields.reserve(2);
            if (info.nr_offset >= 0 && info.nr_offset + 4 <= size) e.fields["nr"] = read_signed(p + info.nr_offset, 4);
            if (info.ret_offset >= 0 && info.ret_offset + info.ret_size <= size) {
                auto ret = read_signed(p + info.ret_offset, info.ret_size);
                append_hex(e.details, static_cast<std::uint64_t>(ret));
                e.fields["ret"] = ret;
            }
            return;
        }
        case EventInfo::Kind::kOther: {
            e.event = info.name;
            tep_record record{};
            record.ts = ts;
            record.size = size;
            record.data = data;
            record.cpu = cpu;
            trace_seq seq;
            trace_seq_init(&seq);
            tep_print_event(tep_, &seq, &record, "%s", TEP_PRINT_INFO);
            trace_seq_terminate(&seq);
            // String fields (task names, file names) are whatever bytes a process chose.
            e.details = to_valid_utf8(std::string_view(seq.buffer, seq.len));
            trace_seq_destroy(&seq);
            for (const auto& f : info.fields) {
                if (f.is_dynamic || f.offset + f.size > size) continue;
                if (f.is_string) {
                    std::string_view s(p + f.offset, static_cast<std::size_t>(f.size));
                    e.fields[f.name] = to_valid_utf8(s.substr(0, s.find('\0')));
                } else if (f.size <= 8) {
                    if (f.is_signed) e.fields[f.name] = read_signed(p + f.offset, f.size);
                    else e.fields[f.name] = read_unsigned(p + f.offset, f.size);
                }
            }
            return;
        }
    }
}

void* RawDecoder::bounded(const void* subbuf, std::size_t size, std::vector<char>& scratch) const {
    // kbuffer's view of the commit field (kbuffer-parse.c): data length in the low 27 bits; with
    // both flags, a lost-events count stored after the data.
    constexpr std::uint64_t kCommitMask = (1U << 27) - 1, kMissing = 1ULL << 31, kStored = 1ULL << 30;
    constexpr std::size_t kCommitOffset = 8, kSlack = 16;  // slack: a record header read at the end
    const std::size_t header = header_size();
    const auto commit_bytes = static_cast<std::size_t>(commit_size());
    if (size < header) return nullptr;
    scratch.resize(size + kSlack);  // keeps its capacity from page to page
    std::memcpy(scratch.data(), subbuf, size);
    std::memset(scratch.data() + size, 0, kSlack);
    std::uint64_t commit = 0;  // little-endian host (set in from_formats/create's tep)
    std::memcpy(&commit, scratch.data() + kCommitOffset, commit_bytes);
    std::size_t need = header + (commit & kCommitMask) + ((commit & kMissing) && (commit & kStored) ? commit_bytes : 0);
    if (need > size) {
        commit = size - header;  // what we hold, without the (unreadable) lost-events count
        std::memcpy(scratch.data() + kCommitOffset, &commit, commit_bytes);
    }
    return scratch.data();
}

DecodeCounts RawDecoder::decode(int cpu, const void* subbuf, std::size_t size, std::vector<TraceEvent>& out) {
    DecodeCounts counts;
    void* page = bounded(subbuf, size, scratch_);
    if (!page || kbuffer_load_subbuffer(kbuf_, page) != 0) return counts;
    const char* end = static_cast<const char*>(page) + size;
    int last = -1;
    counts.missed = static_cast<std::size_t>(std::max(0, kbuffer_missed_events(kbuf_)));
    unsigned long long ts = 0;
    for (void* data = kbuffer_read_event(kbuf_, &ts); data && advanced(kbuf_, last); data = kbuffer_next_event(kbuf_, &ts)) {
        // A record may claim more bytes than the sub-buffer has left.
        int len = static_cast<int>(std::min<std::ptrdiff_t>(kbuffer_event_size(kbuf_), end - static_cast<char*>(data)));
        if (len < type_offset_ + type_size_) {
            ++counts.unknown;
            continue;
        }
        int type = static_cast<int>(read_unsigned(static_cast<const char*>(data) + type_offset_, type_size_));
        const EventInfo* info = info_for(type);
        if (!info) {
            ++counts.unknown;
            continue;
        }
        fill(*info, cpu, ts, data, len, out.emplace_back());
        ++counts.events;
    }
    return counts;
}

std::size_t RawDecoder::count(const void* subbuf, std::size_t size) {
    void* page = bounded(subbuf, size, count_scratch_);
    if (!page || kbuffer_load_subbuffer(count_kbuf_, page) != 0) return 0;
    std::size_t n = 0;
    unsigned long long ts = 0;
    int last = -1;
    for (void* data = kbuffer_read_event(count_kbuf_, &ts); data && advanced(count_kbuf_, last);
         data = kbuffer_next_event(count_kbuf_, &ts))
        ++n;
    return n;
}

}  // namespace ct::node
