#include "tracer-node/export/trace_event.h"

#include <algorithm>
#include <array>
#include <limits>

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

// "00".."99": two decimal digits at a time.
constexpr std::array<char, 200> kDigitPairs = [] {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[2 * i] = static_cast<char>('0' + i / 10);
        t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
}();

// Decimal digits of v (1 for 0).
int decimal_length(std::uint64_t v) {
    static constexpr std::uint64_t kPow10[20] = {1ULL,
                                                  10ULL,
                                                  100ULL,
                                                  1000ULL,
                                                  10000ULL,
                                                  100000ULL,
                                                  1000000ULL,
                                                  10000000ULL,
                                                  100000000ULL,
                                                  1000000000ULL,
                                                  10000000000ULL,
                                                  100000000000ULL,
                                                  1000000000000ULL,
                                                  10000000000000ULL,
                                                  100000000000000ULL,
                                                  1000000000000000ULL,
                                                  10000000000000000ULL,
                                                  100000000000000000ULL,
                                                  1000000000000000000ULL,
                                                  10000000000000000000ULL};
    const int bits = 64 - __builtin_clzll(v | 1);
    const int guess = bits * 1233 >> 12;  // ~log10(2^bits)
    return guess + ((v | 1) >= kPow10[guess]);
}

// Writes v's `length` decimal digits ending at `end`.
void write_digits(char* end, std::uint64_t v) {
    while (v >= 100) {
        end -= 2;
        std::memcpy(end, &kDigitPairs[2 * (v % 100)], 2);
        v /= 100;
    }
    if (v >= 10) {
        end -= 2;
        std::memcpy(end, &kDigitPairs[2 * v], 2);
    } else {
        *--end = static_cast<char>('0' + v);
    }
}

// Writes into memory reserved beforehand (EventJsonWriter::append bounds every event's size).
struct Cursor {
    char* p;

