// OtlpReceiver: a loopback OTLP/HTTP receiver for the tests (a real HttpServer on 127.0.0.1, real
// requests from tracer-node's exporters): records every POST body to one path (/v1/traces,
// /v1/metrics) and answers 200 {}. Any thread may call its methods; stop() or destruction ends
// the server.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/http_server.h"

namespace ct::test {

class OtlpReceiver {
public:
    explicit OtlpReceiver(std::string path = "/v1/traces");
    ~OtlpReceiver() { server_.stop(); }
    void stop() { server_.stop(); }
    unsigned short port() const { return port_; }
    // "--otlp-endpoint" "http://127.0.0.1:<port>" for a TracerNode.
    std::vector<std::string> node_args() const;

    std::vector<std::string> bodies() const;
    std::vector<std::string> content_types() const;
    // Every span received so far (/v1/traces bodies), with its resource attributes merged in as
    // "resource".
    std::vector<boost::json::object> spans() const;

private:
    const std::string path_;
    mutable std::mutex mutex_;
    std::vector<std::string> bodies_;
    std::vector<std::string> content_types_;
    http::HttpServer server_;
    unsigned short port_ = 0;
};

// A span's attributes: key -> its stringValue or intValue (OTLP JSON sends integers as strings).
std::map<std::string, boost::json::value> otlp_attributes(const boost::json::object& span);

}  // namespace ct::test
