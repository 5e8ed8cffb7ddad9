#include "common/result.h"

#include <cstring>

#include <fmt/format.h>

namespace ct {

Error Error::wrap(const Error& inner, std::string_view context) {
    return Error{inner.code, fmt::format("{}: {}", context, inner.message)};
}

std::unexpected<Error> fail_errno(std::string_view what, int err) {
    return fail(Errc::kIo, fmt::format("{}: {}", what, std::strerror(err)));
}

int http_status(Errc code) {
    switch (code) {
        case Errc::kInvalidArgument: return 400;
        case Errc::kUnauthorized: return 401;
        case Errc::kNotFound: return 404;
        case Errc::kMethodNotAllowed: return 405;
        case Errc::kConflict: return 409;
        case Errc::kTooLarge: return 413;
        case Errc::kTooMany: return 429;
        case Errc::kTimeout: return 504;
        case Errc::kUnavailable: return 503;
        case Errc::kBadGateway: return 502;
        case Errc::kIo:
        case Errc::kInternal: return 500;
    }
    return 500;
}

}  // namespace ct
