// TraceEvent: one event captured by a hook, in the one model both capture paths produce (text
// trace lines and raw per-CPU buffers), and EventJsonWriter, which writes it as one JSON object.
// Built for the hot path (docs/architecture.md, "One event, from the kernel to a user"): an event
// holds no JSON tree and, for syscall events, no heap memory at all. What every event of one kind
// shares (its name, its fields' names and kinds) is in one EventType the event points to; the
// event itself carries only its values, packed.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ct::node {

// How a field's value is kept and exported.
enum class FieldKind : std::uint8_t {
    kSigned,         // integer; a JSON number
    kUnsigned,       // integer; a JSON number
    kHex,            // integer; a JSON string "0x<hex>" (syscall arguments, as ftrace prints them)
    kString,         // UTF-8 text; a JSON string
    kSignedArray,    // integers; a JSON array of numbers
    kUnsignedArray,  // integers; a JSON array of numbers
};

struct EventField {
    std::string name;
    FieldKind kind = FieldKind::kSigned;
    bool arg = false;  // a syscall argument: exported inside the "args" object
};

// The process lifecycle events capture uses for task names and attribution (EventType::Lifecycle).
inline constexpr std::array<std::string_view, 3> kLifecycleEvents = {"sched_process_fork", "sched_process_exec",
                                                                      "sched_process_exit"};

// What all events of one kind share. Made once per kind by whoever produces the events (the raw
// decoder per event format, the text reader per name and argument list) and owned by it: events
// point to their type, so the producer must outlive every use of its events (a capture source
// lives until its run's exporters have seen on_run_stop). Immutable once made.
class EventType {
public:
    // Where the event's "details" text comes from.
    enum class Details : std::uint8_t {
        kStored,  // the first packed value (as ftrace printed it)
        kArgs,    // printed from the argument fields: "name: 0x<hex>, ..." (raw syscall enter)
        kReturn,  // printed from the field "ret": "0x<hex>" (raw syscall exit)
    };
    // Process lifecycle events capture uses for task names and attribution.
    enum class Lifecycle : std::uint8_t { kNone, kFork, kExec, kExit };

    // `fields` in export order; argument fields must be contiguous. `subject_field`: for an event
    // written by one task about another (a signal's sender about its target), the integer field
    // naming that other task; "" (or a name not among `fields`) for the usual kind.
    EventType(std::string name, std::vector<EventField> fields, Details details, std::string_view subject_field = {});
    EventType(const EventType&) = delete;
    EventType& operator=(const EventType&) = delete;

    const std::string& name() const { return name_; }
    const std::vector<EventField>& fields() const { return fields_; }
    Details details() const { return details_; }
    Lifecycle lifecycle() const { return lifecycle_; }
    // Index of the field named `name`, or -1.
    int field_index(std::string_view name) const;

    // Pre-escaped JSON pieces for EventJsonWriter.
    const std::string& name_member() const { return name_member_; }  // ,"event":"<name>"
    // What goes before field i's value: ,"fields":{ for the first, "args":{ for the first
    // argument, }, after the last one, commas, and "<name>":.
    const std::string& value_prefix(std::size_t field) const { return value_prefixes_[field]; }
    const std::string& fields_end() const { return fields_end_; }  // } or }} (args last); "" without fields
    const std::string& arg_label(std::size_t field) const { return arg_labels_[field]; }  // [, ]<name>: (escaped)
    int ret_field() const { return ret_field_; }  // index of the field "ret", or -1
    int subject_field() const { return subject_field_; }  // index of the subject field, or -1
    std::size_t json_overhead() const { return json_overhead_; }  // bytes of all of the above

private:
    std::string name_;
    std::vector<EventField> fields_;
    Details details_;
    Lifecycle lifecycle_;
    std::string name_member_;
    std::vector<std::string> value_prefixes_, arg_labels_;
    std::string fields_end_;
    int ret_field_ = -1;
    int subject_field_ = -1;
    std::size_t json_overhead_ = 0;
};

// One event's values, packed in its type's field order: integers as 8 bytes; strings as a 4-byte
// length and their bytes; arrays as a 4-byte element count and 8 bytes per element. With
// Details::kStored the details text comes first, as a string. Up to kInline bytes live inside
// the event (a syscall's number and its six arguments), more on the heap.
class PackedValues {
public:
    static constexpr std::size_t kInline = 56;

    PackedValues() = default;
    PackedValues(const PackedValues& other) { assign(other.bytes()); }
    PackedValues(PackedValues&& other) noexcept { take(other); }
    PackedValues& operator=(const PackedValues& other) {
        if (this != &other) {
            size_ = 0;
            assign(other.bytes());
        }
        return *this;
    }
    PackedValues& operator=(PackedValues&& other) noexcept {
        if (this != &other) take(other);
        return *this;
    }

    void clear() { size_ = 0; }
    void add_int(std::uint64_t v) { std::memcpy(grow(8), &v, 8); }
    void add_string(std::string_view s);
    // Room for `count` integers of an array, to fill in order (8 bytes each, native order).
    char* add_array(std::uint32_t count);
    std::string_view bytes() const { return {data(), size_}; }

private:
    char* grow(std::size_t n) {
        if (size_ + n > capacity_) reserve(size_ + n);
        char* p = data() + size_;
        size_ += static_cast<std::uint32_t>(n);
        return p;
    }
    void reserve(std::size_t n);
    void assign(std::string_view bytes) { std::memcpy(grow(bytes.size()), bytes.data(), bytes.size()); }
    void take(PackedValues& other) noexcept {
        size_ = other.size_;
        if (other.heap_) {
            heap_ = std::move(other.heap_);
            capacity_ = other.capacity_;
        } else {
            heap_.reset();
            capacity_ = kInline;
            std::memcpy(inline_, other.inline_, kInline);  // all of it: a fixed-size copy is a few moves
        }
        other.size_ = 0;
        other.capacity_ = kInline;
    }
    char* data() { return heap_ ? heap_.get() : inline_; }
    const char* data() const { return heap_ ? heap_.get() : inline_; }

