#include "common/http_auth.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace ct::http {

Result<std::string> read_token_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail_errno("reading token file \"" + path + "\"");
    std::ostringstream text;
    text << in.rdbuf();
    std::string token = text.str();
    auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!token.empty() && is_space(token.back())) token.pop_back();
    token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), is_space));
    if (token.empty()) return fail(Errc::kInvalidArgument, "token file \"" + path + "\" is empty");
    return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Walk the longer length every time and fold the length difference in, so neither the
    // position of the first difference nor an early length check shows in the timing.
    size_t n = std::max(a.size(), b.size());
    volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff = diff | static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

namespace {

Response unauthorized(std::string message) {
    Response r = error_response(401, std::move(message));
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"container-tracer\"");
    return r;
}

}  // namespace

std::optional<Response> check_bearer(const Request& request, const AuthOptions& options) {
    if (options.token.empty()) return std::nullopt;
    if (std::ranges::find(options.open_paths, request.path) != options.open_paths.end()) return std::nullopt;
    if (options.metrics_open && request.path == "/metrics") return std::nullopt;
    std::string header = request.header("authorization");
    if (header.empty()) return unauthorized("missing bearer token (Authorization: Bearer <token>)");
    constexpr std::string_view kScheme = "bearer ";
    if (header.size() <= kScheme.size() ||
        !std::equal(kScheme.begin(), kScheme.end(), header.begin(),
                    [](char s, char h) { return s == std::tolower(static_cast<unsigned char>(h)); }))
        return unauthorized("Authorization header is not a bearer token");
    std::string_view presented(header);
    presented.remove_prefix(kScheme.size());
    while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
    while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
    if (!constant_time_equal(presented, options.token)) return unauthorized("invalid bearer token");
    return std::nullopt;
}

Dispatch with_auth(Dispatch inner, AuthOptions options) {
    if (options.token.empty()) return inner;
    return [inner = std::move(inner), options = std::move(options)](const Request& request) -> Dispatched {
        if (auto rejected = check_bearer(request, options)) return Dispatched{std::move(*rejected), "unauthorized"};
        return inner(request);
    };
}

}  // namespace ct::http
