#include "tracer-node/capture/raw_decode.h"

#include <algorithm>
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

std::uint64_t read_int(const char* p, int size, bool is_signed) {
    return is_signed ? static_cast<std::uint64_t>(read_signed(p, size)) : read_unsigned(p, size);
}

bool valid_int_size(int size) { return size == 1 || size == 2 || size == 4 || size == 8; }

// Event strings are whatever bytes a process chose; the exported JSON must be UTF-8.
void add_text(PackedValues& v, std::string_view text) {
    if (valid_utf8_prefix(text) == text.size()) v.add_string(text);
    else v.add_string(to_valid_utf8(text));
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
    : tep_(tep), kbuf_(kbuf), count_kbuf_(count_kbuf), seq_(std::make_unique<trace_seq>()) {
    trace_seq_init(seq_.get());
}

RawDecoder::~RawDecoder() {
    trace_seq_destroy(seq_.get());
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

std::unique_ptr<RawDecoder::EventInfo> RawDecoder::make_info(tep_event* ev) const {
    auto info = std::make_unique<EventInfo>();
    info->event = ev;
    std::string_view name = ev->name;
    const bool syscalls = ev->system && std::string_view(ev->system) == "syscalls";
    const bool enter = syscalls && name.starts_with("sys_enter_");
    const bool exit = syscalls && name.starts_with("sys_exit_");
    if (auto* pid = tep_find_common_field(ev, "common_pid"); pid && valid_int_size(pid->size)) {
        info->pid_offset = pid->offset;
        info->pid_size = pid->size;
        info->min_size = pid->offset + pid->size;
    }
    std::vector<EventField> fields;
    auto add = [&](std::string field_name, FieldKind kind, bool arg, FieldPlan plan) {
        fields.push_back({std::move(field_name), kind, arg});
        plan.kind = kind;
        info->plans.push_back(plan);
        info->min_size = std::max(info->min_size, plan.offset + plan.size);
    };
    for (tep_format_field* f = ev->format.fields; f; f = f->next) {
        std::string_view fname = f->name;
        FieldPlan plan{.offset = f->offset, .size = f->size, .is_signed = (f->flags & TEP_FIELD_IS_SIGNED) != 0};
        if (enter || exit) {
            // Syscall events: the number, then the arguments (unsigned longs, hex as ftrace
            // prints them) or the return value (signed).
            if (fname == "__syscall_nr") {
                if (!valid_int_size(f->size)) continue;
                plan.is_signed = true;
                add("nr", FieldKind::kSigned, false, plan);
            } else if (enter && valid_int_size(f->size)) {
                plan.is_signed = false;
                add(f->name, FieldKind::kHex, true, plan);
            } else if (exit && fname == "ret" && valid_int_size(f->size)) {
                plan.is_signed = true;
                add("ret", FieldKind::kSigned, false, plan);
            }
            continue;
        }
        const bool array = (f->flags & TEP_FIELD_IS_ARRAY) != 0;
        const bool dynamic = (f->flags & TEP_FIELD_IS_DYNAMIC) != 0;
        // Text is what the C type says is text: char arrays. libtraceevent also calls u8 arrays
        // strings; those are bytes (addresses, hashes) and export as numbers.
        const bool text = array && f->type && std::string_view(f->type).find("char") != std::string_view::npos;
        if (dynamic) {
            if (f->size != 4) continue;  // the locator: u16 offset | u16 length << 16
            plan.dynamic = true;
            plan.relative = (f->flags & TEP_FIELD_IS_RELATIVE) != 0;
            if (text) {
                add(f->name, FieldKind::kString, false, plan);
            } else if (valid_int_size(static_cast<int>(f->elementsize))) {
                plan.element_size = static_cast<int>(f->elementsize);
                add(f->name, plan.is_signed ? FieldKind::kSignedArray : FieldKind::kUnsignedArray, false, plan);
            }
        } else if (text) {
            add(f->name, FieldKind::kString, false, plan);
        } else if (array) {
            int element = f->arraylen ? f->size / static_cast<int>(f->arraylen) : 0;
            if (!valid_int_size(element)) continue;
            plan.element_size = element;
            add(f->name, plan.is_signed ? FieldKind::kSignedArray : FieldKind::kUnsignedArray, false, plan);
        } else if (valid_int_size(f->size)) {
            add(f->name, plan.is_signed ? FieldKind::kSigned : FieldKind::kUnsigned, false, plan);
        }
        // Anything else (a struct of odd size) has no faithful JSON form: details show it.
    }
    auto details = enter ? EventType::Details::kArgs : exit ? EventType::Details::kReturn : EventType::Details::kStored;
    info->type = std::make_unique<EventType>(ev->name, std::move(fields), details);
    return info;
}

const RawDecoder::EventInfo* RawDecoder::info_for(int type) {
    if (type == last_type_) return last_;
    auto it = infos_.find(type);
    if (it == infos_.end()) {
        tep_event* ev = tep_find_event(tep_, type);
        it = infos_.emplace(type, ev ? make_info(ev) : nullptr).first;
    }
    last_type_ = type;
    last_ = it->second.get();
    return last_;
}

void RawDecoder::pack_details(int cpu, unsigned long long ts, void* data, int size,
                              PackedValues& v) {
    tep_record record{};
    record.ts = ts;
    record.size = size;
    record.data = data;
    record.cpu = cpu;
    trace_seq_reset(seq_.get());
    tep_print_event(tep_, seq_.get(), &record, "%s", TEP_PRINT_INFO);
    trace_seq_terminate(seq_.get());
    add_text(v, std::string_view(seq_->buffer, seq_->len));
}

bool RawDecoder::fill(const EventInfo& info, int cpu, unsigned long long ts, void* data, int size, TraceEvent& e) {
    if (size < info.min_size) return false;
    const char* p = static_cast<const char*>(data);
    e.timestamp_ns = ts;
    e.cpu = cpu;
    e.type = info.type.get();
    if (info.pid_offset >= 0) e.pid = static_cast<pid_t>(read_signed(p + info.pid_offset, info.pid_size));
    auto& v = e.values;
    if (info.type->details() == EventType::Details::kStored) pack_details(cpu, ts, data, size, v);
    for (const auto& plan : info.plans) {
        switch (plan.kind) {
            case FieldKind::kSigned:
            case FieldKind::kUnsigned:
            case FieldKind::kHex: v.add_int(read_int(p + plan.offset, plan.size, plan.is_signed)); break;
            case FieldKind::kString:
            case FieldKind::kSignedArray:
            case FieldKind::kUnsignedArray: {
                int start = plan.offset, length = plan.size;
                if (plan.dynamic) {
                    auto loc = static_cast<std::uint32_t>(read_unsigned(p + plan.offset, 4));
                    start = static_cast<int>(loc & 0xffff) + (plan.relative ? plan.offset + plan.size : 0);
                    length = static_cast<int>(loc >> 16);
                }
                // The data must lie in the record; what does not is exported empty.
                if (start < 0 || length < 0 || start > size || length > size - start) length = 0;
                if (plan.kind == FieldKind::kString) {
                    std::string_view s(p + start, static_cast<std::size_t>(length));
                    add_text(v, s.substr(0, s.find('\0')));
                } else {
                    auto count = static_cast<std::uint32_t>(length / plan.element_size);
                    char* out = v.add_array(count);
                    for (std::uint32_t i = 0; i < count; ++i) {
                        auto x = read_int(p + start + i * plan.element_size, plan.element_size, plan.is_signed);
                        std::memcpy(out + 8 * i, &x, 8);
                    }
                }
                break;
            }
        }
    }
    return true;
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
        if (!info || !fill(*info, cpu, ts, data, len, out.emplace_back())) {
            if (info) out.pop_back();
            ++counts.unknown;
            continue;
        }
        ++counts.events;
    }
    return counts;
}

std::size_t RawDecoder::count(const void* subbuf, std::size_t size) {
    void* page = bounded(subbuf, size, count_scratch_);
    if (!page || kbuffer_load_subbuffer(count_kbuf_, page) != 0) return 0;
    const char* end = static_cast<const char*>(page) + size;
    std::size_t n = 0;
    unsigned long long ts = 0;
    int last = -1;
    for (void* data = kbuffer_read_event(count_kbuf_, &ts); data && advanced(count_kbuf_, last);
         data = kbuffer_next_event(count_kbuf_, &ts)) {
        const char* record = static_cast<const char*>(data);
        if (!uncounted_.empty() && end - record >= type_offset_ + type_size_ &&
            std::ranges::find(uncounted_, static_cast<int>(read_unsigned(record + type_offset_, type_size_))) !=
                uncounted_.end())
            continue;
        ++n;
    }
    return n;
}

void RawDecoder::skip_in_count(const std::set<std::string>& event_names) {
    uncounted_.clear();
    for (int i = 0; i < tep_get_events_count(tep_); ++i)
        if (tep_event* ev = tep_get_event(tep_, i); ev && event_names.contains(ev->name)) uncounted_.push_back(ev->id);
}

}  // namespace ct::node