    std::unique_ptr<char[]> heap_;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = kInline;
    alignas(8) char inline_[kInline]{};
};

// Reads PackedValues back in order. Reading past the end yields zeros and empty texts.
class ValueReader {
public:
    explicit ValueReader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
    std::uint64_t next_int() {
        std::uint64_t v = 0;
        if (end_ - p_ >= 8) std::memcpy(&v, p_, 8);
        p_ += end_ - p_ >= 8 ? 8 : end_ - p_;
        return v;
    }
    std::string_view next_string();
    // An array: its 8-byte elements, as raw bytes (count = size / 8).
    std::string_view next_array();

private:
    std::uint32_t next_length();
    const char* p_;
    const char* end_;
};

struct TraceEvent {
    std::uint64_t timestamp_ns = 0;  // kernel trace clock, nanoseconds
    const EventType* type = nullptr;  // never null in an event a capture hands out
    int cpu = -1;
    pid_t pid = 0;                    // thread id, as ftrace reports it
    std::string comm;                 // task name (at most 15 bytes from the kernel: no heap)
    PackedValues values;              // the fields' values, as type->fields() says

    // "sys_enter_getppid", "sched_switch", ...; "" without a type.
    std::string_view name() const;
    // The task the event is about: the one its type's subject field names when it has one (and
    // it holds a pid), else `pid`. What the event's owner (pod/container) is looked up by.
    pid_t subject() const;
    // The event's own text as ftrace prints it. Allocates: for tests and slow paths.
    std::string details() const;
};

// One field's value, for slow paths that look at fields one by one (OTLP attributes, tests).
struct FieldValue {
    const EventField* field = nullptr;
    std::uint64_t integer = 0;  // kSigned (as two's complement), kUnsigned, kHex
    std::string_view text;      // kString
    std::string_view array;     // kSignedArray / kUnsignedArray: 8 bytes per element
    std::int64_t as_signed() const { return static_cast<std::int64_t>(integer); }
};
// Calls f(const FieldValue&) for each field of `e` in order.
template <class F>
void visit_fields(const TraceEvent& e, F&& f);

// Who the event is about and which session captured it; filled by the pipeline.
struct EventContext {
    std::string node;
    std::string session_id;  // decimal u64
    std::string hook;
    std::string user_context;
};

// The pod/container an event's task belongs to. Export's own copy of discovery's answer
// (discovery/pod_db.h Owner): exporters know nothing of how it was found.
struct EventOwner {
    std::string pod;
    std::string pod_namespace;  // "" when unknown (procfs discovery)
    std::string container;
    std::string container_id;   // the runtime's id of the container; "" when none
    bool operator==(const EventOwner&) const = default;
};

// Writes events as JSON lines, one object per event (docs/api.md "Exported events"), straight
// into the output text: no JSON tree, no allocation once `out` has grown. The session's members
// come first and are escaped once per writer; the owner's members once per owner object (owners
// must not change while a writer is used: a batch's owners are fixed); the task once per change;
// names and keys come pre-escaped from the event's type. Output is byte for byte what Boost.JSON
// serialises for the same object (tests/unit/export_event_json_test.cpp). Strings are written as
// they are: TraceEvent strings are valid UTF-8 (the decoders repair them).
// Pure; build one per batch of a session's events and use it on one thread.
class EventJsonWriter {
public:
    explicit EventJsonWriter(const EventContext& context);
    // Appends the event's object (no newline) to `out`.
    void append(std::string& out, const TraceEvent& event, const EventOwner* owner);

private:
    std::string prefix_;  // {"node":..,"session":..,"hook":..,"context":..
    // prefix_ + ,"pod":..[,"namespace":..],"container":..,"task":..,"pid": of owner_ and task_
    std::string head_;
    const EventOwner* owner_ = nullptr;
    std::string task_;
    bool head_set_ = false;
    // The decimal digits of the last timestamp / 10^6 (nonzero): the part events share.
    std::uint64_t ts_high_ = 0;
    int ts_high_length_ = 0;
    char ts_high_digits_[20] = {};
};

template <class F>
void visit_fields(const TraceEvent& e, F&& f) {
    if (!e.type) return;
    ValueReader r(e.values.bytes());
    if (e.type->details() == EventType::Details::kStored) r.next_string();
    for (const auto& field : e.type->fields()) {
        FieldValue v;
        v.field = &field;
        switch (field.kind) {
            case FieldKind::kSigned:
            case FieldKind::kUnsigned:
            case FieldKind::kHex: v.integer = r.next_int(); break;
            case FieldKind::kString: v.text = r.next_string(); break;
            case FieldKind::kSignedArray:
            case FieldKind::kUnsignedArray: v.array = r.next_array(); break;
        }
        f(static_cast<const FieldValue&>(v));
    }
}

}  // namespace ct::node
