// The bridge from Beast's parsed request to our transport-free http::Request (common/http.h),
// shared by the server and the HTTP fuzzers so both see requests exactly alike. Pure.
#pragma once

#include <cctype>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/http.h"

namespace ct::http {

// Header names lower-cased, the query split off the path; `remote` names the peer for logs.
inline Request to_request(const boost::beast::http::request<boost::beast::http::string_body>& in,
                          const std::string& remote) {
    Request r;
    r.method = std::string(in.method_string());
    r.target = std::string(in.target());
    auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    for (const auto& field : in) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
    }
    r.body = in.body();
    r.remote = remote;
    return r;
}

}  // namespace ct::http
