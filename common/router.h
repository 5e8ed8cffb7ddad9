// Router: maps (method, path) to handlers. Patterns are literal segments and "{name}" captures:
// "/v1/trace-session/{id}/trace". Unknown path -> 404, known path with another method -> 405
// (with an Allow header), both as {"error": ...}.
// Built once at start-up, then only dispatch() is called, from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/http.h"

namespace ct::http {

using PathParams = std::map<std::string, std::string>;
using Handler = std::function<Response(const Request&, const PathParams&)>;

class Router {
public:
    void add(std::string method, std::string pattern, Handler handler);

    struct Dispatched {
        Response response;
        std::string route;  // the matched pattern ("/v1/trace-session/{id}"), "unmatched" otherwise
    };
    // Runs the matching handler; a handler that throws yields 500 with the exception's text.
    Dispatched dispatch(const Request& request) const;

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };
    std::vector<Route> routes_;
};

// Splits "/a/b/c" into {"a","b","c"}; empty segments are kept except a trailing one.
std::vector<std::string> path_segments(const std::string& path);

}  // namespace ct::http
