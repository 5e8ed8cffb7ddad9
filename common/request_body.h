// Request bodies and ids of the trace-session routes, parsed the same way by tracer-node and
// tracer-svc (docs/api.md, "Request bodies"). Pure: text in, values or an error out; any thread.
// Every error is kInvalidArgument with a message naming the bad value.
//
// Keys match without regard to case, as the original's Go decoder did ({"run": true},
// {"Pod": ...}); two keys of one body that differ only in case, a key given twice, an unknown
// key, null, or a value of the wrong type are errors. Strings have length limits (below), so a
// user cannot make every exported event (which carries the context) arbitrarily large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "common/result.h"

namespace ct::api {

// Longest accepted values, in bytes (docs/api.md and docs/operations.md, "Limits").
inline constexpr std::size_t kMaxPatternBytes = 256;     // "pod", "container"
inline constexpr std::size_t kMaxHookNameBytes = 128;    // "trace-hook"
inline constexpr std::size_t kMaxArgumentsBytes = 4096;  // "trace-arguments"
inline constexpr std::size_t kMaxContextBytes = 256;     // "trace-user-context": copied into every event

// The POST /v1/trace-session body.
struct SessionSpec {
    std::string pod;        // glob, or "<namespace-glob>/<pod-glob>"
    std::string container;  // glob
    std::string hook;
    std::string args;       // split on whitespace, never through a shell; never holds --pid
    std::string context;
};

// The top-level members of a JSON object body, keyed by their accepted spelling (one of
// `accepted`, which are distinct without regard to case). Errors: empty body, not JSON, not an
// object, a key given twice (also in differing case: both spellings are named), a key not in
// `accepted` (the accepted ones are listed).
Result<std::map<std::string, boost::json::value, std::less<>>> parse_request_object(
    std::string_view body, std::span<const std::string_view> accepted);

// {"pod", "container", "trace-hook", "trace-arguments", "trace-user-context"}: the first three
// required and not blank, all strings within their limits; trace-arguments must not name --pid
// in any spelling a hook manager accepts (PIDs are the node's, docs/hooks.md).
Result<SessionSpec> parse_session_spec(std::string_view body);

// {"Run": true|false}.
Result<bool> parse_run_request(std::string_view body);

// "all" -> nullopt; the canonical decimal text of a u64 (no sign, no leading zeros, at most
// 18446744073709551615) -> that number.
Result<std::optional<std::uint64_t>> parse_session_id(std::string_view text);

// Pure: true when `a` and `b` are equal without regard to case, as Go's encoding/json matches
// keys (ASCII letters, plus U+017F and U+212A, which fold to 's' and 'k').
bool keys_match(std::string_view a, std::string_view b);

}  // namespace ct::api
