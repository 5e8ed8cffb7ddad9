#include "common/glob.h"

#include <fnmatch.h>

#include <string>

namespace ct {

bool glob_match(std::string_view pattern, std::string_view name) {
    if (pattern.empty()) return false;
    // fnmatch needs NUL-terminated strings.
    return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

}  // namespace ct
