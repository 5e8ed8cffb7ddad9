// Bearer-token authentication for HttpServer: one shared secret per server, read from a file.
// with_auth() wraps a Dispatch so every request except the open paths (/healthz, /readyz, and
// /metrics when metrics_open) must carry "Authorization: Bearer <token>"; others get 401 with
// "WWW-Authenticate: Bearer" and {"error": ...}. The token is compared in constant time.
// Pure functions; the wrapped Dispatch is safe to call from any number of pool threads (it only
// reads its captured options). read_token_file() does I/O and is called once at start-up.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http.h"
#include "common/http_server.h"
#include "common/result.h"

namespace ct::http {

struct AuthOptions {
    std::string token;                                       // "" = authentication off
    bool metrics_open = false;                               // /metrics answers without a token
    std::vector<std::string> open_paths{"/healthz", "/readyz"};  // always answer without a token
};

// The token in `path`, surrounding whitespace (a trailing newline) removed.
// Errors: kIo when unreadable, kInvalidArgument when empty.
Result<std::string> read_token_file(const std::string& path);

// Equal contents; time depends only on the lengths, not on where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// nullopt when `request` may proceed; otherwise the 401 response to send.
std::optional<Response> check_bearer(const Request& request, const AuthOptions& options);

// `inner` guarded by check_bearer (route "unauthorized" for rejections). Returns `inner`
// unchanged when options.token is empty, so servers without a token behave as before.
Dispatch with_auth(Dispatch inner, AuthOptions options);

}  // namespace ct::http
