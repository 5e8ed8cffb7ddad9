// Shell-style wildcard matching for pod and container selectors ("jaeger*", "api-?", "[ab]*").
#pragma once

#include <string_view>

namespace ct {

// True when `name` matches `pattern` (fnmatch semantics, no special meaning for '/' or '.').
// An empty pattern matches nothing; "*" matches everything, including the empty name.
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace ct
