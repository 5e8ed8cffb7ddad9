// The persisted session JSON and /proc/<pid>/stat parsing, on fixture files.
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "tracer-node/discovery/procfs_parse.h"
#include "tracer-node/sessions/state_codec.h"

using namespace ct::node;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(CT_TESTDATA_DIR) + "/state/" + name);
    REQUIRE(in);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("state codec: a good file decodes to every field", "[unit][state]") {
    auto r = decode_session_record(fixture("good.json"));
    REQUIRE(r);
    CHECK(r->id == 6903485068587058765ull);
    CHECK(r->spec.pod == "jaeger*");
    CHECK(r->spec.container == "*");
    CHECK(r->spec.hook == "trace_syscalls");
    CHECK(r->spec.args == "-s getppid");
    CHECK(r->spec.context == "test");
    REQUIRE(r->containers.size() == 1);
    CHECK(r->containers.at("jaeger-operator-7b46f44865-jvgz8") ==
          std::vector<std::string>{"kube-rbac-proxy", "jaeger-operator"});
    CHECK(r->running);
    REQUIRE(r->run);
    CHECK(r->run->hook_pid == 4242);
    CHECK(r->run->hook_start_time == 123456789u);
    CHECK(r->run->instance_dir == "/sys/kernel/tracing/instances/ctrace_4242_1a2b");
}

TEST_CASE("state codec: encode then decode gives the same record", "[unit][state]") {
    SessionRecord in;
    in.id = 18446744073709551615ull;  // the largest id survives: ids are stored as strings
    in.spec = {.pod = "ns/p*", .container = "c\"quoted\"", .hook = "trace_syscalls", .args = "-s a b", .context = "ü"};
    in.containers = {{"p1", {"c1", "c2"}}, {"p2", {}}};
    SECTION("with a run") {
        in.running = true;
        in.run = RunRecord{.hook_pid = 77, .hook_start_time = 1ull << 40, .instance_dir = "/x/instances/ctrace_77_0"};
    }
    SECTION("without a run, hook printing a plain file") {
        in.running = false;
    }
    auto text = encode_session_record(in);
    auto out = decode_session_record(text);
    INFO(text);
    REQUIRE(out);
    CHECK(out->id == in.id);
    CHECK(out->spec.pod == in.spec.pod);
    CHECK(out->spec.container == in.spec.container);
    CHECK(out->spec.args == in.spec.args);
    CHECK(out->spec.context == in.spec.context);
    CHECK(out->containers == in.containers);
    CHECK(out->running == in.running);
    CHECK(out->run == in.run);
}

TEST_CASE("state codec: damaged files are rejected with the reason", "[unit][state]") {
    auto reason = [](const std::string& text) {
        auto r = decode_session_record(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ct::Errc::kInvalidArgument);
        return r.error().message;
    };
    CHECK_THAT(reason(fixture("truncated.json")), Catch::Contains("not valid JSON"));
    CHECK_THAT(reason(""), Catch::Contains("not valid JSON"));
    CHECK_THAT(reason("[1, 2]"), Catch::Contains("not a JSON object"));
    CHECK_THAT(reason(fixture("wrong_types.json")), Catch::Contains("\"running\"") && Catch::Contains("\"yes\""));
    CHECK_THAT(reason(fixture("unknown_version.json")), Catch::Contains("unsupported state version 7"));
    CHECK_THAT(reason(fixture("bad_instance.json")), Catch::Contains("\"/etc\""));

    // Field by field, starting from the good file.
    auto good = fixture("good.json");
    auto with = [&](const std::string& from, const std::string& to) {
        auto text = good;
        auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        return text.replace(at, from.size(), to);
    };
    CHECK_THAT(reason(with("\"6903485068587058765\"", "6903485068587058765")), Catch::Contains("\"id\""));
    CHECK_THAT(reason(with("\"6903485068587058765\"", "\"0\"")), Catch::Contains("invalid session id"));
    CHECK_THAT(reason(with("\"version\": 1", "\"version\": \"1\"")), Catch::Contains("\"version\""));
    CHECK_THAT(reason(with("\"trace-hook\": \"trace_syscalls\"", "\"trace-hook\": 3")), Catch::Contains("trace-hook"));
    CHECK_THAT(reason(with("\"pod\": \"jaeger*\"", "\"pod\": \"\"")), Catch::Contains("\"pod\""));
    CHECK_THAT(reason(with("[\"kube-rbac-proxy\", \"jaeger-operator\"]", "\"all\"")),
               Catch::Contains("must be an array"));
    CHECK_THAT(reason(with("\"hook-pid\": 4242", "\"hook-pid\": -1")), Catch::Contains("hook-pid"));
    CHECK_THAT(reason(with("\"hook-start-time\": 123456789", "\"hook-start-time\": null")),
               Catch::Contains("hook-start-time"));
    CHECK_THAT(reason(with("/sys/kernel/tracing/instances/ctrace_4242_1a2b", "instances/x")),
               Catch::Contains("absolute"));
    CHECK_THAT(reason(with("\"run\": {", "\"run\": 5, \"x\": {")), Catch::Contains("\"run\""));
}

TEST_CASE("state codec: session file names", "[unit][state]") {
    CHECK(session_file_name(42) == "session-42.json");
    CHECK(session_id_of_file("session-42.json") == 42u);
    CHECK(session_id_of_file(session_file_name(18446744073709551615ull)) == 18446744073709551615ull);
    CHECK_FALSE(session_id_of_file("session-0.json"));
    CHECK_FALSE(session_id_of_file("session-42.json.tmp"));
    CHECK_FALSE(session_id_of_file("session-42.json.corrupt-1700000000"));
    CHECK_FALSE(session_id_of_file("session-x.json"));
    CHECK_FALSE(session_id_of_file("lock"));
}

TEST_CASE("stat start time tells a reused PID apart", "[unit][state]") {
    auto s = parse_stat(fixture("stat_spaces.txt"));  // comm "my proc) name", all 52 fields
    REQUIRE(s);
    CHECK(s->comm == "my proc) name");
    CHECK(s->state == 'S');
    CHECK(s->start_time == 987654u);
    auto short_line = parse_stat("1234 (sh) S 1 2 3");  // fixtures that stop early: no start time
    REQUIRE(short_line);
    CHECK(short_line->start_time == 0u);
    CHECK_FALSE(parse_stat("1 (x) Z 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 notanumber 1"));
}

TEST_CASE("state codec: a flight recorder's mode and ring size round-trip, and stream specs are written as before",
          "[unit][state]") {
    SessionRecord r;
    r.id = 42;
    r.spec = {.pod = "p*", .container = "*", .hook = "trace_syscalls", .args = "-s getppid", .context = "c",
              .mode = ct::api::TraceMode::kFlightRecorder, .ring_size = "2M", .ring_bytes = 2u << 20};
    auto text = encode_session_record(r);
    auto back = decode_session_record(text);
    REQUIRE(back);
    CHECK(back->spec.mode == ct::api::TraceMode::kFlightRecorder);
    CHECK(back->spec.ring_size == "2M");
    CHECK(back->spec.ring_bytes == 2u << 20);
    r.spec.mode = ct::api::TraceMode::kStream;
    r.spec.ring_size.clear();
    r.spec.ring_bytes = 0;
    auto plain = encode_session_record(r);
    CHECK(plain.find("trace-mode") == std::string::npos);
    CHECK(plain.find("ring-size") == std::string::npos);
}
