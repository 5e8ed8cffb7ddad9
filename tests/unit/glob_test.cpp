#include <catch2/catch.hpp>

#include "common/glob.h"

using ct::glob_match;

TEST_CASE("glob_match follows shell wildcards", "[unit]") {
    CHECK(glob_match("jaeger*", "jaeger-operator-7b46f44865-jvgz8"));
    CHECK(glob_match("*", "anything"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("api-?", "api-1"));
    CHECK_FALSE(glob_match("api-?", "api-12"));
    CHECK(glob_match("[ab]*", "beta"));
    CHECK_FALSE(glob_match("[ab]*", "gamma"));
    CHECK_FALSE(glob_match("jaeger", "jaeger-agent"));
    CHECK(glob_match("kube-system/*", "kube-system/coredns"));
    CHECK_FALSE(glob_match("", "x"));
}
