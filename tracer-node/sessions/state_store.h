// StateStore: the sessions of this tracer-node on disk (--state-dir), so they survive a restart
// with the same ids, plus the start-up cleanup of what a crashed previous run left on the host.
//
// One file per session (<dir>/session-<id>.json, format in state_codec.h), not one file for all:
// a change rewrites only that session's small file (no cost growing with the session count, no
// lock across sessions), DELETE is an unlink, and a damaged file loses one session, not all.
// Every write is atomic: <name>.tmp in the same directory, fsync, rename over <name>, fsync the
// directory. A file that cannot be read back is logged and moved aside to
// <name>.corrupt-<unix time>; the others still load.
//
// The directory also keeps the agent's tag (<dir>/node-id, see tag()).
//
// One agent per directory: open() holds an exclusive flock on <dir>/lock for the store's
// lifetime (released by the kernel when the process dies, so a crash never blocks the restart).
//
// Thread-safety: save() and erase() may be called from any thread; callers serialise the calls
// for one session (SessionManager does, with the session's op mutex). load() is for start-up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "tracer-node/discovery/procfs_parse.h"
#include "tracer-node/sessions/state_codec.h"

namespace ct::node {

class StateStore {
public:
    // Creates `dir` (and parents; `dir` itself mode 0700) when missing, locks it and loads (or makes)
    // the agent tag. Errors: kConflict when another live process holds the directory, kIo when it
    // cannot be created or written, kInvalidArgument when node-id holds something else than a tag.
    static Result<std::unique_ptr<StateStore>> open(const std::string& dir);

    struct Loaded {
        std::vector<SessionRecord> sessions;   // sorted by id
        std::vector<std::string> moved_aside;  // new paths of files that could not be read
    };
    // Reads every session file. Never fails as a whole: unreadable files are moved aside (or
    // only logged when even that fails); temp files of interrupted writes are removed.
    Loaded load();

    // Atomically replaces the session's file. kIo naming the file on failure.
    Status save(const SessionRecord& record);
    // Removes the session's file (absent counts as removed). kIo on failure.
    Status erase(SessionId id);

    const std::string& dir() const { return dir_; }
    // This agent's identity: lowercase hex kept in <dir>/node-id (made on first open). It names
    // the ftrace instances of this agent's hooks (capture/ftrace_instance.h), so a restarted
    // agent knows its own leftovers and never touches another's.
    const std::string& tag() const { return tag_; }

private:
    StateStore(std::string dir, FD lock, std::string tag)
        : dir_(std::move(dir)), lock_(std::move(lock)), tag_(std::move(tag)) {}

    std::string dir_;
    FD lock_;
    std::string tag_;
};

// Start-up cleanup of one run a previous agent recorded and did not stop: SIGKILLs its hook when
// that PID still is the same live process (same start time under `procfs_root`) and waits for it to
// go, then turns tracing off in its ftrace instance and removes it, retrying while the kernel
// answers EBUSY. Anything gone already counts as done. Errors name the PID or the instance.
Status clean_up_run(const RunRecord& run, const std::string& procfs_root);

// <procfs_root>/<pid>/stat, parsed. kNotFound when the process is gone.
Result<ProcStat> read_process_stat(const std::string& procfs_root, pid_t pid);

}  // namespace ct::node
