// The Chrome trace JSON writer (record/chrome_trace_writer.h): events in, a document out, parsed
// back here with Boost.JSON (the integration test loads real output with trace_engine).
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <memory>

#include <boost/json.hpp>

#include "tracer-node/record/chrome_trace_writer.h"

using namespace ct::node;
using namespace ct::node::record;
namespace json = boost::json;

namespace {

// An event of its own type with `fields` (integers and strings; "args": a syscall's arguments).
// Types are kept for the whole test program (events point to them).
TraceEvent syscall(const std::string& event, pid_t tid, std::uint64_t ts, json::object fields = {}) {
    static std::deque<std::unique_ptr<EventType>> types;
    std::vector<EventField> defs;
    std::vector<const json::value*> values;
    auto add = [&](const json::key_value_pair& kv, bool arg) {
        defs.push_back({std::string(kv.key()), kv.value().is_string() ? FieldKind::kString : FieldKind::kSigned, arg});
        values.push_back(&kv.value());
    };
    for (const auto& kv : fields)
        if (kv.key() != "args") add(kv, false);
    if (auto* args = fields.if_contains("args"))
        for (const auto& kv : args->as_object()) add(kv, true);
    types.push_back(std::make_unique<EventType>(event, std::move(defs), EventType::Details::kStored));
    TraceEvent e;
    e.type = types.back().get();
    e.pid = tid;
    e.timestamp_ns = ts;
    e.cpu = 0;
    e.values.add_string("");  // details
    for (const auto* v : values) {
        if (v->is_string()) e.values.add_string(v->as_string());
        else e.values.add_int(static_cast<std::uint64_t>(v->to_number<std::int64_t>()));
    }
    return e;
}

json::array events_of(const std::string& doc) {
    auto v = json::parse(doc);
    return v.at("traceEvents").as_array();
}

std::vector<json::object> with_ph(const json::array& events, const std::string& ph) {
    std::vector<json::object> out;
    for (const auto& e : events)
        if (e.at("ph") == ph.c_str()) out.push_back(e.as_object());
    return out;
}

}  // namespace

