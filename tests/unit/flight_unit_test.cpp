// The flight recorder's pure parts (tracer-node/flight/): trigger filters and reasons, the dump
// description's codec and times.
#include <catch2/catch.hpp>

#include <csignal>

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
    CHECK(rfc3339(1796590492028456278) == "2026-12-06T20:54:52.028456278Z");
    CHECK(rfc3339(0) == "1970-01-01T00:00:00.000000000Z");
}
