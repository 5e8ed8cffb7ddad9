#include <catch2/catch.hpp>

#include "common/http.h"
#include "common/strings.h"

using namespace ct;

TEST_CASE("split_whitespace splits on runs of any whitespace and drops empties", "[unit]") {
    CHECK(split_whitespace("") == std::vector<std::string>{});
    CHECK(split_whitespace("  -s  getppid\topenat\n") == std::vector<std::string>{"-s", "getppid", "openat"});
}

TEST_CASE("split_any drops empty pieces", "[unit]") {
    CHECK(split_any("/run, /var/run,,x", ", ") == std::vector<std::string>{"/run", "/var/run", "x"});
}

TEST_CASE("parse_u64 accepts only whole unsigned decimals", "[unit]") {
    CHECK(parse_u64("6903485068587058765") == 6903485068587058765ULL);
    CHECK(parse_u64("18446744073709551615") == 18446744073709551615ULL);
    CHECK_FALSE(parse_u64("18446744073709551616"));
    CHECK_FALSE(parse_u64("-1"));
    CHECK_FALSE(parse_u64("+1"));
    CHECK_FALSE(parse_u64("12a"));
    CHECK_FALSE(parse_u64(""));
    CHECK_FALSE(parse_u64(" 1"));
}

TEST_CASE("parse_host_port reads :port, host:port and [v6]:port", "[unit]") {
    auto a = parse_host_port(":8080");
    REQUIRE(a);
    CHECK(a->host.empty());
    CHECK(a->port == 8080);
    auto b = parse_host_port("127.0.0.1:9");
    REQUIRE(b);
    CHECK(b->host == "127.0.0.1");
    auto c = parse_host_port("[::1]:80");
    REQUIRE(c);
    CHECK(c->host == "::1");
    for (auto bad : {"8080", ":0", ":65536", ":x", "::1:80", ""}) {
        auto r = parse_host_port(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::kInvalidArgument);
        CHECK(r.error().message.find(std::string("\"") + bad + "\"") != std::string::npos);
    }
}

TEST_CASE("request metrics label only the standard methods, anything else as other", "[unit]") {
    CHECK(ct::http::metric_method("GET") == "GET");
    CHECK(ct::http::metric_method("DELETE") == "DELETE");
    CHECK(ct::http::metric_method("get") == "other");
    CHECK(ct::http::metric_method("XYZZY") == "other");
    CHECK(ct::http::metric_method("") == "other");
}
