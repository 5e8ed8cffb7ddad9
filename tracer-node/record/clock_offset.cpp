#include "tracer-node/record/clock_offset.h"

#include <time.h>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/strings.h"

namespace ct::node::record {

namespace {

constexpr int kTries = 5;
// The stats text prints microseconds, cut (not rounded): the clock stood up to 1 us later.
constexpr std::int64_t kHalfTextStepNs = 500;

std::int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

std::optional<std::uint64_t> parse_now_ts(std::string_view text) {
    constexpr std::string_view key = "now ts:";
    auto at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    auto rest = text.substr(at + key.size());
    rest = rest.substr(0, rest.find('\n'));
    rest = trim(rest);
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto secs = parse_u64(rest.substr(0, dot));
    auto frac = rest.substr(dot + 1);
    auto usecs = parse_u64(frac);
    if (!secs || !usecs || frac.size() != 6) return std::nullopt;
    return *secs * 1'000'000'000ULL + *usecs * 1000ULL;
}

std::string selected_clock(std::string_view text) {
    auto open = text.find('[');
    auto close = text.find(']', open);
    if (open == std::string_view::npos || close == std::string_view::npos) return std::string(trim(text));
    return std::string(text.substr(open + 1, close - open - 1));
}

bool clock_counts_ns(std::string_view clock) {
    return clock == "local" || clock == "global" || clock == "uptime" || clock == "perf" || clock.starts_with("mono") ||
           clock == "boot" || clock == "tai";
}

Result<ClockOffset> measure_clock_offset(const std::string& path) {
    std::optional<ClockOffset> best;
    std::int64_t best_window = 0;
    for (int i = 0; i < kTries; ++i) {
        std::string text;
        auto before = realtime_ns();
        int err = read_file(path, text, 4096);
        auto after = realtime_ns();
        if (err != 0) return fail_errno(fmt::format("reading \"{}\"", path), err);
        auto now = parse_now_ts(text);
        if (!now) return fail(Errc::kInvalidArgument, fmt::format("no \"now ts\" in \"{}\"", path));
        auto window = after - before;
        if (best && window >= best_window) continue;
        best_window = window;
        // The kernel read its clock somewhere between the two realtime reads.
        auto mid = before + window / 2;
        best = ClockOffset{mid - (static_cast<std::int64_t>(*now) + kHalfTextStepNs),
                           static_cast<std::uint64_t>(window / 2 + kHalfTextStepNs)};
    }
    return *best;
}

}  // namespace ct::node::record
