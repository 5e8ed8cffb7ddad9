// Trace-session request bodies and ids as both tiers parse them: tracer-node (sessions/session.h)
// and tracer-svc (svc_api.h check_*), which must agree on every body (docs/api.md, "Request
// bodies"). Every case runs through both.
#include <catch2/catch.hpp>

#include <functional>

#include <fmt/format.h>

#include "tracer-node/sessions/session.h"
#include "tracer-svc/api/svc_api.h"

using namespace ct;

namespace {

// The seed's session.json, byte for byte (tabs and all).
constexpr const char* kSeedSession = "{\n\t\"pod\": \"jaeger*\",\n\t\"container\": \"*\",\n\t\"trace-hook\": "
                                     "\"trace_syscalls\",\n\t\"trace-arguments\": \"\",\n\t\"trace-user-context\": "
                                     "\"test\"\n}\n";

// The error both tiers give for `body` (they must agree, word for word), or "" when both accept it.
template <class NodeResult, class SvcResult>
std::string error_of_both(const std::string& body, const NodeResult& node, const SvcResult& svc) {
    INFO(body);
    REQUIRE(static_cast<bool>(node) == static_cast<bool>(svc));
    if (node) return "";
    CHECK(node.error().code == Errc::kInvalidArgument);
    CHECK(svc.error().message == node.error().message);
    return node.error().message;
}

std::string post_error(const std::string& body) {
    return error_of_both(body, node::parse_session_spec(body), svc::check_session_spec(body));
}

std::string put_error(const std::string& body) {
    return error_of_both(body, node::parse_run_request(body), svc::check_run_body(body));
}

std::string spec_body(const std::string& pod, const std::string& extra = "") {
    return fmt::format(R"({{"pod": "{}", "container": "*", "trace-hook": "trace_syscalls"{}}})", pod, extra);
}

}  // namespace

TEST_CASE("request bodies: the seed's examples parse on both tiers", "[unit]") {
    CHECK(post_error(kSeedSession) == "");
    auto spec = node::parse_session_spec(kSeedSession);
    REQUIRE(spec);
    CHECK(spec->pod == "jaeger*");
    CHECK(spec->container == "*");
    CHECK(spec->hook == "trace_syscalls");
    CHECK(spec->args == "");
    CHECK(spec->context == "test");
    CHECK(put_error(R"({"Run": true})") == "");
    CHECK(node::parse_run_request(R"({"Run": true})").value() == true);
    CHECK(node::parse_run_request("{\"Run\": false}\n").value() == false);
}

TEST_CASE("request bodies: keys match without regard to case, as the original's decoder did", "[unit]") {
    CHECK(node::parse_run_request(R"({"run": true})").value() == true);
    CHECK(node::parse_run_request(R"({"RUN": false})").value() == false);
    CHECK(node::parse_run_request(R"({"rUn": true})").value() == true);
    CHECK(put_error(R"({"run": true})") == "");
    auto spec = node::parse_session_spec(R"({"Pod": "x*", "CONTAINER": "c", "Trace-Hook": "trace_syscalls",
                                            "TRACE-ARGUMENTS": "-s getppid", "Trace-User-Context": "ctx"})");
    REQUIRE(spec);
    CHECK(spec->pod == "x*");
    CHECK(spec->container == "c");
    CHECK(spec->hook == "trace_syscalls");
    CHECK(spec->args == "-s getppid");
    CHECK(spec->context == "ctx");
    CHECK(post_error(R"({"Pod": "x*", "Container": "*", "Trace-Hook": "trace_syscalls"})") == "");
    // Go folds these two non-ASCII letters to 's' and 'k' too.
    CHECK(post_error("{\"pod\": \"x\", \"container\": \"*\", \"trace-hoo\xE2\x84\xAA\": \"h\"}") == "");
    CHECK(api::keys_match("trace-arguments", "TRACE-ARGUMENT\xC5\xBF"));
    CHECK_FALSE(api::keys_match("pod", "pods"));
}

TEST_CASE("request bodies: a key twice, in any case, is refused naming both spellings", "[unit]") {
    CHECK_THAT(post_error(R"({"pod": "a", "Pod": "b", "container": "*", "trace-hook": "h"})"),
               Catch::Contains("\"pod\" and \"Pod\""));
    CHECK_THAT(post_error(R"({"pod": "a", "pod": "b", "container": "*", "trace-hook": "h"})"),
               Catch::Contains("field \"pod\" is given twice"));
    CHECK_THAT(put_error(R"({"Run": true, "run": false})"), Catch::Contains("\"Run\" and \"run\""));
    CHECK_THAT(put_error(R"({"Run": true, "Run": true})"), Catch::Contains("\"Run\" is given twice"));
    // Nested objects are values, not keys of the body: their keys are not compared.
    CHECK_THAT(post_error(R"({"pod": {"a": 1, "a": 2}, "container": "*", "trace-hook": "h"})"),
               Catch::Contains("\"pod\" must be a string"));
}

