#include "cli/duration.h"

#include <cctype>

#include <fmt/format.h>

namespace ct::cli {

namespace {

constexpr std::chrono::milliseconds kLongest = std::chrono::hours(24 * 100);

Result<std::chrono::milliseconds> invalid(std::string_view text, std::string_view why) {
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid duration \"{}\": {} (expected e.g. 30s, 500ms, 2m, 1h30m)", text, why));
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return invalid(text, "empty");
    double total_ms = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        size_t whole_end = i;
        if (i < text.size() && text[i] == '.') {
            ++i;
            while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        }
        // Digits before or after the point (".5s" and "5.s" are numbers, "." is not).
        if (whole_end == start && i - whole_end <= 1) return invalid(text, "a number must come first");
        if (i - start > 15) return invalid(text, "number too long");
        double number = std::stod(std::string(text.substr(start, i - start)));
        size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        auto unit = text.substr(unit_start, i - unit_start);
        double scale = 0;
        if (unit == "ms") scale = 1;
        else if (unit == "s") scale = 1000;
        else if (unit == "m") scale = 60'000;
        else if (unit == "h") scale = 3'600'000;
        else if (unit.empty()) return invalid(text, "a unit must follow the number");
        else return invalid(text, fmt::format("unknown unit \"{}\"", unit));
        total_ms += number * scale;
        if (total_ms > static_cast<double>(kLongest.count())) return invalid(text, "longer than 100 days");
    }
    auto ms = std::chrono::milliseconds(static_cast<long long>(total_ms + 0.5));
    if (ms.count() <= 0) return invalid(text, "must be at least 1ms");
    return ms;
}

}  // namespace ct::cli
