// The flight recorder's pure parts (tracer-node/flight/): trigger filters and reasons, the dump
// description's codec and times, the trigger's event line, and a dump's record for the sinks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <map>

#include "common/strings.h"
#include "tracer-node/export/jsonl_exporter.h"
#include "tracer-node/export/otlp_encode.h"
#include "tracer-node/flight/dump_store.h"
#include "tracer-node/flight/trigger_watch.h"

using namespace ct::node;
using namespace ct::node::flight;

TEST_CASE("flight: trigger filters name the fatal signals and the session's pids", "[unit][flight]") {
    auto f = trigger_filters({42, 4242});
    CHECK(f.signal == "(sig==4||sig==6||sig==7||sig==8||sig==9||sig==11)&&(pid==42||pid==4242)");
    CHECK(f.oom == "pid==42||pid==4242");
    CHECK(f.pids_in_filter);
    // Nothing to watch yet: a filter that matches nothing, not everything.
    CHECK(trigger_filters({}).signal.find("pid==0") != std::string::npos);
    // Too many pids for one page: the signals only; the targets are checked by the reader.
    std::set<pid_t> many;
    for (pid_t p = 100000; p < 100600; ++p) many.insert(p);
    auto big = trigger_filters(many);
    CHECK_FALSE(big.pids_in_filter);
    CHECK(big.signal == "sig==4||sig==6||sig==7||sig==8||sig==9||sig==11");
    CHECK(big.signal.size() <= kMaxFilterBytes);
}

TEST_CASE("flight: trigger reasons name the signal, the pid and its container", "[unit][flight]") {
    TriggerEvent segv{"signal_generate", 1, {{"sig", SIGSEGV}, {"pid", 4242}}};
    CHECK(trigger_reason(segv, EventOwner{"web", "default", "app", ""}) == "signal SIGSEGV to pid 4242 (web/app)");
    CHECK(trigger_reason(segv, std::nullopt) == "signal SIGSEGV to pid 4242 (unknown container)");
    TriggerEvent oom{"mark_victim", 1, {{"pid", 7}}};
    CHECK(trigger_reason(oom, EventOwner{"db", "", "pg", ""}) == "OOM kill of pid 7 (db/pg)");
    CHECK(signal_name(SIGKILL) == "SIGKILL");
    CHECK(signal_name(10) == "signal 10");
}

TEST_CASE("flight: dump descriptions round-trip, and times are RFC 3339", "[unit][flight]") {
    Dump d{.id = "1796590492028456278", .session_id = "99", .reason = "by hand", .time_unix_ns = 1796590492028456278,
           .events = 10, .lost = 2, .from_unix_ns = 1796590491000000000, .to_unix_ns = 1796590492000000001,
           .trigger = TriggerEvent{"signal_generate", 77, {{"sig", 11}, {"pid", 5}}}};
    auto back = decode_dump(encode_dump(d));
    REQUIRE(back);
    CHECK(back->id == d.id);
    CHECK(back->reason == "by hand");
    CHECK(back->events == 10);
    CHECK(back->lost == 2);
    CHECK(back->to_unix_ns == d.to_unix_ns);
    REQUIRE(back->trigger);
    CHECK(back->trigger->fields.at("pid") == 5);
    Dump empty{.id = "1", .session_id = "2", .reason = "x"};
    auto e = decode_dump(encode_dump(empty));
    REQUIRE(e);
    CHECK_FALSE(e->from_unix_ns);
    CHECK_FALSE(e->trigger);
    CHECK_FALSE(decode_dump("{\"id\": \"1\"}"));
    CHECK_FALSE(decode_dump("nope"));
    CHECK(ct::rfc3339(1796590492028456278) == "2026-12-06T20:54:52.028456278Z");
    CHECK(ct::rfc3339(0) == "1970-01-01T00:00:00.000000000Z");
}

