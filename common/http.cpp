#include "common/http.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::http {

std::string Request::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

Response error_response(int status, std::string message) {
    Response r;
    r.status = status;
    // Messages quote what they refuse (ids from the path, node answers): keep the body valid JSON.
    r.body = boost::json::serialize(boost::json::object{{"error", to_valid_utf8(message)}});
    return r;
}

Response error_response(const Error& error) { return error_response(http_status(error.code), error.message); }

Response json_response(const boost::json::value& value, int status) {
    Response r;
    r.status = status;
    r.body = boost::json::serialize(value);
    return r;
}

std::string metric_method(std::string_view method) {
    static constexpr std::string_view kKnown[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (auto known : kKnown)
        if (method == known) return std::string(method);
    return "other";
}

}  // namespace ct::http
