// The server ctrace talks to, as given by --server / CTRACE_SERVER. Pure.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ct::cli {

// tracer-node's default port (its --address default ":8080").
inline constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

struct ServerUrl {
    bool tls = false;
    std::string host;       // name or address, IPv6 without brackets
    unsigned short port = 0;
    std::string base_path;  // "" or "/prefix" (no trailing slash): prepended to every route
    std::string text;       // as shown in messages: scheme://host:port[/prefix]
};

// "http://host:port[/prefix]", "https://host[:port][/prefix]", or "host:port" (HTTP); IPv6 in
// brackets. The default port is 80 / 443 by scheme. The prefix serves servers behind a path, e.g.
// `kubectl proxy`'s /api/v1/namespaces/<ns>/services/<svc>:<port>/proxy.
// Errors: kInvalidArgument naming the text and the part that is wrong.
Result<ServerUrl> parse_server_url(std::string_view text);

}  // namespace ct::cli