TEST_CASE("flight: the trigger is written as an event line of its target", "[unit][flight]") {
    TriggerEvent t{"signal_generate", 8631309084000, {{"sig", 11}, {"pid", 4242}, {"result", 0}}, 1};
    auto back = decode_dump(encode_dump({.id = "1", .session_id = "2", .reason = "x", .trigger = t}));
    REQUIRE(back);
    CHECK(back->trigger->cpu == 1);
    auto line = trigger_line(t);
    REQUIRE(line.event.type == line.type.get());
    line.event.comm = "crasher";
    std::string out;
    EventJsonWriter({"n1", "99", "trace_syscalls", "ctx"}).append(out, line.event, nullptr);
    CHECK(out == R"({"node":"n1","session":"99","hook":"trace_syscalls","context":"ctx","pod":null,)"
                 R"("container":null,"task":"crasher","pid":4242,"cpu":1,"timestamp":"8631.309084000",)"
                 R"("timestamp_ns":8631309084000,"event":"signal_generate","details":"pid=4242 result=0 sig=11",)"
                 R"("fields":{"pid":4242,"result":0,"sig":11}})");
    // A description from before the cpu was kept.
    auto old = decode_dump(R"({"id":"1","session":"2","reason":"x","time-ns":0,"events":0,"lost":0,)"
                           R"("trigger":{"event":"mark_victim","timestamp-ns":5,"fields":{"pid":7}}})");
    REQUIRE(old);
    CHECK(old->trigger->cpu == -1);
}

TEST_CASE("flight: a dump's record for the JSON-lines sink and OTLP", "[unit][flight]") {
    const EventContext context{"n1", "99", "trace_syscalls", "ctx"};
    DumpRecord d{.dump_id = "1796590492028456278", .reason = "by hand", .time_unix_ns = 1796590492028456278,
                 .events = 10, .lost = 2, .from_unix_ns = 1796590491000000000, .to_unix_ns = 1796590492000000001};
    CHECK(dump_json_line(context, d) ==
          R"({"kind":"dump","node":"n1","session":"99","hook":"trace_syscalls","context":"ctx",)"
          R"("dump":"1796590492028456278","reason":"by hand","time":"2026-12-06T20:54:52.028456278Z",)"
          R"("events":10,"lost":2,"from":"2026-12-06T20:54:51.000000000Z","to":"2026-12-06T20:54:52.000000001Z"})");
    auto span = otlp::dump_span(context, d, std::string(32, 'a'), std::string(16, 'b'));
    CHECK(span.name == "flight-recorder dump");
    CHECK(span.parent_span_id.empty());
    CHECK(span.start_unix_ns == 1796590491000000000u);
    CHECK(span.end_unix_ns == 1796590492028456278u);
    std::map<std::string, otlp::Attribute> attrs;
    for (const auto& a : span.attributes) attrs.emplace(a.key, a);
    CHECK(std::get<std::string>(attrs.at("ct.dump.id").value) == d.dump_id);
    CHECK(std::get<std::string>(attrs.at("ct.dump.reason").value) == "by hand");
    CHECK(std::get<std::int64_t>(attrs.at("ct.dump.events").value) == 10);
    CHECK(std::get<std::int64_t>(attrs.at("ct.dump.lost").value) == 2);
    CHECK(std::get<std::string>(attrs.at("ct.dump.to").value) == "2026-12-06T20:54:52.000000001Z");
    // An empty dump: no from/to; the span is its moment.
    DumpRecord empty{.dump_id = "5", .reason = "by hand", .time_unix_ns = 1000};
    CHECK(dump_json_line(context, empty).ends_with(R"("events":0,"lost":0,"from":null,"to":null})"));
    auto s = otlp::dump_span(context, empty, "t", "s");
    CHECK(s.start_unix_ns == 1000u);
    CHECK(s.end_unix_ns == 1000u);
    CHECK(std::ranges::none_of(s.attributes, [](const auto& a) { return a.key == "ct.dump.from"; }));
}
