// Test fixtures that start real things and clean up in their destructors, even when a check
// fails: a tracer-node process on a loopback port, "pods" made with unshare, temp dirs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/http_client.h"
#include "common/subprocess.h"

namespace ct::test {

// A free TCP port on 127.0.0.1 (bound and released; good enough on a test machine).
unsigned short free_port();

// A fresh directory under /tmp, removed recursively on destruction.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "ct-test");
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

// The ftrace instances whose names start with `prefix` present now. Other engineers' and other
// tests' nodes may have instances of their own: a test checks its own node's (TracerNode::instances).
std::vector<std::string> ftrace_instances(const std::string& prefix = "ctrace_");

struct NodeOptions {
    std::string hooks_dir;                // default: the built hooks (CT_HOOKS_DIR)
    std::vector<std::string> extra_args;  // appended to the command line
    std::string node_name = "test-node";
    bool use_procfs = true;
    // Runs tracer-node through this command (e.g. {"unshare", "-m", ...}); it must exec its
    // arguments so that pid() stays tracer-node's.
    std::vector<std::string> wrapper;
    // --state-dir; empty: a fresh one inside this node's temp dir, so concurrent test nodes never
    // share sessions and nothing is written to /var/lib. Give a TempDir's path to restart a node
    // on the same state.
    std::string state_dir;
    // --trace-output; empty: events.jsonl inside this node's temp dir.
    std::string trace_output;
};

// tracer-node on 127.0.0.1:<free port>, JSON lines to a temp file. Stopped with SIGTERM (then
// SIGKILL) on destruction.
class TracerNode {
public:
    explicit TracerNode(NodeOptions options = {});
    ~TracerNode();

    unsigned short port() const { return port_; }
    pid_t pid() const { return process_.pid(); }
    Subprocess& process() { return process_; }

    // One request; REQUIREs that it got an HTTP answer.
    http::ClientResponse request(const std::string& method, const std::string& target, const std::string& body = "");
    boost::json::value get_json(const std::string& target);
    // POST a session; REQUIREs 200 and returns its id.
    std::string create_session(const std::string& pod, const std::string& container, const std::string& args,
                               const std::string& hook = "trace_syscalls", const std::string& context = "test");
    void run(const std::string& id, bool on);

    // Every exported event so far (parsed JSON lines).
    std::vector<boost::json::object> events() const;
    // Count of events with `event` name (empty = any) from `pid` (0 = any) in session `id` ("" = any).
    size_t count(const std::string& event, pid_t pid, const std::string& id = "") const;
    std::string log() const;  // its stderr so far
    // "ctrace_<tag>_": what this node's hooks name their ftrace instances (its state dir's node-id).
    std::string instance_prefix() const;
    // This node's ftrace instances present now.
    std::vector<std::string> instances() const;
    const std::string& state_dir() const { return state_dir_; }
    const std::string& trace_output() const { return trace_output_; }

private:
    TempDir dir_;
    std::string trace_output_;
    std::string log_path_;
    std::string state_dir_;
    unsigned short port_ = 0;
    Subprocess process_;
};

// A "pod": `unshare --uts --pid --fork --mount-proc` running a small control loop under its own
// hostname. exec() runs a command inside it as a child of the pod's shell (so a session's
// event-fork follows it) and waits for it. extra_processes sleeping children make a
// multi-process pod. Killed (whole process group) on destruction.
class Pod {
public:
    explicit Pod(std::string name, int extra_processes = 0);
    ~Pod();

    const std::string& name() const { return name_; }
    pid_t unshare_pid() const { return process_.pid(); }
    // Host PIDs of the pod's processes (the unshare child and its descendants), sorted.
    std::vector<pid_t> host_pids() const;
    // Host PIDs of its extra_processes sleeping children, sorted; waits (up to 5 s) until they
    // all run `sleep` (the pod answers its name before its children have exec'd).
    std::vector<pid_t> sleepers() const;
    // Runs `command` (sh syntax) inside the pod; returns its stdout. REQUIREs it finished
    // within `timeout`.
    std::string exec(const std::string& command, std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // The same without Catch assertions, for threads other than the test's (Catch is not
    // thread-safe): the exit code, or nullopt on timeout. Calls on one pod must not overlap.
    std::optional<int> run(const std::string& command, std::chrono::milliseconds timeout = std::chrono::seconds(60));

private:
    struct Finished {
        int code;
        std::string output_path;  // the command's stdout, in a file
    };
    // Both of the above: hands the command to the pod's shell loop and waits for its exit code.
    std::optional<Finished> run_command(const std::string& command, std::chrono::milliseconds timeout);

    std::string name_;
    int extra_processes_ = 0;
    TempDir dir_;
    Subprocess process_;
    int seq_ = 0;
};

// Path of a built binary under the build tree, e.g. "bench/getppid_loop".
std::string built(const std::string& relative);

// The shell command that makes `n` getppid calls (bench/workloads/getppid_loop), for Pod::exec.
std::string loop_command(long n);

// The "error" text of an API error answer; REQUIREs that the body is {"error": "..."}.
std::string error_of(const http::ClientResponse& r);

// A whole (small) file; "" when it cannot be read.
std::string read_text(const std::filesystem::path& path);

}  // namespace ct::test
