// Result<T>: the one error style across components (docs/architecture.md, "Errors").
// A value or an Error{code, message}; the message names the action and the bad value.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>

namespace ct {

// Kinds of failure; the HTTP layer maps each to a status (http_status()).
enum class Errc {
    kInvalidArgument,   // 400: bad JSON, bad id, bad field value
    kUnauthorized,      // 401
    kNotFound,          // 404: unknown id, hook, no matching containers
    kMethodNotAllowed,  // 405
    kConflict,          // 409
    kTooLarge,          // 413
    kTooMany,           // 429 / 503: a configured limit was reached
    kTimeout,           // 504 when surfaced over HTTP
    kUnavailable,       // 503: a dependency (runtime, tracefs) does not answer
    kBadGateway,        // 502: every upstream failed (tracer-svc)
    kIo,                // 500: a system call failed
    kInternal,          // 500
};

struct Error {
    Errc code = Errc::kInternal;
    std::string message;

    // Prefixes context to an inner error, keeping its code: "reading /proc/42/status: <inner>".
    static Error wrap(const Error& inner, std::string_view context);
};

// std::expected that must not be ignored: a dropped Result is a dropped error (the compiler
// warns). Converts to and from std::expected<T, Error>, so its monadic operations still work.
template <class T>
class [[nodiscard]] Result : public std::expected<T, Error> {
public:
    using std::expected<T, Error>::expected;
    Result(std::expected<T, Error> other) : std::expected<T, Error>(std::move(other)) {}
};
using Status = Result<void>;

inline std::unexpected<Error> fail(Errc code, std::string message) {
    return std::unexpected<Error>(Error{code, std::move(message)});
}

// An Errc::kIo error "<what>: <strerror(err)>".
std::unexpected<Error> fail_errno(std::string_view what, int err = errno);

// HTTP status code that fits an error code.
int http_status(Errc code);

}  // namespace ct
