// Event filter texts (trace-hooks/ftrace/trace_filter.h): a user's filter is parsed and normalised so that
// "(scope) && (<user>)" can only narrow the scope; pid scopes fit the kernel's size limit.
#include <catch2/catch.hpp>

#include <numeric>

#include "trace-hooks/ftrace/trace_filter.h"

using namespace ct;
using namespace ct::hooks::ftrace;

namespace {

std::string error_of(const Result<std::string>& r) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidArgument);
    return r.error().message;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Every pid in [lo, hi] that `filter` (as pid_scope_filter writes it) matches, evaluated here:
// "pid==N" and "(pid>=A&&pid<=B)" terms joined by "||".
std::vector<pid_t> matched(const std::string& filter, pid_t lo, pid_t hi) {
    std::vector<std::pair<pid_t, pid_t>> ranges;
    std::size_t pos = 0;
    while (pos < filter.size()) {
        auto end = filter.find("||", pos);
        if (end == std::string::npos) end = filter.size();
        auto term = filter.substr(pos, end - pos);
        int a = 0, b = 0;
        if (std::sscanf(term.c_str(), "(pid>=%d&&pid<=%d)", &a, &b) == 2) ranges.emplace_back(a, b);
        else if (std::sscanf(term.c_str(), "pid==%d", &a) == 1) ranges.emplace_back(a, a);
        else FAIL("unexpected term " << term);
        pos = end + 2;
    }
    std::vector<pid_t> out;
    for (pid_t p = lo; p <= hi; ++p)
        for (auto [a, b] : ranges)
            if (p >= a && p <= b) {
                out.push_back(p);
                break;
            }
    return out;
}

}  // namespace

TEST_CASE("trace filter: user filters come out with one space between tokens", "[unit]") {
    CHECK(normalize_user_filter("sig==10").value() == "sig == 10");
    CHECK(normalize_user_filter("  sig == 10 &&comm ~ \"sh*\" ").value() == "sig == 10 && comm ~ \"sh*\"");
    CHECK(normalize_user_filter("!(pid == 1) || (sig >= 2 && sig <= 3)").value() ==
          "! ( pid == 1 ) || ( sig >= 2 && sig <= 3 )");
    CHECK(normalize_user_filter("pid & 1").value() == "pid & 1");
    CHECK(normalize_user_filter("ret < -1").value() == "ret < -1");
    CHECK(normalize_user_filter("cpu & CPUS{0-3}").value() == "cpu & CPUS{0-3}");
    CHECK(normalize_user_filter("prev_state != 0x1\tand_more == 2").has_value() == false);  // no operator between
    // Inside a string, structure is text, as the kernel reads it; the quotes stay as given.
    CHECK(normalize_user_filter("comm == \"a) || (b\"").value() == "comm == \"a) || (b\"");
    CHECK(normalize_user_filter("comm == 'x y'").value() == "comm == 'x y'");
}

TEST_CASE("trace filter: filters that would escape their parentheses are refused", "[unit]") {
    // Each of these, put in "(scope) && (<user>)", would make the kernel read something other
    // than "scope and user".
    CHECK(contains(error_of(normalize_user_filter("pid > 0) || (1")), "\")\" at character 8 closes nothing"));
    CHECK(contains(error_of(normalize_user_filter("sig == 1) || (sig == 2")), "closes nothing"));
    CHECK(contains(error_of(normalize_user_filter("(sig == 1")), "\"(\" at character 1 is never closed"));
    CHECK(contains(error_of(normalize_user_filter("sig == 1 ||")), "missing at its end"));
    CHECK(contains(error_of(normalize_user_filter("comm == \"a) || (b")), "never closed"));
    // A quote in the middle of a word would be read differently by the kernel's two passes.
    CHECK(contains(error_of(normalize_user_filter("comm == x\"a) || (1\"")), "expected && or ||"));
    CHECK(contains(error_of(normalize_user_filter("sig == 1\n|| 1")), "control character (0x0a)"));
    CHECK(contains(error_of(normalize_user_filter("   ")), "it is empty"));
    CHECK(contains(error_of(normalize_user_filter("1")), "expected a field name at character 1"));
    CHECK(contains(error_of(normalize_user_filter("sig ==")), "a value is missing after \"sig ==\""));
    CHECK(contains(error_of(normalize_user_filter("sig && 1")), "expected an operator"));
    CHECK(contains(error_of(normalize_user_filter("!sig == 1")), "must be followed by \"(\""));
    CHECK(contains(error_of(normalize_user_filter("sig == 1 sig == 2")), "expected && or ||"));
    std::string deep(kMaxFilterDepth + 1, '(');
    deep += "sig == 1" + std::string(kMaxFilterDepth + 1, ')');
    CHECK(contains(error_of(normalize_user_filter(deep)), "nest deeper"));
    std::string long_filter = "sig == 1";
    while (long_filter.size() <= kMaxUserFilterBytes) long_filter += " || sig == 1";
    CHECK(contains(error_of(normalize_user_filter(long_filter)), "at most 1024"));
    // The message names the filter.
    CHECK(contains(error_of(normalize_user_filter("0) || (1")), "invalid filter \"0) || (1\""));
}

TEST_CASE("trace filter: pid scopes list runs as ranges", "[unit]") {
    CHECK(pid_scope_filter("pid", {}, 4095) == "pid==0");
    CHECK(pid_scope_filter("pid", {7}, 4095) == "pid==7");
    CHECK(pid_scope_filter("pid", {12, 10, 11, 4, 4, -3, 0}, 4095) == "pid==4||(pid>=10&&pid<=12)");
    CHECK(combine_filters("pid==4", "") == "(pid==4)");
    CHECK(combine_filters("pid==4", "sig == 10") == "(pid==4) && (sig == 10)");
}

TEST_CASE("trace filter: a pid scope too long for the kernel bridges its closest gaps", "[unit]") {
    // 1,000 scattered pids: every third one, plus a far cluster.
    std::vector<pid_t> pids;
    for (pid_t p = 1000; p < 4000; p += 3) pids.push_back(p);
    pids.push_back(900000);
    auto exact = pid_scope_filter("pid", pids, 1 << 20);
    CHECK(matched(exact, 1, 1000000) == pids);

    auto bounded = pid_scope_filter("pid", pids, 512);
    CHECK(bounded.size() <= 512);
    // A superset: every session pid still matches; the far one is not swallowed by a range
    // reaching it from the cluster (the biggest gap is bridged last).
    auto got = matched(bounded, 1, 1000000);
    CHECK(std::ranges::includes(got, pids));
    CHECK(std::ranges::find(got, 500000) == got.end());
    CHECK(got.front() == 1000);
    CHECK(got.back() == 900000);
}
