#include "tracer-node/export/trace_event.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace ct::node {

namespace {

// Which bytes a JSON string must escape, and how: 0 = as is, 'u' = \u00xx, else the letter
// after the backslash. Boost.JSON's serializer escapes exactly these.
constexpr std::array<char, 256> kEscape = [] {
    std::array<char, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = 'u';
    t['"'] = '"';
    t['\\'] = '\\';
    t['\b'] = 'b';
    t['\f'] = 'f';
    t['\n'] = 'n';
    t['\r'] = 'r';
    t['\t'] = 't';
    return t;
}();

// Writes into memory reserved beforehand (EventJsonWriter::append bounds every event's size).
struct Cursor {
    char* p;

    void put(char c) { *p++ = c; }
    void put(std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    // The content of a JSON string literal (no quotes): at most 6 bytes per input byte.
    void put_escaped(std::string_view s) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::size_t plain = 0;  // start of the run of bytes that need no escape
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            char e = kEscape[c];
            if (!e) continue;
            put(s.substr(plain, i - plain));
            plain = i + 1;
            *p++ = '\\';
            if (e != 'u') {
                *p++ = e;
            } else {
                put("u00");
                *p++ = kHex[c >> 4];
                *p++ = kHex[c & 0xf];
            }
        }
        put(s.substr(plain));
    }
    void put_string(std::string_view s) {
        put('"');
        put_escaped(s);
        put('"');
    }
    template <class Int>
    void put_int(Int v) {
        p = std::to_chars(p, p + 24, v).ptr;
    }
    // "0x" + lower-case hex, as the kernel's "0x%lx".
    void put_hex(std::uint64_t v) {
        put("0x");
        p = std::to_chars(p, p + 16, v, 16).ptr;
    }
    void put_array(std::string_view elements, bool is_signed) {
        put('[');
        for (std::size_t i = 0; i + 8 <= elements.size(); i += 8) {
            if (i) put(',');
            std::uint64_t v;
            std::memcpy(&v, elements.data() + i, 8);
            if (is_signed) put_int(static_cast<std::int64_t>(v));
            else put_int(v);
        }
        put(']');
    }
};

std::string escaped(std::string_view s) {
    std::string out(s.size() * 6, '\0');
    Cursor c{out.data()};
    c.put_escaped(s);
    out.resize(static_cast<std::size_t>(c.p - out.data()));
    return out;
}

// `member` is the literal key text, e.g. R"(,"task":)" (keys need no escaping).
void append_member(std::string& out, std::string_view member, std::string_view value) {
    out += member;
    out += '"';
    out += escaped(value);
    out += '"';
}

EventType::Lifecycle lifecycle_of(std::string_view name) {
    static_assert(kLifecycleEvents.size() == 3);
    if (name == kLifecycleEvents[0]) return EventType::Lifecycle::kFork;
    if (name == kLifecycleEvents[1]) return EventType::Lifecycle::kExec;
    if (name == kLifecycleEvents[2]) return EventType::Lifecycle::kExit;
    return EventType::Lifecycle::kNone;
}

}  // namespace

EventType::EventType(std::string name, std::vector<EventField> fields, Details details)
    : name_(std::move(name)), fields_(std::move(fields)), details_(details), lifecycle_(lifecycle_of(name_)) {
    name_member_ = R"(,"event":")" + escaped(name_) + '"';
    bool first_arg = true;
    for (const auto& f : fields_) {
        keys_.push_back('"' + escaped(f.name) + "\":");
        arg_labels_.push_back((f.arg && !first_arg ? ", " : "") + escaped(f.name) + ": ");
        if (f.arg) first_arg = false;
        json_overhead_ += keys_.back().size() + arg_labels_.back().size();
    }
    json_overhead_ += name_member_.size();
}

int EventType::field_index(std::string_view name) const {
    for (std::size_t i = 0; i < fields_.size(); ++i)
        if (fields_[i].name == name) return static_cast<int>(i);
    return -1;
}

