#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ct {

void init_logging(bool verbose, const char* program) {
    auto logger = spdlog::stderr_color_mt(program);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace ct
