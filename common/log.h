// Logging: spdlog to stderr (stdout may carry exported JSON lines).
#pragma once

#include <spdlog/spdlog.h>

namespace ct {

// Sets up the default logger once, from main(). verbose -> debug level.
void init_logging(bool verbose, const char* program);

}  // namespace ct
