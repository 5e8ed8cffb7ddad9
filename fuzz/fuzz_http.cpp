#include "fuzz/fuzz_http.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "common/http_beast.h"
#include "common/http_server.h"

namespace ct::fuzz {

namespace bhttp = boost::beast::http;

namespace {

[[noreturn]] void broken(const http::Request& request, const http::Response& response, const char* why) {
    std::fprintf(stderr, "fuzz invariant broken: %s\nrequest: %s %s (body %zu bytes)\nresponse: %d %s\n", why,
                 request.method.c_str(), request.target.c_str(), request.body.size(), response.status,
                 response.body.substr(0, 400).c_str());
    std::abort();
}

}  // namespace

std::vector<http::Request> parse_requests(std::string_view bytes, size_t max_requests) {
    const http::ServerOptions limits;
    std::vector<http::Request> out;
    while (!bytes.empty() && out.size() < max_requests) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.eager(true);
        parser.body_limit(limits.max_body);
        parser.header_limit(static_cast<std::uint32_t>(limits.max_header));
        boost::beast::error_code ec;
        while (!parser.is_done()) {
            size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
            bytes.remove_prefix(used);
            if (ec == bhttp::error::need_more && bytes.empty()) {
                parser.put_eof(ec);  // the client closed its side: a body without length ends here
                break;
            }
            if (ec && ec != bhttp::error::need_more) break;
            // No progress (Beast may consume nothing without an error, e.g. between chunks):
            // with every byte of the input already offered, more calls cannot change that.
            if (used == 0) break;
        }
        if (ec || !parser.is_done()) break;
        out.push_back(http::to_request(parser.get(), "127.0.0.1:1"));
        if (!parser.get().keep_alive()) break;
    }
    return out;
}

void check_response(const http::Request& request, const http::Response& response) {
    if (response.status < 100 || response.status > 599) broken(request, response, "status out of range");
    if (response.stream || response.content_type != "application/json") return;
    boost::system::error_code ec;
    auto body = boost::json::parse(response.body, ec);
    if (ec) broken(request, response, "JSON answer is not valid JSON");
    if (response.status < 400) return;
    const auto* object = body.if_object();
    const auto* error = object ? object->if_contains("error") : nullptr;
    if (!error || !error->is_string() || error->as_string().empty())
        broken(request, response, "error answer is not {\"error\": \"<text>\"}");
}

void serve_input(std::string_view bytes, const http::Router& router, const Observe& observe) {
    constexpr size_t kMaxRequests = 8;  // pipelined requests per input
    for (const auto& request : parse_requests(bytes, kMaxRequests)) {
        auto dispatched = router.dispatch(request);
        if (dispatched.response.stream) dispatched.response.stream->close();
        if (observe) observe(request, dispatched);
        check_response(request, dispatched.response);
    }
}

}  // namespace ct::fuzz
