// EventJsonWriter (the exporters' hot path) must write exactly what Boost.JSON serialises for the
// documented event object, for every shape of event, including text that needs escapes.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tracer-node/export/trace_event.h"

namespace {

using namespace ct::node;

// The exported object as docs/api.md describes it, built with Boost.JSON: the writer's oracle.
boost::json::object event_to_json(const TraceEvent& e, const EventContext& c, const EventOwner* owner) {
    boost::json::object o;
    o["node"] = c.node;
    o["session"] = c.session_id;
    o["hook"] = c.hook;
    o["context"] = c.user_context;
    if (owner) {
        o["pod"] = owner->pod;
        if (!owner->pod_namespace.empty()) o["namespace"] = owner->pod_namespace;
        o["container"] = owner->container;
    } else {
        o["pod"] = nullptr;
        o["container"] = nullptr;
    }
    o["task"] = e.comm;
    o["pid"] = e.pid;
    o["cpu"] = e.cpu;
    o["timestamp"] = fmt::format("{}.{:09}", e.timestamp_ns / 1'000'000'000ULL, e.timestamp_ns % 1'000'000'000ULL);
    o["timestamp_ns"] = e.timestamp_ns;
    o["event"] = e.event;
    o["details"] = e.details;
    if (!e.fields.empty()) o["fields"] = e.fields;
    return o;
}

std::string reference(const TraceEvent& e, const EventContext& c, const EventOwner* o) {
    return boost::json::serialize(event_to_json(e, c, o));
}

std::string fast(const TraceEvent& e, const EventContext& c, const EventOwner* o) {
    std::string out = "prefix:";  // appends, never overwrites
    EventJsonWriter(c).append(out, e, o);
    REQUIRE(out.starts_with("prefix:"));
    return out.substr(7);
}

}  // namespace

TEST_CASE("the event JSON writer writes what Boost.JSON serialises for the event object", "[export][unit]") {
    EventContext context{.node = "node-1", .session_id = "18446744073709551615", .hook = "ftrace/trace_syscalls",
                         .user_context = "ctx \"quoted\" \\ back\tslash\n"};
    EventOwner owner{.pod = "web-0", .pod_namespace = "prod", .container = "nginx"};
    EventOwner no_namespace{.pod = "bare", .pod_namespace = "", .container = "c"};

    TraceEvent enter{.timestamp_ns = 1'800'123'456'789ULL, .cpu = 1, .pid = 4242, .comm = "getppid_loop",
                     .event = "sys_enter_openat", .details = "dfd: 0xffffff9c, filename: 0x7ffd", .fields = {}};
    enter.fields["nr"] = 257;
    enter.fields["args"] = boost::json::object{{"dfd", "0xffffff9c"}, {"filename", "0x7ffd"}};
    TraceEvent exit_event{.timestamp_ns = 5, .cpu = 0, .pid = 1, .comm = "a\x01" "b\x7f\xc3\xa9",
                          .event = "sys_exit_openat", .details = "0x3", .fields = {}};
    exit_event.fields["nr"] = 257;
    exit_event.fields["ret"] = -2;
    exit_event.fields["big"] = std::uint64_t{18446744073709551615ULL};
    exit_event.fields["other"] = boost::json::array{1, true, nullptr, 1.5};
    TraceEvent bare{.timestamp_ns = 0, .cpu = -1, .pid = 0, .comm = "", .event = "sched_switch",
                    .details = "\b\f\r\x1f", .fields = {}};

    for (const auto* e : {&enter, &exit_event, &bare}) {
        for (const auto* o : {static_cast<const EventOwner*>(&owner), static_cast<const EventOwner*>(&no_namespace),
                              static_cast<const EventOwner*>(nullptr)}) {
            INFO(e->event << " owner " << (o ? o->pod : "none"));
            auto got = fast(*e, context, o);
            CHECK(got == reference(*e, context, o));
            CHECK(boost::json::parse(got).as_object().at("event").as_string() == e->event);
        }
    }
}

TEST_CASE("one event JSON writer reuses repeated members and follows every change", "[export][unit]") {
    // A batch in the order a capture gives it: owners, tasks and event names repeat, alternate
    // and change; every line must still be the event's own object.
    EventContext context{.node = "n", .session_id = "7", .hook = "h", .user_context = ""};
    EventOwner a{.pod = "web-0", .pod_namespace = "prod", .container = "nginx"};
    EventOwner b{.pod = "web-1", .pod_namespace = "", .container = "nginx \"2\""};
    std::vector<std::pair<TraceEvent, const EventOwner*>> batch;
    const char* names[] = {"sys_enter_read", "sys_exit_read", "sys_enter_read", "sys_exit_read",
                           "sys_enter_write", "sys_exit_write", "sched_process_exec", "sys_exit_read", ""};
    const char* comms[] = {"app", "app", "app", "worker", "worker", "app", "", "app\n", "app"};
    const EventOwner* owners[] = {&a, &a, &b, &b, nullptr, &a, &a, &b, &b};
    for (size_t i = 0; i < std::size(names); ++i) {
        TraceEvent e{.timestamp_ns = 1000 + i, .cpu = 0, .pid = static_cast<pid_t>(10 + i), .comm = comms[i],
                     .event = names[i], .details = "", .fields = {}};
        batch.emplace_back(std::move(e), owners[i]);
    }
    EventJsonWriter writer(context);
    for (const auto& [e, o] : batch) {
        INFO(e.event << " task " << e.comm);
        std::string out;
        writer.append(out, e, o);
        CHECK(out == reference(e, context, o));
    }
}
