#include "common/http_auth.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

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

Result<std::shared_ptr<TokenSource>> TokenSource::open(std::string path, std::chrono::milliseconds min_interval) {
    // Stamp before reading: a change racing the read is then seen (and re-read) at the next check.
    auto stamp = file_stamp(path);
    if (!stamp) return std::unexpected(stamp.error());
    auto token = read_token_file(path);
    if (!token) return std::unexpected(token.error());
    return std::make_shared<TokenSource>(std::move(path), min_interval, std::move(*token), *stamp);
}

TokenSource::TokenSource(std::string path, std::chrono::milliseconds min_interval, std::string token, FileStamp stamp)
    : watch_(std::move(path), min_interval), token_(std::make_shared<const std::string>(std::move(token))) {
    watch_.accept(stamp);
}

std::shared_ptr<const std::string> TokenSource::current() {
    std::lock_guard lock(mutex_);
    auto stamp = watch_.changed();
    if (!stamp) return token_;
    auto token = read_token_file(watch_.path());
    if (!token) {
        // Not accepting the stamp retries the file at the next look (it may still be being written).
        if (!warned_) spdlog::warn("token file {} changed but {}; keeping the previous token", watch_.path(), token.error().message);
        warned_ = true;  // once per broken version, not every second
        return token_;
    }
    watch_.accept(*stamp);
    warned_ = false;
    if (*token != *token_) {
        token_ = std::make_shared<const std::string>(std::move(*token));
        spdlog::info("token file {} changed: new token in use", watch_.path());
    }
    ++loads_;
    return token_;
}

const std::string& TokenSource::path() const { return watch_.path(); }

size_t TokenSource::loads() const {
    std::lock_guard lock(mutex_);
    return loads_;
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
    std::shared_ptr<const std::string> rotating;
    if (options.token_source) rotating = options.token_source->current();
    const std::string& token = rotating ? *rotating : options.token;
    if (token.empty()) return std::nullopt;
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
    if (!constant_time_equal(presented, token)) return unauthorized("invalid bearer token");
    return std::nullopt;
}

Dispatch with_auth(Dispatch inner, AuthOptions options) {
    if (options.token.empty() && !options.token_source) return inner;
    return [inner = std::move(inner), options = std::move(options)](const Request& request) -> Dispatched {
        if (auto rejected = check_bearer(request, options)) return Dispatched{std::move(*rejected), "unauthorized"};
        return inner(request);
    };
}

}  // namespace ct::http
