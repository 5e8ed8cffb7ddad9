// Fixtures for the export tests: a real tracer-node process on a loopback port and a "pod"
// (unshare --uts --pid --fork with its own hostname) whose shell waits for a start file, then
// execs a workload. Both clean up in their destructors (by PID), also after failed checks.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_client.h"
#include "common/subprocess.h"
#include "tests/support/fixtures.h"  // free_port, TempDir

namespace ct::test {

inline std::string random_suffix() {
    return fmt::format("{:08x}", std::random_device{}());
}

class TracerNodeProc {
public:
    explicit TracerNodeProc(const std::string& trace_output, std::vector<std::string> extra = {}) {
        port_ = free_port();
        SpawnOptions o;
        o.argv = {CT_BINARY_DIR "/tracer-node/tracer-node", "--trace-hooks", CT_HOOKS_DIR, "--use-procfs",
                  "--trace-output", trace_output, "--address", fmt::format("127.0.0.1:{}", port_),
                  "--state-dir", trace_output + ".state"};
        o.argv.insert(o.argv.end(), extra.begin(), extra.end());
        o.capture_stdout = false;
        o.capture_stderr = false;
        auto p = Subprocess::spawn(o);
        if (!p) throw std::runtime_error(p.error().message);
        proc_ = std::move(*p);
        for (int i = 0; i < 200; ++i) {
            auto r = call("GET", "/readyz");
            if (r && r->status == 200) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        throw std::runtime_error("tracer-node did not become ready");
    }
    ~TracerNodeProc() {
        (void)call("DELETE", "/v1/trace-session/all");  // best effort: the process is stopped next anyway
        proc_.stop(std::chrono::milliseconds(10000));
    }
    unsigned short port() const { return port_; }
    pid_t pid() const { return proc_.pid(); }

    Result<http::ClientResponse> call(const std::string& method, const std::string& target, std::string body = "",
                                      std::chrono::milliseconds timeout = std::chrono::milliseconds(60000)) {
        http::ClientRequest r;
        r.port = port_;
        r.method = method;
        r.target = target;
        r.body = std::move(body);
        r.timeout = timeout;
        return http::send(r);
    }
    // Body as JSON; throws when the call fails.
    boost::json::value json(const std::string& method, const std::string& target, std::string body = "") {
        auto r = call(method, target, std::move(body));
        if (!r) throw std::runtime_error(r.error().message);
        if (r->status != 200) throw std::runtime_error(fmt::format("{} {}: {} {}", method, target, r->status, r->body));
        return boost::json::parse(r->body);
    }
    bool has_pod(const std::string& name) {
        auto pods = json("GET", "/v1/pods");
        return pods.as_object().contains(name);
    }

private:
    unsigned short port_ = 0;
    Subprocess proc_;
};

// unshare'd shell: sets its hostname, waits for `start_file`, then execs `command`.
class WaitingPod {
public:
    WaitingPod(const std::string& name, const std::string& start_file, const std::string& command) {
        SpawnOptions o;
        o.argv = {"unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
                  fmt::format("hostname {}; while [ ! -e {} ]; do sleep 0.01; done; exec {}", name, start_file,
                              command)};
        o.capture_stdout = false;
        o.capture_stderr = false;
        auto p = Subprocess::spawn(o);
        if (!p) throw std::runtime_error(p.error().message);
        proc_ = std::move(*p);
    }
    ~WaitingPod() { proc_.stop(std::chrono::milliseconds(2000), SIGKILL); }
    // Host PID of the pod's shell (the workload after exec): unshare's only child.
    pid_t shell_pid() {
        for (int i = 0; i < 200; ++i) {
            std::ifstream in(fmt::format("/proc/{}/task/{}/children", proc_.pid(), proc_.pid()));
            pid_t child = 0;
            if (in >> child && child > 0) return child;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return 0;
    }
    Result<ExitStatus> wait_for(std::chrono::milliseconds t) { return proc_.wait_for(t); }

private:
    Subprocess proc_;
};

}  // namespace ct::test