TEST_CASE("request bodies: unknown keys are refused listing the accepted ones", "[unit]") {
    CHECK_THAT(post_error(spec_body("a", R"(, "trace_hook": "y")")),
               Catch::Contains("unknown field \"trace_hook\"") &&
                   Catch::Contains("pod, container, trace-hook, trace-arguments, trace-user-context"));
    CHECK_THAT(put_error(R"({"Run": true, "now": 1})"), Catch::Contains("unknown field \"now\"") &&
                                                            Catch::Contains("accepted: Run"));
}

TEST_CASE("request bodies: empty, null, wrong types and missing fields name the problem", "[unit]") {
    for (auto body : {"", "  \n", "\t"}) {
        CHECK_THAT(post_error(body), Catch::Contains("request body is empty"));
        CHECK_THAT(put_error(body), Catch::Contains("request body is empty"));
    }
    CHECK_THAT(post_error("{"), Catch::Contains("not valid JSON"));
    CHECK_THAT(post_error(R"({"pod": "a"} x)"), Catch::Contains("not valid JSON"));
    CHECK_THAT(post_error("[1]"), Catch::Contains("must be a JSON object"));
    CHECK_THAT(put_error("nope"), Catch::Contains("not valid JSON"));
    CHECK_THAT(post_error(spec_body("a", R"(, "trace-arguments": null)")),
               Catch::Contains("\"trace-arguments\" must be a string, got null"));
    CHECK_THAT(post_error(spec_body("a", R"(, "trace-user-context": null)")),
               Catch::Contains("\"trace-user-context\" must be a string, got null"));
    CHECK_THAT(post_error(R"({"pod": null, "container": "*", "trace-hook": "h"})"),
               Catch::Contains("\"pod\" must be a string, got null"));
    CHECK_THAT(post_error(R"({"container":"*","trace-hook":"x"})"), Catch::Contains("missing field \"pod\""));
    CHECK_THAT(post_error(R"({"pod":1,"container":"*","trace-hook":"x"})"), Catch::Contains("\"pod\" must be a string"));
    CHECK_THAT(post_error(R"({"pod":"a","container":"*","trace-hook":" "})"),
               Catch::Contains("\"trace-hook\" must not be empty"));
    CHECK_THAT(put_error("{}"), Catch::Contains("missing field \"Run\""));
    CHECK_THAT(put_error(R"({"Run": null})"), Catch::Contains("\"Run\" must be true or false, got null"));
    CHECK_THAT(put_error(R"({"Run": 1})"), Catch::Contains("\"Run\" must be true or false, got 1"));
    CHECK_THAT(put_error(R"({"Run": "yes"})"), Catch::Contains("\"Run\" must be true or false"));
}

TEST_CASE("request bodies: strings past their limits are refused naming the length and the limit", "[unit]") {
    // docs/api.md: patterns 256 bytes, hook name 128, arguments 4096, user context 256.
    CHECK(post_error(spec_body(std::string(256, 'p'))) == "");
    CHECK_THAT(post_error(spec_body(std::string(257, 'p'))),
               Catch::Contains("\"pod\" is 257 bytes long; the limit is 256 bytes"));
    CHECK(post_error(spec_body("a", fmt::format(R"(, "trace-user-context": "{}")", std::string(256, 'c')))) == "");
    CHECK_THAT(post_error(spec_body("a", fmt::format(R"(, "trace-user-context": "{}")", std::string(10240, 'c')))),
               Catch::Contains("\"trace-user-context\" is 10240 bytes long; the limit is 256 bytes"));
    CHECK_THAT(post_error(spec_body("a", fmt::format(R"(, "trace-arguments": "-s {}")", std::string(4094, 'x')))),
               Catch::Contains("\"trace-arguments\" is 4097 bytes long; the limit is 4096 bytes"));
    CHECK_THAT(post_error(fmt::format(R"({{"pod":"a","container":"{}","trace-hook":"h"}})", std::string(300, '*'))),
               Catch::Contains("\"container\" is 300 bytes long"));
    CHECK_THAT(post_error(fmt::format(R"({{"pod":"a","container":"*","trace-hook":"{}"}})", std::string(129, 'h'))),
               Catch::Contains("\"trace-hook\" is 129 bytes long; the limit is 128 bytes"));
}

