// Shared by the HTTP fuzzers (node_api_fuzz, svc_api_fuzz): raw bytes -> the requests an
// HttpServer connection would hand to its dispatch, and checks every response must pass.
// Pure apart from aborting on a broken invariant (that is how a fuzzer reports a finding).
// Single-threaded: called from the fuzzer's one thread.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "common/http.h"
#include "common/router.h"

namespace ct::fuzz {

// Parses `bytes` as one keep-alive connection's stream: pipelined requests, each through a Beast
// request_parser with the server's default limits (ServerOptions: max_body, max_header), converted
// the way http_server.cpp converts them (method, target, path/query split, lower-cased header
// names, body). Stops at the first malformed or incomplete request (the server answers those
// itself, 400/413/431, without dispatching) or after `max_requests`.
std::vector<http::Request> parse_requests(std::string_view bytes, size_t max_requests);

// What every dispatched answer must satisfy: a status 100..599; a non-stream JSON answer has a
// body that is valid JSON; an error status (>= 400) has the body {"error": "<non-empty text>"}.
// Aborts, naming the request and response, otherwise.
void check_response(const http::Request& request, const http::Response& response);

// One fuzz input as one connection: parse_requests (up to 8), dispatch each through `router`,
// close any stream answer, hand it to `observe` (the program's request observer, may be empty),
// then check_response.
using Observe = std::function<void(const http::Request&, const http::Router::Dispatched&)>;
void serve_input(std::string_view bytes, const http::Router& router, const Observe& observe = {});

}  // namespace ct::fuzz
