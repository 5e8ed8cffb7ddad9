// The lifecycle behind `ctrace trace`, `detach` and `attach` (docs/cli.md "How a trace ends"):
// create the session(s) (tracer-svc may create one per node), start them, stream their events
// to stdout (one thread per session), and end on the first of: a stop signal, the timeout, the
// traced containers ending (GET /v1/pods polled every 2 s, cli/container_watch.h), every stream
// ended by the server, stdout's reader leaving. `trace` then stops the sessions — the server
// drains what was captured into the streams, which are read to their end — reads their
// statistics, deletes them and prints a one-line summary on stderr. Signals are handled from the
// first request on: one arriving while the session is created or started is acted on as soon as
// that request returns, so no session is left behind. A second signal stops reading events
// (cleanup goes on), a third quits at once and names the sessions left.
// Threads: the caller's (requests, waiting), one per stream, one for signals (cli/signals.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/model.h"
#include "cli/output.h"

namespace ct::cli {

struct SessionSpec {
    std::string pod;              // the API's pattern: [namespace-glob/]pod-glob
    std::string container = "*";
    std::string hook = "trace_syscalls";
    std::string args;
    // Generated ("ctrace-<hex>") when the user gave none: then a create whose answer was lost
    // (connection broken) can still find and delete the session it may have made.
    std::string context;
    bool context_generated = false;
};

struct StreamSettings {
    bool json = false;                                 // JSON lines as the API sends them
    std::optional<std::chrono::milliseconds> timeout;  // from when the session started
    std::string timeout_text;                          // as given, for the summary
    std::chrono::milliseconds pods_poll{2000};         // how often the containers are checked
};

// Each returns the exit code (kExitOk / kExitFailed) after printing its errors.
int run_trace(const ApiClient& api, Output& out, const SessionSpec& spec, const StreamSettings& settings);
// Creates and starts the session(s), prints their ids on stdout, one per line, and leaves them.
int run_detach(const ApiClient& api, Output& out, const SessionSpec& spec);
// Streams a running session until a signal, the timeout, or its end; never stops or deletes it.
int run_attach(const ApiClient& api, Output& out, const std::string& id, const StreamSettings& settings);

// "/v1/trace-session/<id>".
std::string session_route(const std::string& id);
// POSTs `spec`: the sessions created (one per node through tracer-svc). When the answer was lost
// (connection broken, timeout) and the context was generated, a session that may have been made
// is found by its context and deleted. Errors: the server's; kInternal for an answer without a
// session.
Result<std::vector<SessionEntry>> create_sessions(const ApiClient& api, const SessionSpec& spec);

// "ctrace-" and 8 random hex digits.
std::string generated_context();

}  // namespace ct::cli
