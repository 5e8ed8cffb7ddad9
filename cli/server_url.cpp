#include "cli/server_url.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace ct::cli {

namespace {

Result<ServerUrl> invalid(std::string_view text, std::string_view why) {
    return fail(Errc::kInvalidArgument,
                fmt::format("invalid server \"{}\": {} (expected http://host:port or https://host:port)", text, why));
}

}  // namespace

Result<ServerUrl> parse_server_url(std::string_view text) {
    ServerUrl url;
    std::string_view rest = text;
    if (auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
        auto scheme = rest.substr(0, scheme_end);
        if (scheme == "https") url.tls = true;
        else if (scheme != "http") return invalid(text, fmt::format("unknown scheme \"{}\"", scheme));
        rest.remove_prefix(scheme_end + 3);
    }
    if (rest.find_first_of("?#") != std::string_view::npos) return invalid(text, "no query or fragment allowed");
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view path = rest.substr(authority.size());
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (authority.find('@') != std::string_view::npos)
        return invalid(text, "credentials in the URL are not supported (use --token-file or CTRACE_TOKEN)");

    std::string_view port_text;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return invalid(text, "unclosed [ of an IPv6 address");
        url.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return invalid(text, "expected :port after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) return invalid(text, "empty port");
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        url.host = std::string(authority.substr(0, colon));
        port_text = authority.substr(colon + 1);
        if (port_text.empty()) return invalid(text, "empty port");
    } else {
        url.host = std::string(authority);
    }
    if (url.host.empty()) return invalid(text, "no host");
    if (url.host.find(':') != std::string::npos && !authority.starts_with('['))
        return invalid(text, "an IPv6 address needs brackets, e.g. http://[::1]:8080");
    if (port_text.empty()) {
        url.port = url.tls ? 443 : 80;
    } else {
        auto port = parse_u64(port_text);
        if (!port || *port == 0 || *port > 65535) return invalid(text, fmt::format("bad port \"{}\"", port_text));
        url.port = static_cast<unsigned short>(*port);
    }
    url.base_path = std::string(path);
    bool v6 = url.host.find(':') != std::string::npos;
    url.text = fmt::format("{}://{}{}{}:{}{}", url.tls ? "https" : "http", v6 ? "[" : "", url.host, v6 ? "]" : "",
                           url.port, url.base_path);
    return url;
}

}  // namespace ct::cli
