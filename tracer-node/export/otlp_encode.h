// OTLP encoding: captured events -> OpenTelemetry spans -> OTLP/HTTP JSON request bodies.
// Pure (no I/O, no clocks, no randomness: ids and clock offset are passed in) so it is unit-tested
// on fixtures; otlp_exporter.h does the queueing and sending.
// Model: each session run is a root span; a sys_enter_X followed by sys_exit_X of the same pid is
// a child span "X" with the kernel's timestamps; any other event is a span event on the root.
// Thread-safety: SpanBuilder is not synchronised (its owner serialises calls); the free
// functions are reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <boost/json/fwd.hpp>

#include "tracer-node/export/exporter.h"

namespace ct::node::otlp {

constexpr int kSpanKindInternal = 1;  // OTLP SpanKind SPAN_KIND_INTERNAL

struct Attribute {
    std::string key;
    std::variant<std::string, std::int64_t> value;
    bool operator==(const Attribute&) const = default;
};

struct SpanEvent {
    std::uint64_t time_unix_ns = 0;
    std::string name;
    std::vector<Attribute> attributes;
};

// The pod/container a span belongs to; spans are grouped into resourceSpans by it.
// All empty = the node itself (root spans, events of unknown owner).
struct ResourceKey {
    std::string pod;
    std::string pod_namespace;
    std::string container;
    std::string container_id;
    auto operator<=>(const ResourceKey&) const = default;
};

struct Span {
    std::string trace_id;        // 32 lower-case hex digits
    std::string span_id;         // 16 lower-case hex digits
    std::string parent_span_id;  // "" for a root span
    std::string name;
    std::uint64_t start_unix_ns = 0;
    std::uint64_t end_unix_ns = 0;
    std::vector<Attribute> attributes;
    std::vector<SpanEvent> events;
    std::uint32_t dropped_events = 0;  // span events not kept (SpanBuilder's bound)
    ResourceKey resource;
};

// Identifiers as OTLP JSON wants them: lower-case hex, trace ids 16 bytes, span ids 8 bytes.
std::string trace_id_hex(std::uint64_t high, std::uint64_t low);
std::string span_id_hex(std::uint64_t id);

// Kernel trace timestamps ("local" clock: boot-based, close to CLOCK_MONOTONIC) to Unix time:
// unix = kernel + offset, offset = CLOCK_REALTIME - CLOCK_MONOTONIC measured once by the caller.
// Approximate: the local clock is per-CPU sched_clock, not exactly CLOCK_MONOTONIC, and the offset
// does not follow later wall-clock steps (NTP, settimeofday). Durations are exact to the kernel's.
std::uint64_t kernel_to_unix_ns(std::uint64_t kernel_ns, std::int64_t offset_ns);

// Root span name: the user context, or the hook name when the context is empty.
std::string root_span_name(const EventContext& context);

// Turns one run's events (in capture order, across batches) into child spans of the run's root
// span and span events for it. A pid's sys_enter_X pairs with that pid's next syscall exit when it
// is sys_exit_X (other events in between, e.g. sched_switch while blocked, don't break the pair);
// an enter followed by another enter or a different exit, or never finished, makes no span.
class SpanBuilder {
public:
    struct Options {
        std::string trace_id;             // of this run
        std::string root_span_id;         // parent of every span built
        std::int64_t clock_offset_ns = 0;  // see kernel_to_unix_ns
        std::size_t max_root_events = 1000;  // more are counted in dropped_root_events()
    };
    // next_id: a fresh non-zero span id per call (random in the exporter, a counter in tests).
    SpanBuilder(Options options, std::function<std::uint64_t()> next_id);

    // Appends the spans completed by `events` to `out`; keeps other events for the root span.
    void add(std::span<const EnrichedEvent> events, std::vector<Span>& out);

    // The run's root span (the builder is done after this). Start/end are Unix ns.
    Span finish_root(const EventContext& context, std::uint64_t start_unix_ns, std::uint64_t end_unix_ns);

    std::size_t pending_enters() const { return pending_.size(); }
    std::uint32_t dropped_root_events() const { return dropped_root_events_; }

private:
    Options options_;
    std::function<std::uint64_t()> next_id_;
    struct Pending {
        TraceEvent event;                      // the sys_enter
        std::optional<ResourceKey> resource;   // its owner, copied
    };
    std::map<pid_t, Pending> pending_;  // pid -> its last unmatched sys_enter
    std::vector<SpanEvent> root_events_;
    std::uint32_t dropped_root_events_ = 0;
};

// A flight-recorder dump as a span of its own trace (docs/api.md "Dump records"): named
// kDumpSpanName, from the dump's first event (its time when empty) to its time, on the node's
// resource, with the session's ct.session.id / ct.hook / ct.context and ct.dump.id, .reason,
// .events, .lost and (when not empty) .from / .to (RFC 3339).
inline constexpr std::string_view kDumpSpanName = "flight-recorder dump";
Span dump_span(const EventContext& context, const DumpRecord& dump, std::string trace_id, std::string span_id);

// Attributes as OTLP JSON KeyValues (strings as stringValue, integers as decimal intValue).
boost::json::array attributes_json(const std::vector<Attribute>& attributes);

// Resource attributes of the node (service.name, k8s.node.name) plus those of `key` when set.
std::vector<Attribute> resource_attributes(const std::string& node_name, const ResourceKey& key);

// One OTLP/HTTP JSON ExportTraceServiceRequest for `spans`, grouped into resourceSpans by their
// ResourceKey (one scopeSpans each, scope "container-tracer").
std::string encode_request(const std::string& node_name, std::span<const Span> spans);

}  // namespace ct::node::otlp
