#include "tests/support/otlp_receiver.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace ct::test {

namespace json = boost::json;

OtlpReceiver::OtlpReceiver(std::string path)
    : path_(std::move(path)),
      server_({.listen = {"127.0.0.1", 0}, .max_body = 64 << 20}, [this](const http::Request& r) {
          if (r.method != "POST" || r.path != path_)
              return http::Dispatched{http::error_response(404, "no such route"), "other"};
          std::lock_guard lock(mutex_);
          bodies_.push_back(r.body);
          content_types_.push_back(r.header("content-type"));
          return http::Dispatched{http::Response{.status = 200, .body = "{}"}, "otlp"};
      }) {
    auto port = server_.start();
    REQUIRE(port);
    port_ = *port;
}

std::vector<std::string> OtlpReceiver::node_args() const {
    return {"--otlp-endpoint", fmt::format("http://127.0.0.1:{}", port_)};
}

std::vector<std::string> OtlpReceiver::bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
}

std::vector<std::string> OtlpReceiver::content_types() const {
    std::lock_guard lock(mutex_);
    return content_types_;
}

std::vector<json::object> OtlpReceiver::spans() const {
    std::vector<json::object> out;
    for (const auto& body : bodies()) {
        auto v = json::parse(body);
        for (const auto& rs : v.at("resourceSpans").as_array())
            for (const auto& ss : rs.at("scopeSpans").as_array())
                for (const auto& s : ss.at("spans").as_array()) {
                    auto o = s.as_object();
                    o["resource"] = rs.at("resource");
                    out.push_back(std::move(o));
                }
    }
    return out;
}

std::map<std::string, json::value> otlp_attributes(const json::object& span) {
    std::map<std::string, json::value> out;
    for (const auto& a : span.at("attributes").as_array()) {
        const auto& v = a.at("value").as_object();
        out[std::string(a.at("key").as_string())] = v.contains("stringValue") ? v.at("stringValue") : v.at("intValue");
    }
    return out;
}

}  // namespace ct::test
