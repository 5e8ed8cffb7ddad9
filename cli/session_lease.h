// SessionLease: the trace sessions a command makes for its own use (`top`, `record`): created
// and started by open(), stopped by stop(), and deleted when the lease ends, however the command
// ends (an error, a signal, the timeout). Through tracer-svc one session per node is created.
// A create whose answer was lost is cleaned up by its generated context, as `trace` does.
// Single-threaded: used from the command's thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/model.h"
#include "cli/trace_run.h"
#include "common/result.h"

namespace ct::cli {

class SessionLease {
public:
    // Creates the sessions of `spec` and starts them, unless `interrupted()` turns true first
    // (then the lease holds what was created, not started). Errors: the server's (naming the
    // request); whatever was created is deleted before returning.
    static Result<SessionLease> open(const ApiClient& api, const SessionSpec& spec,
                                     const std::function<bool()>& interrupted);
    SessionLease(SessionLease&& other) noexcept;
    SessionLease& operator=(SessionLease&&) = delete;
    SessionLease(const SessionLease&) = delete;
    ~SessionLease();  // deletes every session; failures are said on stderr

    const std::vector<SessionEntry>& sessions() const { return sessions_; }
    // PUT {"Run": false} on each (the server drains what was captured). First error returned.
    Status stop();
    // The sessions as the server sees them now (Stats).
    Result<std::vector<SessionEntry>> refresh() const;

private:
    SessionLease(const ApiClient& api, std::vector<SessionEntry> sessions) : api_(&api), sessions_(std::move(sessions)) {}
    const ApiClient* api_;
    std::vector<SessionEntry> sessions_;
};

std::string session_route(const std::string& id);

}  // namespace ct::cli
