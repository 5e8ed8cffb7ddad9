#include "cli/session_lease.h"

#include <cstdio>

#include <fmt/format.h>

namespace ct::cli {

Result<SessionLease> SessionLease::open(const ApiClient& api, const SessionSpec& spec,
                                        const std::function<bool()>& interrupted) {
    auto created = create_sessions(api, spec);
    if (!created) return std::unexpected(created.error());
    SessionLease lease(api, std::move(*created));  // from here on, deleted however this ends
    for (const auto& s : lease.sessions_) {
        if (interrupted()) break;
        if (auto r = api.call("PUT", session_route(s.id), R"({"Run": true})"); !r)
            return std::unexpected(Error::wrap(r.error(), fmt::format("starting session {}", s.id)));
    }
    return lease;
}

SessionLease::SessionLease(SessionLease&& other) noexcept
    : api_(other.api_), sessions_(std::move(other.sessions_)) {
    other.sessions_.clear();
}

SessionLease::~SessionLease() {
    for (const auto& s : sessions_) {
        auto r = api_->call("DELETE", session_route(s.id));
        if (!r && r.error().code != Errc::kNotFound)
            std::fprintf(stderr, "ctrace: deleting session %s: %s\n", s.id.c_str(), r.error().message.c_str());
    }
}

Status SessionLease::stop() {
    Status first;
    for (const auto& s : sessions_) {
        auto r = api_->call("PUT", session_route(s.id), R"({"Run": false})");
        if (!r && first) first = std::unexpected(Error::wrap(r.error(), fmt::format("stopping session {}", s.id)));
    }
    return first;
}

Result<std::vector<SessionEntry>> SessionLease::refresh() const {
    std::vector<SessionEntry> out;
    for (const auto& s : sessions_) {
        auto answer = api_->call("GET", session_route(s.id));
        if (!answer) return std::unexpected(answer.error());
        auto parsed = parse_sessions(*answer);
        if (!parsed) return std::unexpected(parsed.error());
        out.insert(out.end(), parsed->begin(), parsed->end());
    }
    return out;
}

}  // namespace ct::cli
