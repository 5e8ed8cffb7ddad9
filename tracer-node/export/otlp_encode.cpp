#include "tracer-node/export/otlp_encode.h"

#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::node::otlp {

namespace json = boost::json;

namespace {

constexpr std::string_view kEnter = "sys_enter_";
constexpr std::string_view kExit = "sys_exit_";

// A field value as an attribute value; integers stay integers, the rest is text.
std::variant<std::string, std::int64_t> attribute_value(const FieldValue& v) {
    switch (v.field->kind) {
        case FieldKind::kSigned: return v.as_signed();
        case FieldKind::kUnsigned:
            if (v.integer <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.integer);
            return fmt::format("{:#x}", v.integer);  // pointers and flags above 2^63: hex reads better
        case FieldKind::kHex: return fmt::format("{:#x}", v.integer);
        case FieldKind::kString: return std::string(v.text);
        case FieldKind::kSignedArray:
        case FieldKind::kUnsignedArray: {
            std::string out = "[";
            for (std::size_t i = 0; i + 8 <= v.array.size(); i += 8) {
                std::uint64_t x;
                std::memcpy(&x, v.array.data() + i, 8);
                if (i) out += ',';
                if (v.field->kind == FieldKind::kSignedArray) out += std::to_string(static_cast<std::int64_t>(x));
                else out += std::to_string(x);
            }
            return out + "]";
        }
    }
    return std::string();
}

json::object attribute_json(const Attribute& a) {
    json::object value;
    if (const auto* s = std::get_if<std::string>(&a.value))
        value["stringValue"] = *s;
    else  // proto3 JSON: 64-bit integers as decimal strings
        value["intValue"] = std::to_string(std::get<std::int64_t>(a.value));
    return json::object{{"key", a.key}, {"value", std::move(value)}};
}

json::object span_json(const Span& s) {
    json::object o;
    o["traceId"] = s.trace_id;
    o["spanId"] = s.span_id;
    if (!s.parent_span_id.empty()) o["parentSpanId"] = s.parent_span_id;
    o["name"] = s.name;
    o["kind"] = kSpanKindInternal;
    o["startTimeUnixNano"] = std::to_string(s.start_unix_ns);
    o["endTimeUnixNano"] = std::to_string(s.end_unix_ns);
    o["attributes"] = attributes_json(s.attributes);
    if (!s.events.empty()) {
        json::array events;
        events.reserve(s.events.size());
        for (const auto& e : s.events)
            events.push_back(json::object{{"timeUnixNano", std::to_string(e.time_unix_ns)},
                                          {"name", e.name},
                                          {"attributes", attributes_json(e.attributes)}});
        o["events"] = std::move(events);
    }
    if (s.dropped_events) o["droppedEventsCount"] = s.dropped_events;
    return o;
}

}  // namespace

json::array attributes_json(const std::vector<Attribute>& attributes) {
    json::array out;
    out.reserve(attributes.size());
    for (const auto& a : attributes) out.push_back(attribute_json(a));
    return out;
}

std::string trace_id_hex(std::uint64_t high, std::uint64_t low) { return fmt::format("{:016x}{:016x}", high, low); }

std::string span_id_hex(std::uint64_t id) { return fmt::format("{:016x}", id); }

std::uint64_t kernel_to_unix_ns(std::uint64_t kernel_ns, std::int64_t offset_ns) {
    auto unix_ns = static_cast<std::int64_t>(kernel_ns) + offset_ns;
    return unix_ns < 0 ? 0 : static_cast<std::uint64_t>(unix_ns);
}

std::string root_span_name(const EventContext& context) {
    return context.user_context.empty() ? context.hook : context.user_context;
}

SpanBuilder::SpanBuilder(Options options, std::function<std::uint64_t()> next_id)
    : options_(std::move(options)), next_id_(std::move(next_id)) {}

