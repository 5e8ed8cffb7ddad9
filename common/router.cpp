#include "common/router.h"

#include <exception>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ct::http {

std::vector<std::string> path_segments(const std::string& path) {
    std::vector<std::string> out;
    size_t pos = path.empty() || path[0] != '/' ? 0 : 1;
    while (pos <= path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string::npos) end = path.size();
        out.push_back(path.substr(pos, end - pos));
        pos = end + 1;
    }
    if (!out.empty() && out.back().empty()) out.pop_back();
    return out;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
    auto segments = path_segments(pattern);
    routes_.push_back({std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

namespace {

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path, PathParams& params) {
    if (pattern.size() != path.size()) return false;
    PathParams found;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const auto& p = pattern[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') found[p.substr(1, p.size() - 2)] = path[i];
        else if (p != path[i]) return false;
    }
    params = std::move(found);
    return true;
}

}  // namespace

Router::Dispatched Router::dispatch(const Request& request) const {
    auto segments = path_segments(request.path);
    std::string allow;
    for (const auto& route : routes_) {
        PathParams params;
        if (!match(route.segments, segments, params)) continue;
        if (route.method != request.method) {
            allow += allow.empty() ? route.method : ", " + route.method;
            continue;
        }
        try {
            return {route.handler(request, params), route.pattern};
        } catch (const std::exception& e) {
            spdlog::error("{} {}: handler failed: {}", request.method, request.path, e.what());
            return {error_response(500, fmt::format("internal error: {}", e.what())), route.pattern};
        }
    }
    if (!allow.empty()) {
        auto r = error_response(405, fmt::format("method {} is not allowed on {} (allowed: {})", request.method,
                                                 request.path, allow));
        r.headers.emplace_back("Allow", allow);
        return {std::move(r), "unmatched"};
    }
    return {error_response(404, fmt::format("no such endpoint: {}", request.path)), "unmatched"};
}

}  // namespace ct::http
