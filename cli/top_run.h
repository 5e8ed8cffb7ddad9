// The lifecycles behind `ctrace top` and `ctrace record` (docs/cli.md): each makes its own
// session(s) through a SessionLease, so they are stopped and deleted however the command ends
// (a signal, the timeout, an error; a second signal quits at once).
// - top: a syscall_stats session; every interval, each session's statistics (GET .../stats) are
//   read and the table of calls/s, errors/s and p50/p99 per container and syscall (cli/top_model.h)
//   is redrawn (in place on a terminal, plain frames otherwise); until a signal, the timeout or the
//   reader of the output leaving.
// - record: a session of any ftrace hook; when a signal or the timeout ends it, the session is
//   stopped and its recording downloaded (GET .../trace.dat or .../trace.json) into the file,
//   written beside it first and renamed when complete. Through tracer-svc with sessions on several
//   nodes, one file per node: <name>.<node>.<ext>.
// Threads: the caller's, and StopSignals' own.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/output.h"
#include "cli/top_model.h"
#include "cli/trace_run.h"

namespace ct::cli {

struct LeaseEnd {
    std::optional<std::chrono::milliseconds> timeout;  // from when the sessions started
    std::string timeout_text;                          // as given, for the last line
};

struct TopSettings {
    TopSort sort = TopSort::kCalls;
    size_t limit = 0;  // rows shown, 0: all
    std::chrono::milliseconds interval{1000};
    LeaseEnd end;
};
int run_top(const ApiClient& api, Output& out, const SessionSpec& spec, const TopSettings& settings);

struct RecordSettings {
    std::string path;  // ends in .dat (trace.dat) or .json (Chrome trace JSON)
    LeaseEnd end;
};
int run_record(const ApiClient& api, const SessionSpec& spec, const RecordSettings& settings);

// The file for one of `sessions` sessions: `path` itself for one, else <stem>.<node>.<ext>
// (the session id when the node is unknown). Pure.
std::string record_path(const std::string& path, size_t sessions, const std::string& node, const std::string& id);

}  // namespace ct::cli
