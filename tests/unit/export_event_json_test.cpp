// EventJsonWriter (the exporters' hot path) must write exactly what Boost.JSON serialises for the
// documented event object, for every shape of event, including text that needs escapes.
#include <catch2/catch.hpp>

#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tracer-node/export/trace_event.h"

namespace {

using namespace ct::node;

boost::json::array array_json(const FieldValue& v) {
    boost::json::array a;
    for (std::size_t i = 0; i + 8 <= v.array.size(); i += 8) {
        std::uint64_t x;
        std::memcpy(&x, v.array.data() + i, 8);
        if (v.field->kind == FieldKind::kSignedArray) a.emplace_back(static_cast<std::int64_t>(x));
        else a.emplace_back(x);
    }
    return a;
}

// The exported object as docs/api.md describes it, built with Boost.JSON from the event's
// fields one by one: the writer's oracle.
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
    o["event"] = e.name();
    o["details"] = e.details();
    boost::json::object fields;
    visit_fields(e, [&](const FieldValue& v) {
        boost::json::value value;
        switch (v.field->kind) {
            case FieldKind::kSigned: value = v.as_signed(); break;
            case FieldKind::kUnsigned: value = v.integer; break;
            case FieldKind::kHex: value = fmt::format("{:#x}", v.integer); break;
            case FieldKind::kString: value = v.text; break;
            case FieldKind::kSignedArray:
            case FieldKind::kUnsignedArray: value = array_json(v); break;
        }
        if (!v.field->arg) {
            fields[v.field->name] = std::move(value);
            return;
        }
        auto& args = fields["args"];
        if (!args.is_object()) args.emplace_object();
        args.as_object()[v.field->name] = std::move(value);
    });
    if (!fields.empty()) o["fields"] = std::move(fields);
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

TraceEvent make(const EventType& type, std::uint64_t ts, int cpu, pid_t pid, std::string comm) {
    TraceEvent e;
    e.type = &type;
    e.timestamp_ns = ts;
    e.cpu = cpu;
    e.pid = pid;
    e.comm = std::move(comm);
    return e;
}

void add_array(TraceEvent& e, std::initializer_list<std::uint64_t> values) {
    char* p = e.values.add_array(static_cast<std::uint32_t>(values.size()));
    for (auto v : values) {
        std::memcpy(p, &v, 8);
        p += 8;
    }
}

}  // namespace

