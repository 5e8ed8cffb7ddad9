// Small pure string helpers shared by both programs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct {

// Splits on runs of whitespace; no quoting, no shell. "" -> {}.
std::vector<std::string> split_whitespace(std::string_view text);

// Splits on any of `separators`, dropping empty pieces: "a, b,,c" with ", " -> {a,b,c}.
std::vector<std::string> split_any(std::string_view text, std::string_view separators);

std::string_view trim(std::string_view text);

// Parses a whole decimal unsigned number; nullopt on anything else (sign, spaces, overflow).
std::optional<unsigned long long> parse_u64(std::string_view text);

// A listen or connect address "host:port", ":port" (all interfaces) or "[v6]:port".
struct HostPort {
    std::string host;  // empty = all interfaces
    unsigned short port = 0;
};
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace ct
