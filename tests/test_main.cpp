#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

namespace {
// spdlog's registry is made on first use; the tests' servers log from their own threads, and
// libspdlog is not instrumented, so TSan cannot see that first use is synchronised. Make it here,
// before any test starts a thread.
[[maybe_unused]] const auto* const kDefaultLogger = spdlog::default_logger_raw();
}  // namespace