void PackedValues::add_string(std::string_view s) {
    auto n = static_cast<std::uint32_t>(s.size());
    char* p = grow(4 + s.size());
    std::memcpy(p, &n, 4);
    std::memcpy(p + 4, s.data(), s.size());
}

char* PackedValues::add_array(std::uint32_t count) {
    char* p = grow(4 + std::size_t{count} * 8);
    std::memcpy(p, &count, 4);
    return p + 4;
}

void PackedValues::reserve(std::size_t n) {
    std::size_t cap = std::max<std::size_t>(n, 2 * std::size_t{capacity_});
    auto bigger = std::make_unique<char[]>(cap);
    std::memcpy(bigger.get(), data(), size_);
    heap_ = std::move(bigger);
    capacity_ = static_cast<std::uint32_t>(cap);
}

void PackedValues::take(PackedValues& other) noexcept {
    size_ = other.size_;
    if (other.heap_) {
        heap_ = std::move(other.heap_);
        capacity_ = other.capacity_;
    } else {
        heap_.reset();
        capacity_ = kInline;
        std::memcpy(inline_, other.inline_, size_);
    }
    other.size_ = 0;
    other.capacity_ = kInline;
}

std::uint32_t ValueReader::next_length() {
    std::uint32_t n = 0;
    if (end_ - p_ >= 4) std::memcpy(&n, p_, 4);
    p_ += std::min<std::ptrdiff_t>(4, end_ - p_);
    return n;
}

std::string_view ValueReader::next_string() {
    std::size_t n = std::min<std::size_t>(next_length(), static_cast<std::size_t>(end_ - p_));
    std::string_view s(p_, n);
    p_ += n;
    return s;
}

std::string_view ValueReader::next_array() {
    std::size_t n = std::min<std::size_t>(std::size_t{next_length()} * 8, static_cast<std::size_t>(end_ - p_));
    std::string_view s(p_, n);
    p_ += n;
    return s;
}

std::string_view TraceEvent::name() const { return type ? std::string_view(type->name()) : std::string_view(); }

std::string TraceEvent::details() const {
    if (!type) return {};
    std::string out;
    switch (type->details()) {
        case EventType::Details::kStored: return std::string(ValueReader(values.bytes()).next_string());
        case EventType::Details::kArgs:
            visit_fields(*this, [&](const FieldValue& v) {
                if (!v.field->arg) return;
                if (!out.empty()) out += ", ";
                char buf[24];
                Cursor c{buf};
                c.put_hex(v.integer);
                out += v.field->name + ": " + std::string(buf, c.p);
            });
            return out;
        case EventType::Details::kReturn:
            visit_fields(*this, [&](const FieldValue& v) {
                if (v.field->name != "ret") return;
                char buf[24];
                Cursor c{buf};
                c.put_hex(v.integer);
                out.assign(buf, c.p);
            });
            return out;
    }
    return out;
}

EventJsonWriter::EventJsonWriter(const EventContext& c) {
    append_member(prefix_, R"({"node":)", c.node);
    append_member(prefix_, R"(,"session":)", c.session_id);
    append_member(prefix_, R"(,"hook":)", c.hook);
    append_member(prefix_, R"(,"context":)", c.user_context);
}

