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

// "trace-mode" (extension, docs/flight-recorder.md): "stream" (the default: events read, decoded
// and exported as they happen) or "flight-recorder" (kept in the ring buffer, dumped on a trigger).
enum class TraceMode { kStream, kFlightRecorder };
inline constexpr std::string_view kTraceModeStream = "stream";
inline constexpr std::string_view kTraceModeFlight = "flight-recorder";
std::string_view trace_mode_name(TraceMode mode);

// "ring-size" (extension): bytes per CPU of the hook's ring buffer, at least one 4 KiB page and at
// most the node's --max-ring (tracer-svc checks against this default, the ftrace manager's -b cap).
inline constexpr std::uint64_t kMinRingBytes = 4096;
inline constexpr std::uint64_t kDefaultMaxRingBytes = 64ull << 20;

// The POST /v1/trace-session body.
struct SessionSpec {
    std::string pod;        // glob, or "<namespace-glob>/<pod-glob>"
    std::string container;  // glob
    std::string hook;
    std::string args;       // split on whitespace, never through a shell; never holds --pid
    std::string context;
    TraceMode mode = TraceMode::kStream;
    std::string ring_size;                  // as given ("8M"); "" = the hook's default
    std::uint64_t ring_bytes = 0;           // ring_size in bytes; 0 when not given
};

// Pure: "<digits>[K|M|G][B|iB]" (binary multiples, any case) in bytes. kInvalidArgument naming
// the text when it is not a size or does not fit in 64 bits.
Result<std::uint64_t> parse_size(std::string_view text);


// The top-level members of a JSON object body, keyed by their accepted spelling (one of
// `accepted`, which are distinct without regard to case). Errors: empty body, not JSON, not an
// object, a key given twice (also in differing case: both spellings are named), a key not in
// `accepted` (the accepted ones are listed).
Result<std::map<std::string, boost::json::value, std::less<>>> parse_request_object(
    std::string_view body, std::span<const std::string_view> accepted);

// {"pod", "container", "trace-hook", "trace-arguments", "trace-user-context", "trace-mode",
// "ring-size"}: the first three required and not blank, all strings within their limits;
// trace-arguments must not name --pid in any spelling a hook manager accepts (PIDs are the
// node's, docs/hooks.md), nor -b/--buffer-kb when ring-size is given; trace-mode is "stream" or
// "flight-recorder"; ring-size a size (parse_size) from kMinRingBytes to `max_ring_bytes`.
Result<SessionSpec> parse_session_spec(std::string_view body, std::uint64_t max_ring_bytes = kDefaultMaxRingBytes);

// {"Run": true|false}.
Result<bool> parse_run_request(std::string_view body);

// "all" -> nullopt; the canonical decimal text of a u64 (no sign, no leading zeros, at most
// 18446744073709551615) -> that number.
Result<std::optional<std::uint64_t>> parse_session_id(std::string_view text);

// Pure: true when `a` and `b` are equal without regard to case, as Go's encoding/json matches
// keys (ASCII letters, plus U+017F and U+212A, which fold to 's' and 'k').
bool keys_match(std::string_view a, std::string_view b);

}  // namespace ct::api
