#include "tracer-node/capture/raw_decode.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <traceevent/event-parse.h>
#include <traceevent/trace-seq.h>

#include "common/strings.h"
#include "common/target_events.h"
#include "tracer-node/capture/page_reader.h"

namespace ct::node {
namespace {

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

}  // namespace

Result<std::unique_ptr<RawDecoder>> RawDecoder::create(tep_handle* tep) {
    if (!tep) return fail(Errc::kInvalidArgument, "no event formats to decode raw trace buffers with");
    return std::unique_ptr<RawDecoder>(new RawDecoder(tep));
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

RawDecoder::RawDecoder(tep_handle* tep) : tep_(tep), seq_(std::make_unique<trace_seq>()) {
    trace_seq_init(seq_.get());
}

RawDecoder::~RawDecoder() {
    trace_seq_destroy(seq_.get());
    tep_free(tep_);
}

// The u64 timestamp, then the commit field (header_page).
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
        // Every field of the format must be in the record (tep_print_event reads them all), and
        // every dynamic one is checked before printing.
        info->min_size = std::max(info->min_size, f->offset + f->size);
        if ((f->flags & TEP_FIELD_IS_DYNAMIC) && f->size == 4)
            info->locators.emplace_back(f->offset, (f->flags & TEP_FIELD_IS_RELATIVE) != 0);
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
    // A target-scoped event (common/target_events.h) is about the task its target field names.
    const auto subject = target_field(ev->system ? ev->system : "", name).value_or("");
    info->type = std::make_unique<EventType>(ev->name, std::move(fields), details, subject);
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

void RawDecoder::pack_details(const EventInfo& info, int cpu, std::uint64_t ts, const char* data, int size,
                              PackedValues& v) {
    // libtraceevent follows a record's dynamic fields wherever their locators point: only when
    // all lie inside the record is it printed.
    for (const auto& [offset, relative] : info.locators) {
        auto loc = static_cast<std::uint32_t>(read_unsigned(data + offset, 4));
        auto start = (loc & 0xffff) + (relative ? static_cast<std::uint32_t>(offset) + 4 : 0);
        if (start + (loc >> 16) > static_cast<std::uint32_t>(size)) {
            v.add_string("");
            return;
        }
    }
    tep_record record{};
    record.ts = ts;
    record.size = size;
    record.data = const_cast<char*>(data);  // only read
    record.cpu = cpu;
    trace_seq_reset(seq_.get());
    tep_print_event(tep_, seq_.get(), &record, "%s", TEP_PRINT_INFO);
    trace_seq_terminate(seq_.get());
    add_text(v, std::string_view(seq_->buffer, seq_->len));
}

bool RawDecoder::fill(const EventInfo& info, int cpu, std::uint64_t ts, const char* data, int size, TraceEvent& e) {
    if (size < info.min_size) return false;
    const char* p = data;
    e.timestamp_ns = ts;
    e.cpu = cpu;
    e.type = info.type.get();
    if (info.pid_offset >= 0) e.pid = static_cast<pid_t>(read_signed(p + info.pid_offset, info.pid_size));
    auto& v = e.values;
    if (info.type->details() == EventType::Details::kStored) pack_details(info, cpu, ts, data, size, v);
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

DecodeCounts RawDecoder::decode(int cpu, const void* subbuf, std::size_t size, std::vector<TraceEvent>& out) {
    DecodeCounts counts;
    PageReader page(static_cast<const char*>(subbuf), size, commit_size());
    counts.missed = static_cast<std::size_t>(std::max(0LL, page.missed()));
    const char* body = nullptr;
    std::size_t length = 0;
    std::uint64_t ts = 0;
    while (page.next(body, length, ts)) {
        const int len = static_cast<int>(length);
        const EventInfo* info = len >= type_offset_ + type_size_
                                    ? info_for(static_cast<int>(read_unsigned(body + type_offset_, type_size_)))
                                    : nullptr;
        if (!info || !fill(*info, cpu, ts, body, len, out.emplace_back())) {
            if (info) out.pop_back();
            ++counts.unknown;
            continue;
        }
        ++counts.events;
    }
    return counts;
}

std::size_t RawDecoder::count(const void* subbuf, std::size_t size) const {
    PageReader page(static_cast<const char*>(subbuf), size, commit_size());
    const char* body = nullptr;
    std::size_t length = 0;
    std::uint64_t ts = 0;
    std::size_t n = 0;
    while (page.next(body, length, ts)) {
        if (!uncounted_.empty() && length >= static_cast<std::size_t>(type_offset_ + type_size_) &&
            std::ranges::find(uncounted_, static_cast<int>(read_unsigned(body + type_offset_, type_size_))) !=
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
