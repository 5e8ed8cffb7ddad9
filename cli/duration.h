// Durations as people type them on the command line: "30s", "500ms", "2m", "1h", "1m30s", "1.5s".
// Pure.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ct::cli {

// One or more <number><unit> parts (units ms, s, m, h; a number may have a fraction), summed.
// Errors: kInvalidArgument naming the text and what was expected (a missing unit, an unknown
// unit, zero, more than 100 days).
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace ct::cli
