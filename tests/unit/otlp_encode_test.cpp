// OTLP encoding: syscall pairing, names, attributes, timestamps, id formats, grouping.
#include <catch2/catch.hpp>

#include <deque>
#include <regex>

#include <boost/json.hpp>

#include "tracer-node/export/otlp_encode.h"
#include "tracer-node/export/otlp_exporter.h"

using namespace ct::node;
namespace json = boost::json;

namespace {

// One field of a test event: integers export as kSigned, text as kString; `arg` puts it in "args".
struct F {
    std::string name;
    std::variant<std::int64_t, std::string> value;
    bool arg = false;
};

// An event as a capture hands it out; the event, its type and owner are kept for the whole test
// program (EnrichedEvent only lends them).
EnrichedEvent ev(std::uint64_t ts, pid_t pid, std::string name, std::vector<F> fields = {},
                 std::optional<EventOwner> owner = std::nullopt, std::string details = "") {
    static std::deque<std::unique_ptr<EventType>> types;
    static std::deque<EventOwner> owners;
    static std::deque<TraceEvent> events;
    std::vector<EventField> defs;
    for (const auto& f : fields)
        defs.push_back({f.name, std::holds_alternative<std::int64_t>(f.value) ? FieldKind::kSigned : FieldKind::kString, f.arg});
    types.push_back(std::make_unique<EventType>(std::move(name), std::move(defs), EventType::Details::kStored));
    auto& e = events.emplace_back();
    e.timestamp_ns = ts;
    e.cpu = 1;
    e.pid = pid;
    e.comm = "loop";
    e.type = types.back().get();
    e.values.add_string(details);
    for (const auto& f : fields) {
        if (const auto* i = std::get_if<std::int64_t>(&f.value)) e.values.add_int(static_cast<std::uint64_t>(*i));
        else e.values.add_string(std::get<std::string>(f.value));
    }
    const EventOwner* o = nullptr;
    if (owner) o = &owners.emplace_back(std::move(*owner));
    return {e, o};
}

otlp::SpanBuilder builder(std::int64_t offset = 1'000'000'000'000) {
    auto counter = std::make_shared<std::uint64_t>(0);
    return otlp::SpanBuilder({.trace_id = otlp::trace_id_hex(1, 2), .root_span_id = otlp::span_id_hex(0xabc),
                              .clock_offset_ns = offset},
                             [counter] { return ++*counter; });
}

const otlp::Attribute* find(const std::vector<otlp::Attribute>& attrs, const std::string& key) {
    for (const auto& a : attrs)
        if (a.key == key) return &a;
    return nullptr;
}

}  // namespace

TEST_CASE("ids are lower-case hex of the OTLP lengths", "[unit]") {
    CHECK(otlp::trace_id_hex(0x1, 0xABCDEF) == "00000000000000010000000000abcdef");
    CHECK(otlp::span_id_hex(0xFF) == "00000000000000ff");
    std::regex trace_re("[0-9a-f]{32}"), span_re("[0-9a-f]{16}");
    CHECK(std::regex_match(otlp::trace_id_hex(~0ULL, 7), trace_re));
    CHECK(std::regex_match(otlp::span_id_hex(~0ULL), span_re));
}