void EventJsonWriter::append(std::string& out, const TraceEvent& e, const EventOwner* owner) {
    if (!owner_set_ || owner != owner_) {
        owner_json_.clear();
        if (owner) {
            append_member(owner_json_, R"(,"pod":)", owner->pod);
            if (!owner->pod_namespace.empty()) append_member(owner_json_, R"(,"namespace":)", owner->pod_namespace);
            append_member(owner_json_, R"(,"container":)", owner->container);
        } else {
            owner_json_ = R"(,"pod":null,"container":null)";
        }
        owner_ = owner;
        owner_set_ = true;
    }
    if (!task_set_ || task_ != e.comm) {
        task_ = e.comm;
        task_json_.clear();
        append_member(task_json_, R"(,"task":)", e.comm);
        task_set_ = true;
    }
    static const EventType kNoType("", {}, EventType::Details::kStored);
    const EventType& type = e.type ? *e.type : kNoType;
    const std::string_view values = e.values.bytes();
    // Every piece below is bounded: numbers by their widths, texts by 6 bytes per byte (\u00xx),
    // and each packed integer (8 bytes) stands for at most 2 x 20 written bytes (its field and
    // its details).
    const std::size_t bound = prefix_.size() + owner_json_.size() + task_json_.size() + type.json_overhead() +
                              6 * values.size() + 192;
    const std::size_t start = out.size();
    out.resize_and_overwrite(start + bound, [&](char* buf, std::size_t) {
        Cursor c{buf + start};
        c.put(prefix_);
        c.put(owner_json_);
        c.put(task_json_);
        c.put(R"(,"pid":)");
        c.put_int(static_cast<std::int64_t>(e.pid));
        c.put(R"(,"cpu":)");
        c.put_int(static_cast<std::int64_t>(e.cpu));
        // Seconds as ftrace prints them, as text: a double would lose nanoseconds and print "1.8E3".
        c.put(R"(,"timestamp":")");
        c.put_int(e.timestamp_ns / 1'000'000'000ULL);
        char frac[10] = {'.', '0', '0', '0', '0', '0', '0', '0', '0', '0'};  // ".%09u"
        auto ns = e.timestamp_ns % 1'000'000'000ULL;
        for (int i = 9; ns; --i, ns /= 10) frac[i] = static_cast<char>('0' + ns % 10);
        c.put(std::string_view(frac, sizeof frac));
        c.put(R"(","timestamp_ns":)");
        c.put_int(e.timestamp_ns);
        c.put(type.name_member());

        ValueReader r(values);
        c.put(R"(,"details":")");
        switch (type.details()) {
            case EventType::Details::kStored: c.put_escaped(r.next_string()); break;
            case EventType::Details::kArgs: {
                ValueReader args(values);
                for (std::size_t i = 0; i < type.fields().size(); ++i) {
                    auto v = args.next_int();  // all fields of a raw syscall enter are integers
                    if (!type.fields()[i].arg) continue;
                    c.put(type.arg_label(i));
                    c.put_hex(v);
                }
                break;
            }
            case EventType::Details::kReturn: {
                ValueReader ret(values);
                for (std::size_t i = 0; i < type.fields().size(); ++i) {
                    auto v = ret.next_int();  // all fields of a raw syscall exit are integers
                    if (type.fields()[i].name == "ret") c.put_hex(v);
                }
                break;
            }
        }
        c.put('"');

        if (!type.fields().empty()) {
            c.put(R"(,"fields":{)");
            bool in_args = false, first = true;
            for (std::size_t i = 0; i < type.fields().size(); ++i) {
                const auto& f = type.fields()[i];
                if (f.arg && !in_args) {
                    if (!first) c.put(',');
                    c.put(R"("args":{)");
                    in_args = true;
                    first = true;
                } else if (!f.arg && in_args) {
                    c.put('}');
                    in_args = false;
                    first = false;
                }
                if (!first) c.put(',');
                first = false;
                c.put(type.key(i));
                switch (f.kind) {
                    case FieldKind::kSigned: c.put_int(static_cast<std::int64_t>(r.next_int())); break;
                    case FieldKind::kUnsigned: c.put_int(r.next_int()); break;
                    case FieldKind::kHex:
                        c.put('"');
                        c.put_hex(r.next_int());
                        c.put('"');
                        break;
                    case FieldKind::kString: c.put_string(r.next_string()); break;
                    case FieldKind::kSignedArray: c.put_array(r.next_array(), true); break;
                    case FieldKind::kUnsignedArray: c.put_array(r.next_array(), false); break;
                }
            }
            if (in_args) c.put('}');
            c.put('}');
        }
        c.put('}');
        return static_cast<std::size_t>(c.p - buf);
    });
}

}  // namespace ct::node