void SpanBuilder::add(std::span<const EnrichedEvent> events, std::vector<Span>& out) {
    for (const auto& ee : events) {
        const auto& e = ee.event;
        std::string_view name = e.name();
        if (name.starts_with(kEnter)) {
            // Kept past this call: the owner is copied (EnrichedEvent::owner is only lent).
            std::optional<ResourceKey> resource;
            if (ee.owner) resource = ResourceKey{ee.owner->pod, ee.owner->pod_namespace, ee.owner->container,
                                                 ee.owner->container_id};
            pending_.insert_or_assign(e.pid, Pending{e, std::move(resource)});
            continue;
        }
        if (name.starts_with(kExit)) {
            auto it = pending_.find(e.pid);
            if (it == pending_.end()) continue;  // its enter came before the run started
            const Pending enter = std::move(it->second);
            pending_.erase(it);
            auto syscall = name.substr(kExit.size());
            if (enter.event.name().substr(kEnter.size()) != syscall) continue;

            Span s;
            s.trace_id = options_.trace_id;
            s.span_id = span_id_hex(next_id_());
            s.parent_span_id = options_.root_span_id;
            s.name = std::string(syscall);
            s.start_unix_ns = kernel_to_unix_ns(enter.event.timestamp_ns, options_.clock_offset_ns);
            // Per-CPU clocks may disagree slightly when the task migrated: never end before start.
            s.end_unix_ns =
                std::max(s.start_unix_ns, kernel_to_unix_ns(e.timestamp_ns, options_.clock_offset_ns));
            s.attributes.push_back({"pid", std::int64_t{e.pid}});
            s.attributes.push_back({"comm", e.comm});
            s.attributes.push_back({"cpu", std::int64_t{enter.event.cpu}});
            visit_fields(enter.event, [&](const FieldValue& v) {
                if (v.field->arg) s.attributes.push_back({"arg." + v.field->name, attribute_value(v)});
            });
            visit_fields(e, [&](const FieldValue& v) {
                if (v.field->name == "ret") s.attributes.push_back({"ret", attribute_value(v)});
            });
            if (ee.owner) s.resource = {ee.owner->pod, ee.owner->pod_namespace, ee.owner->container, ee.owner->container_id};
            else if (enter.resource) s.resource = *enter.resource;
            out.push_back(std::move(s));
            continue;
        }
        if (root_events_.size() >= options_.max_root_events) {
            ++dropped_root_events_;
            continue;
        }
        SpanEvent se;
        se.time_unix_ns = kernel_to_unix_ns(e.timestamp_ns, options_.clock_offset_ns);
        se.name = std::string(name);
        se.attributes.push_back({"pid", std::int64_t{e.pid}});
        se.attributes.push_back({"comm", e.comm});
        if (auto details = e.details(); !details.empty()) se.attributes.push_back({"details", std::move(details)});
        if (ee.owner) {
            se.attributes.push_back({"k8s.pod.name", ee.owner->pod});
            se.attributes.push_back({"k8s.container.name", ee.owner->container});
            if (!ee.owner->container_id.empty()) se.attributes.push_back({"container.id", ee.owner->container_id});
        }
        root_events_.push_back(std::move(se));
    }
}

Span SpanBuilder::finish_root(const EventContext& context, std::uint64_t start_unix_ns, std::uint64_t end_unix_ns) {
    Span root;
    root.trace_id = options_.trace_id;
    root.span_id = options_.root_span_id;
    root.name = root_span_name(context);
    root.start_unix_ns = start_unix_ns;
    root.end_unix_ns = std::max(start_unix_ns, end_unix_ns);
    root.attributes.push_back({"ct.session.id", context.session_id});
    root.attributes.push_back({"ct.hook", context.hook});
    root.attributes.push_back({"ct.context", context.user_context});
    root.events = std::move(root_events_);
    root.dropped_events = dropped_root_events_;
    root_events_.clear();
    pending_.clear();
    return root;
}

Span dump_span(const EventContext& context, const DumpRecord& dump, std::string trace_id, std::string span_id) {
    Span s;
    s.trace_id = std::move(trace_id);
    s.span_id = std::move(span_id);
    s.name = kDumpSpanName;
    const auto time = static_cast<std::uint64_t>(dump.time_unix_ns);
    s.start_unix_ns = dump.from_unix_ns ? std::min(time, static_cast<std::uint64_t>(*dump.from_unix_ns)) : time;
    s.end_unix_ns = time;
    s.attributes = {{"ct.session.id", context.session_id},
                    {"ct.hook", context.hook},
                    {"ct.context", context.user_context},
                    {"ct.dump.id", dump.dump_id},
                    {"ct.dump.reason", dump.reason},
                    {"ct.dump.events", static_cast<std::int64_t>(dump.events)},
                    {"ct.dump.lost", static_cast<std::int64_t>(dump.lost)}};
    if (dump.from_unix_ns) s.attributes.push_back({"ct.dump.from", rfc3339(*dump.from_unix_ns)});
    if (dump.to_unix_ns) s.attributes.push_back({"ct.dump.to", rfc3339(*dump.to_unix_ns)});
    return s;
}

std::vector<Attribute> resource_attributes(const std::string& node_name, const ResourceKey& key) {
    std::vector<Attribute> out{{"service.name", std::string("container-tracer")}};
    if (!node_name.empty()) out.push_back({"k8s.node.name", node_name});
    if (!key.pod.empty()) out.push_back({"k8s.pod.name", key.pod});
    if (!key.pod_namespace.empty()) out.push_back({"k8s.namespace.name", key.pod_namespace});
    if (!key.container.empty()) out.push_back({"k8s.container.name", key.container});
    if (!key.container_id.empty()) out.push_back({"container.id", key.container_id});
    return out;
}

std::string encode_request(const std::string& node_name, std::span<const Span> spans) {
    std::map<ResourceKey, json::array> groups;
    for (const auto& s : spans) groups[s.resource].push_back(span_json(s));
    json::array resource_spans;
    resource_spans.reserve(groups.size());
    for (auto& [key, list] : groups) {
        json::object scope_spans{{"scope", json::object{{"name", "container-tracer"}}}, {"spans", std::move(list)}};
        resource_spans.push_back(
            json::object{{"resource", json::object{{"attributes", attributes_json(resource_attributes(node_name, key))}}},
                         {"scopeSpans", json::array{std::move(scope_spans)}}});
    }
    return json::serialize(json::object{{"resourceSpans", std::move(resource_spans)}});
}

}  // namespace ct::node::otlp