TEST_CASE("an enter/exit pair of one pid becomes a child span with kernel timestamps", "[unit]") {
    auto b = builder();
    std::vector<EnrichedEvent> events{
        ev(100, 7, "sys_enter_openat", {{"dfd", std::int64_t{-100}, true}, {"filename", "/etc/x", true}}),
        ev(150, 8, "sys_enter_getppid"),
        ev(160, 8, "sys_exit_getppid", {{"ret", std::int64_t{1}}}),
        ev(300, 7, "sys_exit_openat", {{"ret", std::int64_t{3}}},
           EventOwner{.pod = "p", .pod_namespace = "ns", .container = "c"}),
    };
    std::vector<otlp::Span> out;
    b.add(events, out);
    REQUIRE(out.size() == 2);
    // Spans come out in exit order.
    CHECK(out[0].name == "getppid");
    CHECK(out[1].name == "openat");
    const auto& s = out[1];
    CHECK(s.trace_id == otlp::trace_id_hex(1, 2));
    CHECK(s.parent_span_id == otlp::span_id_hex(0xabc));
    CHECK(s.span_id.size() == 16);
    CHECK(s.span_id != out[0].span_id);
    CHECK(s.start_unix_ns == 1'000'000'000'100);
    CHECK(s.end_unix_ns == 1'000'000'000'300);
    REQUIRE(find(s.attributes, "pid"));
    CHECK(find(s.attributes, "pid")->value == std::variant<std::string, std::int64_t>(std::int64_t{7}));
    CHECK(find(s.attributes, "comm")->value == std::variant<std::string, std::int64_t>(std::string("loop")));
    CHECK(find(s.attributes, "arg.dfd")->value == std::variant<std::string, std::int64_t>(std::int64_t{-100}));
    CHECK(find(s.attributes, "arg.filename")->value == std::variant<std::string, std::int64_t>(std::string("/etc/x")));
    CHECK(find(s.attributes, "ret")->value == std::variant<std::string, std::int64_t>(std::int64_t{3}));
    CHECK(s.resource == otlp::ResourceKey{"p", "ns", "c"});
    CHECK(out[0].resource == otlp::ResourceKey{});
}

TEST_CASE("pairs survive batch boundaries; mismatched or orphan events make no span", "[unit]") {
    auto b = builder(0);
    std::vector<otlp::Span> out;
    std::vector<EnrichedEvent> first{ev(10, 1, "sys_enter_read"), ev(11, 2, "sys_exit_write"),  // orphan exit
                                     ev(12, 3, "sys_enter_close")};
    b.add(first, out);
    CHECK(out.empty());
    CHECK(b.pending_enters() == 2);
    std::vector<EnrichedEvent> second{ev(13, 3, "sys_exit_dup"),  // not close's exit: dropped
                                      ev(14, 1, "sched_switch"),  // not a syscall: doesn't break the pair
                                      ev(20, 1, "sys_exit_read", {{"ret", std::int64_t{-11}}})};
    b.add(second, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == "read");
    CHECK(out[0].start_unix_ns == 10);
    CHECK(out[0].end_unix_ns == 20);
    CHECK(find(out[0].attributes, "ret")->value == std::variant<std::string, std::int64_t>(std::int64_t{-11}));
    CHECK(b.pending_enters() == 0);
}

TEST_CASE("an exit timestamped before its enter (per-CPU clocks) gives a zero-length span", "[unit]") {
    auto b = builder(0);
    std::vector<otlp::Span> out;
    std::vector<EnrichedEvent> events{ev(500, 1, "sys_enter_getppid"), ev(490, 1, "sys_exit_getppid")};
    b.add(events, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].end_unix_ns == out[0].start_unix_ns);
}

TEST_CASE("other events become span events of the root, named after the context or hook", "[unit]") {
    auto b = builder(1000);
    std::vector<otlp::Span> out;
    std::vector<EnrichedEvent> events{ev(5, 4, "sched_process_exec", {}, std::nullopt, "filename=/bin/sh")};
    b.add(events, out);
    CHECK(out.empty());
    EventContext ctx{.node = "n", .session_id = "42", .hook = "trace_syscalls", .user_context = "my-ctx"};
    auto root = b.finish_root(ctx, 2000, 3000);
    CHECK(root.name == "my-ctx");
    CHECK(root.parent_span_id.empty());
    CHECK(root.span_id == otlp::span_id_hex(0xabc));
    CHECK(root.start_unix_ns == 2000);
    CHECK(root.end_unix_ns == 3000);
    REQUIRE(root.events.size() == 1);
    CHECK(root.events[0].name == "sched_process_exec");
    CHECK(root.events[0].time_unix_ns == 1005);
    CHECK(find(root.events[0].attributes, "details"));
    ctx.user_context = "";
    CHECK(otlp::root_span_name(ctx) == "trace_syscalls");
}