TEST_CASE("a syscall's enter and exit become one complete event on its thread", "[unit][record]") {
    EventOwner owner{"web-1", "default", "nginx", "abc"};
    ChromeTask task{100, "loop", &owner};
    ChromeTraceWriter w;
    std::string out;
    ChromeTraceWriter::open_document(out);
    w.add(out, syscall("sys_enter_openat", 101, 5'000'000'001'234, {{"args", json::object{{"dfd", "0xffffff9c"}}}}),
          task, 0);
    w.add(out, syscall("sys_exit_openat", 101, 5'000'000'003'000, {{"nr", 257}, {"ret", 3}}), task, 0);
    w.flush(out);
    w.close_document(out, {{"node", "n1"}});
    INFO(out);
    auto events = events_of(out);

    auto complete = with_ph(events, "X");
    REQUIRE(complete.size() == 1);
    CHECK(complete[0].at("name") == "openat");
    CHECK(complete[0].at("pid") == 100);
    CHECK(complete[0].at("tid") == 101);
    CHECK(complete[0].at("ts").as_double() == Approx(5'000'000'001.234));
    CHECK(complete[0].at("dur").as_double() == Approx(1.766));
    CHECK(complete[0].at("args").at("dfd") == "0xffffff9c");
    CHECK(complete[0].at("args").at("ret") == 3);
    // Exact microseconds with three decimals in the text: no rounding, no exponent.
    CHECK(out.find(R"("ts":5000000001.234,"dur":1.766)") != std::string::npos);

    auto meta = with_ph(events, "M");
    std::map<std::string, json::object> by_name;
    for (const auto& m : meta) by_name[std::string(m.at("name").as_string())] = m;
    CHECK(by_name.at("process_name").at("args").at("name") == "default/web-1/nginx");
    CHECK(by_name.at("process_name").at("pid") == 100);
    CHECK(by_name.at("thread_name").at("args").at("name") == "loop");
    CHECK(by_name.at("thread_name").at("tid") == 101);

    auto doc = json::parse(out).as_object();
    CHECK(doc.at("otherData").at("events") == "1");
    CHECK(doc.at("otherData").at("node") == "n1");
    CHECK(w.events() == 1);
}

TEST_CASE("syscalls without a partner, other events, offsets and pid ranges", "[unit][record]") {
    ChromeTask task{200, "worker", nullptr};
    ChromeTraceWriter w({.pid_base = 30'000'000, .process_prefix = "node-b ", .sort_index = 2});
    std::string out;
    ChromeTraceWriter::open_document(out);
    constexpr std::int64_t kOffset = 1'700'000'000'000'000'000;  // to CLOCK_REALTIME
    // An exit whose enter was not recorded.
    w.add(out, syscall("sys_exit_read", 201, 1'000, {{"ret", 5}}), task, kOffset);
    // An enter whose exit was lost: a second enter follows.
    w.add(out, syscall("sys_enter_write", 201, 2'000), task, kOffset);
    w.add(out, syscall("sys_enter_getppid", 201, 3'000), task, kOffset);
    // Clock skew between CPUs: the exit is stamped before its enter.
    w.add(out, syscall("sys_exit_getppid", 201, 2'900, {{"ret", 1}}), task, kOffset);
    TraceEvent fork = syscall("signal_generate", 201, 4'000, {{"sig", 9}, {"comm", "victim \"x\""}});
    w.add(out, fork, task, kOffset);
    // Still running at the end.
    w.add(out, syscall("sys_enter_nanosleep", 202, 5'000), {200, "sleeper", nullptr}, kOffset);
    w.flush(out);
    w.close_document(out, {});
    INFO(out);
    auto events = events_of(out);

    auto complete = with_ph(events, "X");
    REQUIRE(complete.size() == 1);
    CHECK(complete[0].at("name") == "getppid");
    CHECK(complete[0].at("dur").as_double() == 0.0);
    CHECK(complete[0].at("pid") == 30'000'200);

    auto instants = with_ph(events, "i");
    std::vector<std::string> names;
    for (const auto& i : instants) names.emplace_back(i.at("name").as_string());
    std::ranges::sort(names);
    CHECK(names == std::vector<std::string>{"signal_generate", "sys_enter_nanosleep", "sys_enter_write", "sys_exit_read"});
    for (const auto& i : instants) {
        CHECK(i.at("s") == "t");
        CHECK(i.at("ts").as_double() >= 1.7e15);  // the offset applied
        if (i.at("name") == "signal_generate") {
            CHECK(i.at("args").at("sig") == 9);
            CHECK(i.at("args").at("comm") == "victim \"x\"");
        }
    }
    // One process name and sort index per pid, prefixed; one thread name per tid.
    std::size_t process_names = 0, thread_names = 0;
    for (const auto& m : with_ph(events, "M")) {
        if (m.at("name") == "process_name") {
            ++process_names;
            CHECK(m.at("args").at("name") == "node-b (no container)");
        }
        if (m.at("name") == "process_sort_index") CHECK(m.at("args").at("sort_index") == 2);
        if (m.at("name") == "thread_name") ++thread_names;
    }
    CHECK(process_names == 1);
    CHECK(thread_names == 2);
    CHECK(w.events() == 5);
}

TEST_CASE("a thread renamed by exec gets its new name", "[unit][record]") {
    ChromeTraceWriter w;
    std::string out;
    ChromeTraceWriter::open_document(out);
    w.add(out, syscall("sys_enter_execve", 7, 1), {7, "sh", nullptr}, 0);
    w.add(out, syscall("sys_exit_execve", 7, 2), {7, "ls", nullptr}, 0);
    w.add(out, syscall("sys_enter_getpid", 7, 3), {7, "ls", nullptr}, 0);
    w.flush(out);
    w.close_document(out, {});
    std::vector<std::string> names;
    for (const auto& m : with_ph(events_of(out), "M"))
        if (m.at("name") == "thread_name") names.emplace_back(m.at("args").at("name").as_string());
    CHECK(names == std::vector<std::string>{"sh", "ls"});
}
