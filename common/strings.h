// Small pure string helpers shared by both programs.
#pragma once

#include <cstdint>
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

// Length of the valid UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF)
// prefix of `text`; text.size() when all of it is valid.
size_t valid_utf8_prefix(std::string_view text);
// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD. For foreign bytes
// (kernel text, task names, node answers, request paths) on their way into JSON: Boost.JSON
// writes string bytes as they are, and a consumer rejects a document that is not UTF-8.
std::string to_valid_utf8(std::string_view text);

// Unix nanoseconds as RFC 3339 in UTC with nanoseconds: "2026-12-07T00:18:52.123456789Z".
std::string rfc3339(std::int64_t unix_ns);

}  // namespace ct