TEST_CASE("request bodies: trace-arguments never name PIDs (the node chooses them)", "[unit]") {
    for (auto args : {"--pid 4833 -s openat", "-s openat --pid 1", "--pid=1", "-s getppid\\t--pid=4833,1"}) {
        INFO(args);
        CHECK_THAT(post_error(spec_body("a", fmt::format(R"(, "trace-arguments": "{}")", args))),
                   Catch::Contains("\"trace-arguments\" must not contain \"--pid"));
    }
    // Other options are the hook's to judge.
    CHECK(post_error(spec_body("a", R"(, "trace-arguments": "-s getppid -t 100 --pidfile x")")) == "");
}

TEST_CASE("session ids: all, or canonical decimal u64 text only, on both tiers", "[unit]") {
    auto both = [](const std::string& text) {
        auto node = node::parse_session_id(text);
        auto svc = svc::check_session_id(text);
        INFO(text);
        REQUIRE(static_cast<bool>(node) == static_cast<bool>(svc));
        return node;
    };
    CHECK(both("all").value() == std::nullopt);
    CHECK(both("6903485068587058765").value() == 6903485068587058765ULL);
    CHECK(both("18446744073709551615").value() == 18446744073709551615ULL);
    CHECK(both("0").value() == 0ULL);
    CHECK(svc::check_session_id("6903485068587058765").value() == "6903485068587058765");
    for (auto bad : {"000000000000000000000000000001", "01", "+1", "-1", "", " 1", "1 ", "18446744073709551616",
                     "abc", "ALL", "0x10"}) {
        auto id = both(bad);
        REQUIRE_FALSE(id);
        CHECK_THAT(id.error().message, Catch::Contains(fmt::format("\"{}\"", bad)));
    }
}

TEST_CASE("request bodies: trace-mode and ring-size (flight recorder extension)", "[unit]") {
    auto spec = node::parse_session_spec(spec_body("a", R"(, "Trace-Mode": "flight-recorder", "RING-SIZE": "8M")"));
    REQUIRE(spec);
    CHECK(spec->mode == api::TraceMode::kFlightRecorder);
    CHECK(spec->ring_size == "8M");
    CHECK(spec->ring_bytes == 8u << 20);
    CHECK(node::hook_arguments(*spec) == std::vector<std::string>{"-b", "8192"});
    // Defaults: stream, the hook's own buffer size.
    auto plain = node::parse_session_spec(spec_body("a", R"(, "trace-arguments": "-s getppid")"));
    REQUIRE(plain);
    CHECK(plain->mode == api::TraceMode::kStream);
    CHECK(plain->ring_bytes == 0);
    CHECK(node::hook_arguments(*plain) == std::vector<std::string>{"-s", "getppid"});
    CHECK(post_error(spec_body("a", R"(, "trace-mode": "stream", "ring-size": "512k")")) == "");
    CHECK(node::parse_session_spec(spec_body("a", R"(, "ring-size": "1G")")).error().message.find("1073741824") !=
          std::string::npos);

    CHECK_THAT(post_error(spec_body("a", R"(, "trace-mode": "flight")")),
               Catch::Contains("\"trace-mode\" is \"flight\"") && Catch::Contains("flight-recorder"));
    CHECK_THAT(post_error(spec_body("a", R"(, "trace-mode": 1)")), Catch::Contains("\"trace-mode\" must be a string"));
    for (auto bad : {"8X", "M", "", "-1M", "8 M", "99999999999999999999"})
        CHECK_THAT(post_error(spec_body("a", fmt::format(R"(, "ring-size": "{}")", bad))),
                   Catch::Contains(fmt::format("\"{}\" is not a size", bad)));
    CHECK_THAT(post_error(spec_body("a", R"(, "ring-size": "65M")")),
               Catch::Contains("\"ring-size\" is \"65M\"") && Catch::Contains("--max-ring"));
    CHECK_THAT(post_error(spec_body("a", R"(, "ring-size": "1K")")), Catch::Contains("\"ring-size\" is \"1K\""));
    // The node's own --max-ring.
    CHECK_FALSE(node::parse_session_spec(spec_body("a", R"(, "ring-size": "8M")"), 4u << 20));
    CHECK_THAT(post_error(spec_body("a", R"(, "ring-size": "8M", "trace-arguments": "-b 100")")),
               Catch::Contains("must not contain \"-b\""));
    CHECK_THAT(post_error(spec_body("a", R"(, "ring-size": "8M", "trace-arguments": "--buffer-kb=9")")),
               Catch::Contains("--buffer-kb=9"));
    CHECK(api::parse_size("64MiB").value() == 64u << 20);
    CHECK(api::parse_size("4096").value() == 4096);
    CHECK(api::parse_size("2gb").value() == 2ull << 30);
}
