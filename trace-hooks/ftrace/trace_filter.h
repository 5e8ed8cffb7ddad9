// Pure texts for ftrace event filters (events/<system>/<event>/filter) that a user's filter can
// only narrow: a hook scopes an event to the session's processes and the user's filter is
// ANDed with that scope, never written alone (docs/hooks.md, "trace_events").
// The ftrace manager writes these filters; tracer-node never does. No I/O; any thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct::hooks::ftrace {

// The kernel refuses a filter write of a page (4096 bytes) or more.
inline constexpr std::size_t kMaxFilterBytes = 4095;
// A user's filter, after normalize_user_filter; the rest of a filter is left to the scope.
inline constexpr std::size_t kMaxUserFilterBytes = 1024;
// How deep a user's filter may nest parentheses.
inline constexpr int kMaxFilterDepth = 16;

// Checks a user's filter against the kernel's filter grammar and returns it with one space
// between tokens:
//   expr  := unary (("&&" | "||") unary)*
//   unary := "!" "(" expr ")" | "(" expr ")" | field op value
//   op    := == != < <= > >= & ~
//   value := "text" | 'text' | a word of letters, digits and _ . : * ? + - / , [ ] { }
// Parentheses, && and || appear in the result only as the structure parsed here (inside a
// quoted string they are text, as the kernel reads it), so "(scope) && (<result>)" always means
// "scope and the user's filter": a filter that tries to close the scope's parenthesis or to
// continue after its own is refused. Whether fields exist is the kernel's to say.
// kInvalidArgument naming the problem and where: unbalanced parentheses, an unterminated
// string, a control character, a missing operand, longer than kMaxUserFilterBytes, deeper than
// kMaxFilterDepth; empty (after trimming) is refused too.
Result<std::string> normalize_user_filter(std::string_view text);

// A filter matching events whose integer field `field` is one of `pids` (any order, duplicates
// allowed), consecutive runs as ranges: "pid==4||(pid>=10&&pid<=12)". Never longer than
// `max_bytes`: when the exact list does not fit, the closest ranges are bridged (the filter then
// also matches the pids between them, a superset; tracer-node drops their events at export).
// With no pids it is "<field>==0": pid 0 is the idle task, never a session's, so an empty scope
// matches nothing. Pids <= 0 are ignored. `max_bytes` must be at least 64.
std::string pid_scope_filter(std::string_view field, std::vector<pid_t> pids, std::size_t max_bytes);

// "(<scope>) && (<user>)", or "(<scope>)" when `user` is empty. `user` must come from
// normalize_user_filter.
std::string combine_filters(std::string_view scope, std::string_view user);

}  // namespace ct::hooks::ftrace
