#include "cli/api_client.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/table.h"
#include "common/http_auth.h"
#include "common/http_client.h"
#include "common/strings.h"
#include "common/tls_context.h"

namespace ct::cli {

namespace json = boost::json;

namespace {

// Streams last as long as the user wants; the handlers end them.
constexpr std::chrono::hours kStreamLimit{24 * 365};
constexpr size_t kErrorBodyLimit = 64 * 1024;

Errc code_for_status(int status) {
    switch (status) {
        case 400: return Errc::kInvalidArgument;
        case 401:
        case 403: return Errc::kUnauthorized;
        case 404: return Errc::kNotFound;
        case 429: return Errc::kTooMany;
        case 503: return Errc::kUnavailable;
        default: return Errc::kInternal;
    }
}

// The server's {"error": "..."}, else its body (shortened), made safe to print.
std::string error_text(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (!ec && v.is_object())
        if (const auto* e = v.as_object().if_contains("error"); e && e->is_string())
            return terminal_safe(std::string(e->as_string()));
    std::string text(trim(body));
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return terminal_safe(text.empty() ? "(no message)" : text);
}

}  // namespace

struct ApiClient::Prepared {
    http::ClientRequest request;
    std::string prefix;  // how the HTTP client starts its messages for this request
};

Result<ApiClient> ApiClient::open(const ConnectionOptions& options) {
    ApiClient c;
    auto url = parse_server_url(options.server);
    if (!url) return std::unexpected(url.error());
    c.server_ = std::move(*url);
    if (!options.token_file.empty()) {
        auto token = http::read_token_file(options.token_file);
        if (!token) return std::unexpected(Error::wrap(token.error(), "--token-file"));
        c.token_ = std::move(*token);
    } else {
        c.token_ = std::string(trim(options.token));
    }
    if (c.server_.tls) {
        auto ctx = options.cacert.empty() ? http::make_system_client_context() : http::make_client_context(options.cacert);
        if (!ctx) return std::unexpected(Error::wrap(ctx.error(), "--cacert"));
        c.tls_ = std::move(*ctx);
    }
    return c;
}

ApiClient::Prepared ApiClient::prepare(std::string_view method, std::string_view route) const {
    Prepared p;
    auto& r = p.request;
    r.host = server_.host;
    r.port = server_.port;
    r.method = std::string(method);
    r.target = server_.base_path + std::string(route);
    r.timeout = method == "GET" ? kReadTimeout : kChangeTimeout;
    r.connect_timeout = kConnectTimeout;
    r.tls = tls_;
    if (!token_.empty()) r.headers["Authorization"] = "Bearer " + token_;
    p.prefix = fmt::format("{} {}:{}{}: ", r.method, r.host, r.port, r.target);
    return p;
}

namespace {

// The HTTP client's "<method> <host>:<port><target>: connect failed: Connection refused" as
// "cannot reach <server>: connect failed: Connection refused" (or "did not answer within ...").
// `limit` is the request's timeout; connecting has its own, kConnectTimeout.
Error transport_error(const Error& e, const std::string& prefix, const ServerUrl& server, std::chrono::milliseconds limit) {
    std::string_view what = e.message;
    if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
    bool connecting = what.starts_with("connect ") || what.starts_with("resolve ") || what.starts_with("TLS handshake");
    if (e.code == Errc::kTimeout) {
        auto waited = std::chrono::duration_cast<std::chrono::seconds>(connecting ? kConnectTimeout : limit);
        return Error{e.code, fmt::format("{} did not answer within {} s ({})", server.text, waited.count(), what)};
    }
    if (connecting) return Error{e.code, fmt::format("cannot reach {}: {}", server.text, what)};
    return Error{e.code, fmt::format("{} broke off the exchange: {}", server.text, what)};
}

Error status_error(int status, const std::string& body, const ServerUrl& server, bool have_token) {
    std::string message = fmt::format("{} answered {}: {}", server.text, status, error_text(body));
    if (status == 401)
        message += have_token ? " (the token was refused)" : " (give a token with --token-file or CTRACE_TOKEN)";
    return Error{code_for_status(status), std::move(message)};
}

}  // namespace

Result<json::value> ApiClient::call(std::string_view method, std::string_view route, std::string body) const {
    auto p = prepare(method, route);
    p.request.body = std::move(body);
    auto r = http::send(p.request);
    if (!r) return std::unexpected(transport_error(r.error(), p.prefix, server_, p.request.timeout));
    if (r->status < 200 || r->status > 299) return std::unexpected(status_error(r->status, r->body, server_, !token_.empty()));
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (ec)
        return fail(Errc::kInternal, fmt::format("{} answered {} {} with something that is not JSON: {}", server_.text,
                                                 method, route, error_text(r->body)));
    return v;
}

Result<bool> ApiClient::download(std::string_view route, const DownloadHandlers& handlers) const {
    auto p = prepare("GET", route);
    p.request.timeout = kStreamLimit;
    p.request.header_timeout = kReadTimeout;
    int status = 0;
    std::string error_body;
    bool stopped = false;
    auto on_headers = [&](const http::ClientResponse& head) {
        status = head.status;
        if (status == 200 && handlers.on_open) handlers.on_open();
        return true;
    };
    auto on_data = [&](std::string_view piece) {
        if (status != 200) {
            error_body.append(piece.substr(0, kErrorBodyLimit - std::min(kErrorBodyLimit, error_body.size())));
            return true;
        }
        if (!piece.empty() && !handlers.on_data(piece)) return !(stopped = true);
        if (handlers.keep_going && !handlers.keep_going()) return !(stopped = true);
        return true;
    };
    auto r = http::stream(p.request, on_data, on_headers);
    if (!r) return std::unexpected(transport_error(r.error(), p.prefix, server_, kReadTimeout));
    if (status != 200) return std::unexpected(status_error(status, error_body, server_, !token_.empty()));
    return !stopped;
}

// A download cut into whole lines.
Status ApiClient::stream(std::string_view route, const StreamHandlers& handlers) const {
    std::string pending;
    bool stopped = false;
    auto read = download(route, {.on_open = handlers.on_open,
                                 .on_data =
                                     [&](std::string_view piece) {
                                         pending.append(piece);
                                         auto last = pending.rfind('\n');
                                         if (last == std::string::npos) return true;
                                         bool more = handlers.on_lines(std::string_view(pending).substr(0, last + 1));
                                         pending.erase(0, last + 1);
                                         return more || !(stopped = true);
                                     },
                                 .keep_going = handlers.keep_going});
    if (!read) return std::unexpected(read.error());
    if (!stopped && *read && !pending.empty()) handlers.on_lines(pending + "\n");
    return {};
}

}  // namespace ct::cli