    void put(char c) { *p++ = c; }
    void put(std::string_view s) {
        if (s.empty()) return;  // an empty view's data() may be null
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    // A literal: its length is known here, so the copy is a few moves.
    template <std::size_t N>
    void lit(const char (&s)[N]) {
        std::memcpy(p, s, N - 1);
        p += N - 1;
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
                lit("u00");
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
    void put_uint(std::uint64_t v) {
        p += decimal_length(v);
        write_digits(p, v);
    }
    void put_int(std::int64_t v) {
        if (v < 0) {
            put('-');
            put_uint(0 - static_cast<std::uint64_t>(v));
        } else {
            put_uint(static_cast<std::uint64_t>(v));
        }
    }
    // "0x" + lower-case hex, as the kernel's "0x%lx".
    void put_hex(std::uint64_t v) {
        static constexpr char kHex[] = "0123456789abcdef";
        lit("0x");
        p += (64 - __builtin_clzll(v | 1) + 3) / 4;
        char* q = p;
        do {
            *--q = kHex[v & 0xf];
            v >>= 4;
        } while (v);
    }
    void put_array(std::string_view elements, bool is_signed) {
        put('[');
        for (std::size_t i = 0; i + 8 <= elements.size(); i += 8) {
            if (i) put(',');
            std::uint64_t v;
            std::memcpy(&v, elements.data() + i, 8);
            if (is_signed) put_int(static_cast<std::int64_t>(v));
            else put_uint(v);
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

EventType::EventType(std::string name, std::vector<EventField> fields, Details details, std::string_view subject_field)
    : name_(std::move(name)), fields_(std::move(fields)), details_(details), lifecycle_(lifecycle_of(name_)) {
    name_member_ = R"(,"event":")" + escaped(name_) + '"';
    // What goes before each value: the opening of "fields" (and of "args"), commas, the key.
    bool in_args = false, first_arg = true;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
        const auto& f = fields_[i];
        std::string before = i == 0 ? R"(,"fields":{)" : "";
        if (f.arg && !in_args) {
            if (i > 0) before += ',';
            before += R"("args":{)";
            in_args = true;
        } else if (!f.arg && in_args) {
            before += "},";
            in_args = false;
        } else if (i > 0) {
            before += ',';
        }
        before += '"' + escaped(f.name) + "\":";
        value_prefixes_.push_back(std::move(before));
        arg_labels_.push_back((f.arg && !first_arg ? ", " : "") + escaped(f.name) + ": ");
        if (f.arg) first_arg = false;
        json_overhead_ += value_prefixes_.back().size() + arg_labels_.back().size();
        if (f.name == "ret") ret_field_ = static_cast<int>(i);
    }
    if (!subject_field.empty()) subject_field_ = field_index(subject_field);
    if (subject_field_ >= 0 && fields_[subject_field_].kind != FieldKind::kSigned &&
        fields_[subject_field_].kind != FieldKind::kUnsigned)
        subject_field_ = -1;  // not a task id
    if (!fields_.empty()) fields_end_ = in_args ? "}}" : "}";
    json_overhead_ += name_member_.size() + fields_end_.size();
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
    if (!s.empty()) std::memcpy(p + 4, s.data(), s.size());  // an empty view's data() may be null
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

pid_t TraceEvent::subject() const {
    if (!type || type->subject_field() < 0) return pid;
    // Rare events (signals, OOM kills): walking the packed values up to the field is cheap enough.
    const auto* wanted = &type->fields()[static_cast<std::size_t>(type->subject_field())];
    std::int64_t value = 0;
    visit_fields(*this, [&](const FieldValue& v) {
        if (v.field == wanted) value = v.as_signed();
    });
    return value > 0 && value <= std::numeric_limits<pid_t>::max() ? static_cast<pid_t>(value) : pid;
}

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
    // The event's first members repeat from event to event: rebuilt when its owner or task changes.
    if (!head_set_ || owner != owner_ || task_ != e.comm) {
        owner_ = owner;
        task_ = e.comm;
        head_set_ = true;
        head_ = prefix_;
        if (owner) {
            append_member(head_, R"(,"pod":)", owner->pod);
            if (!owner->pod_namespace.empty()) append_member(head_, R"(,"namespace":)", owner->pod_namespace);
            append_member(head_, R"(,"container":)", owner->container);
        } else {
            head_ += R"(,"pod":null,"container":null)";
        }
        append_member(head_, R"(,"task":)", e.comm);
        head_ += R"(,"pid":)";
    }
    static const EventType kNoType("", {}, EventType::Details::kStored);
    const EventType& type = e.type ? *e.type : kNoType;
    const std::string_view values = e.values.bytes();
    // Every piece below is bounded: numbers by their widths, texts by 6 bytes per byte (\u00xx),
    // and each packed integer (8 bytes) stands for at most 2 x 20 written bytes (its field and
    // its details). The slack also covers the fixed-size copies of the timestamp's digits.
    const std::size_t bound = head_.size() + type.json_overhead() + 6 * values.size() + 192;
    const std::size_t start = out.size();
    out.resize_and_overwrite(start + bound, [&](char* buf, std::size_t) {
        Cursor c{buf + start};
        c.put(head_);
        c.put_int(e.pid);
        c.lit(R"(,"cpu":)");
        c.put_int(e.cpu);
        // Seconds as ftrace prints them, as text: a double would lose nanoseconds and print
        // "1.8E3". The same digits as timestamp_ns, with a point before the last nine.
        char digits[32];
        std::memset(digits, '0', 12);  // zeros before a timestamp of under a second
        int length;
        // Events come close in time: the digits above the milliseconds repeat, and are kept.
        const std::uint64_t high = e.timestamp_ns / 1'000'000, low = e.timestamp_ns % 1'000'000;
        if (high != 0) {
            if (high != ts_high_) {
                ts_high_ = high;
                ts_high_length_ = decimal_length(high);
                write_digits(ts_high_digits_ + ts_high_length_, high);
            }
            std::memcpy(digits + 12, ts_high_digits_, sizeof ts_high_digits_);
            length = ts_high_length_ + 6;
            char* d = digits + 12 + ts_high_length_;
            std::memcpy(d, &kDigitPairs[2 * (low / 10000)], 2);
            std::memcpy(d + 2, &kDigitPairs[2 * (low / 100 % 100)], 2);
            std::memcpy(d + 4, &kDigitPairs[2 * (low % 100)], 2);
        } else {
            length = decimal_length(e.timestamp_ns);
            write_digits(digits + 12 + length, e.timestamp_ns);
        }
        const char* ns = digits + 12;
        const int whole = std::max(length - 9, 1);  // "0" seconds for timestamps under a second
        c.lit(R"(,"timestamp":")");
        c.put(std::string_view(ns + length - 9 - whole, static_cast<std::size_t>(whole)));
        c.put('.');
        c.put(std::string_view(ns + length - 9, 9));
        c.lit(R"(","timestamp_ns":)");
        c.put(std::string_view(ns, static_cast<std::size_t>(length)));
        c.put(type.name_member());

        ValueReader r(values);
        c.lit(R"(,"details":")");
        switch (type.details()) {
            case EventType::Details::kStored: c.put_escaped(r.next_string()); break;
            case EventType::Details::kArgs: {
                ValueReader args(values);  // all fields of a raw syscall enter are integers
                for (std::size_t i = 0; i < type.fields().size(); ++i) {
                    auto v = args.next_int();
                    if (!type.fields()[i].arg) continue;
                    c.put(type.arg_label(i));
                    c.put_hex(v);
                }
                break;
            }
            case EventType::Details::kReturn: {  // all fields of a raw syscall exit are integers
                const auto at = 8 * static_cast<std::size_t>(type.ret_field());
                if (type.ret_field() >= 0 && at + 8 <= values.size()) c.put_hex(ValueReader(values.substr(at)).next_int());
                break;
            }
        }
        c.put('"');
        for (std::size_t i = 0; i < type.fields().size(); ++i) {
            c.put(type.value_prefix(i));
            switch (type.fields()[i].kind) {
                case FieldKind::kSigned: c.put_int(static_cast<std::int64_t>(r.next_int())); break;
                case FieldKind::kUnsigned: c.put_uint(r.next_int()); break;
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
        c.put(type.fields_end());
        c.put('}');
        return static_cast<std::size_t>(c.p - buf);
    });
}

}  // namespace ct::node