TEST_CASE("encode_request groups spans by resource with OTLP/JSON field shapes", "[unit]") {
    auto b = builder(0);
    std::vector<otlp::Span> out;
    EventOwner a{.pod = "pa", .pod_namespace = "default", .container = "ca", .container_id = "0123abcd"};
    std::vector<EnrichedEvent> events{ev(1, 1, "sys_enter_getppid", {}, a), ev(2, 1, "sys_exit_getppid", {{"ret", std::int64_t{9}}}, a),
                                      ev(3, 2, "sys_enter_getppid"), ev(4, 2, "sys_exit_getppid", {{"ret", std::int64_t{9}}})};
    b.add(events, out);
    out.push_back(b.finish_root({.node = "n", .session_id = "1", .hook = "h", .user_context = "c"}, 0, 10));
    auto body = json::parse(otlp::encode_request("node-1", out)).as_object();
    auto& rs = body.at("resourceSpans").as_array();
    REQUIRE(rs.size() == 2);  // the node (root + unknown owner) and pod pa
    size_t spans = 0;
    bool saw_pod = false;
    for (const auto& r : rs) {
        std::map<std::string, std::string> attrs;
        for (const auto& a : r.at("resource").at("attributes").as_array())
            attrs[std::string(a.at("key").as_string())] = std::string(a.at("value").at("stringValue").as_string());
        CHECK(attrs.at("service.name") == "container-tracer");
        CHECK(attrs.at("k8s.node.name") == "node-1");
        if (attrs.contains("k8s.pod.name")) {
            saw_pod = true;
            CHECK(attrs.at("k8s.pod.name") == "pa");
            CHECK(attrs.at("k8s.namespace.name") == "default");
            CHECK(attrs.at("k8s.container.name") == "ca");
            CHECK(attrs.at("container.id") == "0123abcd");
        } else {
            CHECK_FALSE(attrs.contains("container.id"));
        }
        for (const auto& s : r.at("scopeSpans").at(0).at("spans").as_array()) {
            ++spans;
            CHECK(s.at("traceId").as_string().size() == 32);
            CHECK(s.at("spanId").as_string().size() == 16);
            CHECK(s.at("startTimeUnixNano").is_string());
            CHECK(s.at("endTimeUnixNano").is_string());
            CHECK(s.at("kind") == 1);
            if (s.at("name") == "getppid") {
                CHECK(s.at("parentSpanId").as_string().size() == 16);
                bool ret = false;
                for (const auto& a : s.at("attributes").as_array())
                    if (a.at("key") == "ret") ret = a.at("value").at("intValue") == "9";
                CHECK(ret);
            }
        }
    }
    CHECK(saw_pod);
    CHECK(spans == 3);
}

TEST_CASE("OTLP endpoints: http://host:port only", "[unit]") {
    auto ok = parse_otlp_endpoint("http://127.0.0.1:4318");
    REQUIRE(ok);
    CHECK(ok->host == "127.0.0.1");
    CHECK(ok->port == 4318);
    CHECK(ok->traces_path == "/v1/traces");
    auto based = parse_otlp_endpoint("http://collector:4318/otel/");
    REQUIRE(based);
    CHECK(based->traces_path == "/otel/v1/traces");
    auto tls = parse_otlp_endpoint("https://127.0.0.1:4318");
    REQUIRE_FALSE(tls);
    CHECK(tls.error().message.find("https is not supported") != std::string::npos);
    CHECK_FALSE(parse_otlp_endpoint("grpc://x:1"));
    CHECK_FALSE(parse_otlp_endpoint("http://127.0.0.1"));
    CHECK_FALSE(parse_otlp_endpoint("http://:4318"));
}
