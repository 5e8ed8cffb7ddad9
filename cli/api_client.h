// ApiClient: ctrace's connection to one tracer-node or tracer-svc (docs/api.md), over the
// project's blocking HTTP client (common/http_client.h). Adds the server's base path, the bearer
// token and TLS trust, bounds every request (connect 5 s; reads 15 s; session changes 90 s, as the
// server waits for a hook to start or drain), and turns every failure into one line that names
// the server and what went wrong.
// Thread-safety: const members may be called from any number of threads at once (each call has
// its own connection).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "cli/server_url.h"
#include "common/result.h"

namespace boost::asio::ssl {
class context;
}

namespace ct::cli {

// The global options (flags, else environment) that say where and how to connect.
struct ConnectionOptions {
    std::string server = kDefaultServer;  // --server / CTRACE_SERVER
    std::string token_file;               // --token-file / CTRACE_TOKEN_FILE
    std::string token;                    // CTRACE_TOKEN (the token itself; the file wins)
    std::string cacert;                   // --cacert / CTRACE_CACERT (https only)
};

inline constexpr std::chrono::milliseconds kConnectTimeout{5000};
inline constexpr std::chrono::milliseconds kReadTimeout{15000};
inline constexpr std::chrono::milliseconds kChangeTimeout{90000};

class ApiClient {
public:
    // Errors: kInvalidArgument for a bad server URL or CA file, kIo/kInvalidArgument for an
    // unreadable or empty token file (the message names the file).
    static Result<ApiClient> open(const ConnectionOptions& options);

    const ServerUrl& server() const { return server_; }

    // One request to a JSON route ("/v1/pods"); GET is bounded by kReadTimeout, other methods
    // by kChangeTimeout. Returns the answer's JSON on 2xx. Errors (one line, naming the server):
    // kUnavailable / kTimeout when it cannot be reached or does not answer in time; for an HTTP
    // error the server's {"error"} message with the status, code kUnauthorized (401/403),
    // kNotFound (404), kInvalidArgument (400), kTooMany (429), else kInternal.
    Result<boost::json::value> call(std::string_view method, std::string_view route, std::string body = {}) const;

    struct StreamHandlers {
        std::function<void()> on_open;                         // the server answered 200
        std::function<bool(std::string_view lines)> on_lines;  // whole lines, each ending in '\n'; false: stop
        std::function<bool()> keep_going;                      // asked at least every 250 ms; false: stop
    };
    // Reads a JSON-lines route (GET) until the server ends it or a handler says stop. The status
    // and headers must come within kReadTimeout. A trailing piece without '\n' is handed over
    // when the stream ends. Errors as call(); a connection that breaks mid-stream ends it without
    // an error (the caller asks the server what happened).
    Status stream(std::string_view route, const StreamHandlers& handlers) const;

    struct DownloadHandlers {
        std::function<void()> on_open;                       // the server answered 200
        std::function<bool(std::string_view piece)> on_data;  // the body as it arrives, byte for byte; false: stop
        std::function<bool()> keep_going;                    // asked at least every 250 ms; false: stop
    };
    // Reads any route's body (GET), e.g. a recording (trace.dat), until its end or a handler says
    // stop. Errors as stream(); a stop by a handler is not an error. Returns whether the body
    // was read to its end.
    Result<bool> download(std::string_view route, const DownloadHandlers& handlers) const;

private:
    ApiClient() = default;
    struct Prepared;
    Prepared prepare(std::string_view method, std::string_view route) const;

    ServerUrl server_;
    std::string token_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace ct::cli
