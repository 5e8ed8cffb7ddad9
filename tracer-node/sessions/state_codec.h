// State codec: the JSON of one persisted trace session (what survives a tracer-node restart) and
// the names of session files. Pure: text in, values out; no files, no clocks.
// Any thread may call. Errors are kInvalidArgument naming the field and the bad value.
//
// A session file (version 1):
//   {"version": 1, "id": "6903485068587058765",
//    "spec": {"pod": "jaeger*", "container": "*", "trace-hook": "trace_syscalls",
//             "trace-arguments": "-s getppid", "trace-user-context": "test"},
//    "containers": {"<pod>": ["<container>", ...]},
//    "running": true,
//    "run": {"hook-pid": 4242, "hook-start-time": 123456, "instance": "/sys/.../instances/ctrace_4242_ab"}}
// "running" is the desired state (what the user last asked, or false once the hook ended on its
// own); "run" is what the current run created on the host, so a later start can remove it if this
// agent died without stopping it (absent when nothing runs).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tracer-node/sessions/session.h"

namespace ct::node {

inline constexpr int kStateVersion = 1;

// What one run of a session put on the host.
struct RunRecord {
    pid_t hook_pid = 0;
    std::uint64_t hook_start_time = 0;  // ProcStat::start_time: tells a reused PID apart
    std::string instance_dir;           // "" when the hook's trace file is not a tracefs instance

    bool operator==(const RunRecord&) const = default;
};

struct SessionRecord {
    SessionId id = 0;
    SessionSpec spec;
    Selection containers;
    bool running = false;           // desired state
    std::optional<RunRecord> run;   // the live run, if any
};

std::string encode_session_record(const SessionRecord& record);
// Rejects truncated or non-JSON text, missing fields, wrong types, a zero id, an instance path
// that is not ".../instances/<name>" and any version other than kStateVersion.
Result<SessionRecord> decode_session_record(std::string_view text);

// "session-<id>.json" and back (nullopt for any other name, e.g. temp or moved-aside files).
std::string session_file_name(SessionId id);
std::optional<SessionId> session_id_of_file(std::string_view name);

}  // namespace ct::node
