// Bearer-token authentication for HttpServer: one shared secret per server, read from a file.
// with_auth() wraps a Dispatch so every request except the open paths (/healthz, /readyz, and
// /metrics when metrics_open) must carry "Authorization: Bearer <token>"; others get 401 with
// "WWW-Authenticate: Bearer" and {"error": ...}. The token is compared in constant time.
// The token may come from a TokenSource, which re-reads its file when it changes (a Kubernetes
// Secret update swaps the mounted file through a symlink), so a rotated token is accepted (and the
// old one refused) without a restart.
// check_bearer/with_auth are pure apart from TokenSource::current(); the wrapped Dispatch is safe
// to call from any number of pool threads. read_token_file() does I/O.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_watch.h"
#include "common/http.h"
#include "common/http_server.h"
#include "common/result.h"

namespace ct::http {

// The token in `path`, surrounding whitespace (a trailing newline) removed.
// Errors: kIo when unreadable, kInvalidArgument when empty.
Result<std::string> read_token_file(const std::string& path);

// A token file that is re-read when it changes. current() stats the file (following symlinks) at
// most once per `min_interval`; when its inode, device, size or mtime differ it reads it again. A
// new file that is unreadable or empty is logged as a warning and the previous token stays (a
// half-finished rotation must not lock everybody out); it is retried at the next check.
// Thread-safety: every member may be called from any thread; returned tokens are immutable
// snapshots the caller may keep.
class TokenSource {
public:
    // Reads the file once. Errors: those of read_token_file(), naming the file.
    static Result<std::shared_ptr<TokenSource>> open(std::string path,
                                                     std::chrono::milliseconds min_interval = std::chrono::seconds(1));

    // The token to use now (never empty).
    std::shared_ptr<const std::string> current();
    // Successful reads so far (1 after open()); for tests and logs.
    size_t loads() const;
    const std::string& path() const;

    TokenSource(std::string path, std::chrono::milliseconds min_interval, std::string token, FileStamp stamp);

private:
    mutable std::mutex mutex_;
    FileWatch watch_;
    std::shared_ptr<const std::string> token_;
    size_t loads_ = 1;
    bool warned_ = false;
};

struct AuthOptions {
    std::string token;                                       // fixed token; "" = see token_source
    bool metrics_open = false;                               // /metrics answers without a token
    std::vector<std::string> open_paths{"/healthz", "/readyz"};  // always answer without a token
    // When set, its current token is required instead of `token`. Both unset = authentication off.
    std::shared_ptr<TokenSource> token_source = nullptr;
};

// Equal contents; time depends only on the lengths, not on where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// nullopt when `request` may proceed; otherwise the 401 response to send.
std::optional<Response> check_bearer(const Request& request, const AuthOptions& options);

// `inner` guarded by check_bearer (route "unauthorized" for rejections). Returns `inner`
// unchanged when neither token nor token_source is set, so servers without a token behave as before.
Dispatch with_auth(Dispatch inner, AuthOptions options);

}  // namespace ct::http