TEST_CASE("the event JSON writer writes what Boost.JSON serialises for the event object", "[export][unit]") {
    EventContext context{.node = "node-1", .session_id = "18446744073709551615", .hook = "ftrace/trace_syscalls",
                         .user_context = "ctx \"quoted\" \\ back\tslash\n"};
    EventOwner owner{.pod = "web-0", .pod_namespace = "prod", .container = "nginx"};
    EventOwner no_namespace{.pod = "bare", .pod_namespace = "", .container = "c"};

    // Raw syscall shapes: details printed from the values.
    const EventType enter_type("sys_enter_openat",
                               {{"nr", FieldKind::kSigned, false},
                                {"dfd", FieldKind::kHex, true},
                                {"filename", FieldKind::kHex, true}},
                               EventType::Details::kArgs);
    auto enter = make(enter_type, 1'800'123'456'789ULL, 1, 4242, "getppid_loop");
    enter.values.add_int(257);
    enter.values.add_int(0xffffff9c);
    enter.values.add_int(0x7ffd);
    const EventType exit_type("sys_exit_openat", {{"nr", FieldKind::kSigned, false}, {"ret", FieldKind::kSigned, false}},
                              EventType::Details::kReturn);
    auto exit_event = make(exit_type, 5, 0, 1, "a\x01" "b\x7f\xc3\xa9");
    exit_event.values.add_int(257);
    exit_event.values.add_int(static_cast<std::uint64_t>(-2));
    const EventType getppid_type("sys_enter_getppid", {{"nr", FieldKind::kSigned, false}}, EventType::Details::kArgs);
    auto getppid = make(getppid_type, 999'999'999ULL, 1, 7, "x");
    getppid.values.add_int(110);

    // A generic event with every kind of field, stored details needing escapes.
    const EventType generic_type("sched_\"odd\"",
                                 {{"prio", FieldKind::kSigned, false},
                                  {"big", FieldKind::kUnsigned, false},
                                  {"comm", FieldKind::kString, false},
                                  {"filename", FieldKind::kString, false},
                                  {"saddr", FieldKind::kUnsignedArray, false},
                                  {"deltas", FieldKind::kSignedArray, false},
                                  {"empty", FieldKind::kUnsignedArray, false},
                                  {"wei\\rd", FieldKind::kSigned, false}},
                                 EventType::Details::kStored);
    auto generic = make(generic_type, 3'000'000'001ULL, 3, 9, "sh");
    generic.values.add_string("comm=sh \"q\" \x1f tab\t");
    generic.values.add_int(static_cast<std::uint64_t>(-120));
    generic.values.add_int(18446744073709551615ULL);
    generic.values.add_string("true\n\\");
    generic.values.add_string("/bin/\xc3\xa9t\xc3\xa9");
    add_array(generic, {127, 0, 0, 1});
    add_array(generic, {static_cast<std::uint64_t>(-1), 5});
    add_array(generic, {});
    generic.values.add_int(1);

    // Text-path shapes: stored details, arguments as printed.
    const EventType text_enter("sys_enter_openat", {{"dfd", FieldKind::kString, true}, {"mode", FieldKind::kString, true}},
                               EventType::Details::kStored);
    auto text = make(text_enter, 7, 0, 2, "python3");
    text.values.add_string("dfd: 0xffffff9c, mode: 0");
    text.values.add_string("0xffffff9c");
    text.values.add_string("0");
    const EventType bare_type("sched_switch", {}, EventType::Details::kStored);
    auto bare = make(bare_type, 0, -1, 0, "");
    bare.values.add_string("\b\f\r\x1f");

    for (const auto* e : {&enter, &exit_event, &getppid, &generic, &text, &bare}) {
        for (const auto* o : {static_cast<const EventOwner*>(&owner), static_cast<const EventOwner*>(&no_namespace),
                              static_cast<const EventOwner*>(nullptr)}) {
            INFO(e->name() << " owner " << (o ? o->pod : "none"));
            auto got = fast(*e, context, o);
            CHECK(got == reference(*e, context, o));
            CHECK(boost::json::parse(got).as_object().at("event").as_string() == e->name());
        }
    }
    CHECK(enter.details() == "dfd: 0xffffff9c, filename: 0x7ffd");
    CHECK(exit_event.details() == "0xfffffffffffffffe");
}

TEST_CASE("one event JSON writer reuses repeated members and follows every change", "[export][unit]") {
    // A batch in the order a capture gives it: owners, tasks and event names repeat, alternate
    // and change; every line must still be the event's own object.
    EventContext context{.node = "n", .session_id = "7", .hook = "h", .user_context = ""};
    EventOwner a{.pod = "web-0", .pod_namespace = "prod", .container = "nginx"};
    EventOwner b{.pod = "web-1", .pod_namespace = "", .container = "nginx \"2\""};
    const char* names[] = {"sys_enter_read", "sys_exit_read", "sys_enter_read", "sys_exit_read",
                           "sys_enter_write", "sys_exit_write", "sched_process_exec", "sys_exit_read", ""};
    const char* comms[] = {"app", "app", "app", "worker", "worker", "app", "", "app\n", "app"};
    const EventOwner* owners[] = {&a, &a, &b, &b, nullptr, &a, &a, &b, &b};
    std::vector<std::unique_ptr<EventType>> types;
    std::vector<std::pair<TraceEvent, const EventOwner*>> batch;
    for (size_t i = 0; i < std::size(names); ++i) {
        types.push_back(std::make_unique<EventType>(names[i], std::vector<EventField>{}, EventType::Details::kStored));
        auto e = make(*types.back(), 1000 + i, 0, static_cast<pid_t>(10 + i), comms[i]);
        e.values.add_string("");
        batch.emplace_back(std::move(e), owners[i]);
    }
    EventJsonWriter writer(context);
    for (const auto& [e, o] : batch) {
        INFO(e.name() << " task " << e.comm);
        std::string out;
        writer.append(out, e, o);
        CHECK(out == reference(e, context, o));
    }
}

TEST_CASE("packed values survive copies and moves, inline and on the heap", "[export][unit]") {
    const EventType type("t", {{"s", FieldKind::kString, false}}, EventType::Details::kStored);
    for (std::size_t size : {std::size_t{3}, std::size_t{500}}) {
        TraceEvent e;
        e.type = &type;
        e.values.add_string("details");
        e.values.add_string(std::string(size, 'x'));
        TraceEvent copy = e;
        TraceEvent moved = std::move(e);
        TraceEvent assigned;
        assigned = copy;
        for (const auto* x : {&copy, &moved, &assigned}) {
            CHECK(x->details() == "details");
            visit_fields(*x, [&](const FieldValue& v) { CHECK(v.text == std::string(size, 'x')); });
        }
    }
}

TEST_CASE("numbers at every width and sign come out as Boost.JSON writes them", "[export][unit]") {
    EventContext context{.node = "n", .session_id = "1", .hook = "h", .user_context = ""};
    const EventType type("ints",
                         {{"s", FieldKind::kSigned, false}, {"u", FieldKind::kUnsigned, false}, {"h", FieldKind::kHex, true}},
                         EventType::Details::kArgs);
    std::vector<std::uint64_t> values{0, 1, 9, 10, 99, 100, 999'999'999, 1'000'000'000, 1'000'000'001,
                                      static_cast<std::uint64_t>(INT64_MAX), static_cast<std::uint64_t>(INT64_MIN),
                                      9'999'999'999'999'999'999ULL, 10'000'000'000'000'000'000ULL, UINT64_MAX};
    for (std::uint64_t p = 10; p < 10'000'000'000'000'000'000ULL; p *= 10)
        for (auto v : {p - 1, p, p + 1}) values.push_back(v);
    EventJsonWriter writer(context);
    for (auto v : values) {
        TraceEvent e = make(type, v, static_cast<int>(v % 7) - 3, static_cast<pid_t>(v), "t");
        e.values.add_int(v);
        e.values.add_int(v);
        e.values.add_int(v);
        INFO(v);
        std::string out;
        writer.append(out, e, nullptr);
        CHECK(out == reference(e, context, nullptr));
    }
}
