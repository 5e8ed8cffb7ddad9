// Fixtures for tracer-svc integration tests: temp dirs, free loopback ports, fake hook managers,
// real tracer-node processes each in its own PID namespace (so each sees only its own pods),
// a tracer-svc process, and a "hanging" TCP node. Everything started here is stopped by PID in
// destructors.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "common/fd.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/subprocess.h"
#include "tests/support/fixtures.h"

namespace ct::svctest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using ct::test::TempDir;   // tests/support/fixtures.h

inline void write_file(const fs::path& p, const std::string& text, bool executable = false) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    if (executable) fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
}

using ct::test::free_port;  // tests/support/fixtures.h

// A node stand-in on ip:port whose /v1/pods answers {"pod-<ip>": {"Containers": {}}}.
inline std::unique_ptr<http::HttpServer> stand_in(const std::string& ip, unsigned short port) {
    http::ServerOptions o;
    o.listen = {ip, port};
    o.handler_threads = 2;
    auto body = fmt::format(R"({{"pod-{}":{{"Containers":{{}}}}}})", ip);
    auto s = std::make_unique<http::HttpServer>(o, [body](const http::Request&) {
        return http::Dispatched{http::json_response(boost::json::parse(body)), "pods"};
    });
    REQUIRE(s->start());
    return s;
}


inline Result<http::ClientResponse> call(unsigned short port, std::string method, std::string target,
                                         std::string body = {}, std::chrono::milliseconds timeout = 10s,
                                         std::string host = "127.0.0.1") {
    return http::send({.host = host, .port = port, .method = std::move(method), .target = std::move(target),
                       .body = std::move(body), .headers = {}, .timeout = timeout});
}

inline boost::json::object json_of(const http::ClientResponse& r) {
    auto v = boost::json::parse(r.body);
    return v.as_object();
}

// Waits until GET path answers `status` (or gives up after `limit`).
inline bool wait_status(unsigned short port, const std::string& path, int status = 200,
                        std::chrono::milliseconds limit = 20s, std::string host = "127.0.0.1") {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        auto r = call(port, "GET", path, {}, 1s, host);
        if (r && r->status == status) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

// A hook manager script offering `hooks` (whitespace separated) at <root>/<dir>/manager. Each
// hook run gives /dev/null as its trace file and takes kFakeHookStopSeconds to end after SIGINT,
// as a hook draining a large backlog would.
inline constexpr int kFakeHookStopSeconds = 3;
inline void make_fake_hooks(const fs::path& root, const std::string& dir, const std::string& hooks) {
    write_file(root / dir / "manager", fmt::format(R"(#!/bin/sh
case "$1" in
  --get-all) echo "{}" ;;
  --describe) echo "fake hook $2"; echo "for tracer-svc tests" ;;
  --clear) ;;
  --run) trap 'sleep {}; exit 0' INT; echo /dev/null; while true; do sleep 0.1; done ;;
  *) echo "unsupported: $*" >&2; exit 1 ;;
esac
)", hooks, kFakeHookStopSeconds), true);
}

// A real tracer-node in its own PID namespace with its own /proc, with `pods` (hostnames of
// unshare'd UTS+PID namespaces) started inside it, so it sees only those pods.
class NamespacedNode {
public:
    NamespacedNode(std::string name, unsigned short port, fs::path hooks_root, std::vector<std::string> pods,
                   fs::path log)
        : name_(std::move(name)), port_(port), hooks_(std::move(hooks_root)), pods_(std::move(pods)),
          log_(std::move(log)) {}
    ~NamespacedNode() { stop(); }

    bool start() {
        // PID 2 of the namespace must not be a pod's parent: tracer-node treats PID 2 and its
        // children as kernel threads (kthreadd is PID 2 on a host), so a placeholder takes it.
        std::string script = "sleep 100000 & ";
        for (const auto& pod : pods_)
            script += fmt::format("unshare --uts --pid --fork --kill-child --mount-proc sh -c 'hostname {}; exec sleep 1000' & ", pod);
        script += fmt::format("exec {}/tracer-node/tracer-node --address 127.0.0.1:{} --use-procfs --node-name {} "
                              "--trace-hooks {} --state-dir {} --verbose >>{} 2>&1",
                              CT_BINARY_DIR, port_, name_, hooks_.string(),
                              (log_.parent_path() / ("state-" + name_)).string(), log_.string());
        auto p = Subprocess::spawn({.argv = {"unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc",
                                             "sh", "-c", script},
                                    .extra_env = {},
                                    .capture_stdout = false, .capture_stderr = false});
        if (!p) return false;
        proc_ = std::move(*p);
        // Ready once it answers and sees all its pods.
        auto end = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < end) {
            auto r = call(port_, "GET", "/v1/pods", {}, 2s);
            if (r && r->status == 200 && json_of(*r).size() == pods_.size()) return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }
    void stop() {
        if (proc_.pid() > 0) proc_.stop(1000ms, SIGKILL);
    }
    // SIGKILL now: the node disappears mid-flight.
    void kill() { stop(); }
    unsigned short port() const { return port_; }
    std::string key() const { return fmt::format("127.0.0.1:{}", port_); }
    const std::string& name() const { return name_; }
    std::string metrics() {
        auto r = call(port_, "GET", "/metrics");
        return r ? r->body : "";
    }

private:
    std::string name_;
    unsigned short port_;
    fs::path hooks_;
    std::vector<std::string> pods_;
    fs::path log_;
    Subprocess proc_;
};

// A tracer-svc process with `args`; its log goes to `log` when given (else to the test's output).
class Svc {
public:
    explicit Svc(std::vector<std::string> args, std::vector<std::string> env = {}, fs::path log = {}) {
        port_ = free_port();
        std::vector<std::string> argv{std::string(CT_BINARY_DIR) + "/tracer-svc/tracer-svc", "--address",
                                      fmt::format("127.0.0.1:{}", port_), "--verbose"};
        argv.insert(argv.end(), args.begin(), args.end());
        // exec keeps the PID, so stopping it stops tracer-svc.
        if (!log.empty()) argv.insert(argv.begin(), {"sh", "-c", "exec \"$@\" >>'" + log.string() + "' 2>&1", "sh"});
        auto p = Subprocess::spawn({.argv = argv, .extra_env = std::move(env), .capture_stdout = false,
                                    .capture_stderr = false});
        if (p) proc_ = std::move(*p);
        started_ = p.has_value() && wait_status(port_, "/healthz");
    }
    ~Svc() {
        if (proc_.pid() > 0) proc_.stop(2000ms, SIGTERM);
    }
    bool started() const { return started_; }
    unsigned short port() const { return port_; }
    pid_t pid() const { return proc_.pid(); }
    Result<http::ClientResponse> get(const std::string& target) { return call(port_, "GET", target); }
    Result<http::ClientResponse> send(const std::string& method, const std::string& target, const std::string& body = {}) {
        return call(port_, method, target, body);
    }

private:
    unsigned short port_ = 0;
    Subprocess proc_;
    bool started_ = false;
};

// Waits until tracer-svc has listed its node directory: /readyz then says how many nodes it
// has, ready (some node answers) or not (none does).
inline bool wait_listed(unsigned short port, std::chrono::milliseconds limit = 20s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        auto r = call(port, "GET", "/readyz", {}, 1s);
        if (r && (r->status == 200 || r->status == 503)) {
            boost::system::error_code ec;
            auto v = boost::json::parse(r->body, ec);
            if (!ec && v.is_object() && v.as_object().contains("nodes")) return true;
        }
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Accepts TCP connections (the kernel's backlog does) and never answers: a hung node.
class HangingNode {
public:
    HangingNode() : sock_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(sock_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(sock_.get(), 64);
        socklen_t len = sizeof a;
        ::getsockname(sock_.get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    unsigned short port() const { return port_; }
    std::string key() const { return fmt::format("127.0.0.1:{}", port_); }

private:
    FD sock_;
    unsigned short port_ = 0;
};

inline std::string header(const http::ClientResponse& r, const std::string& lower) {
    auto it = r.headers.find(lower);
    return it == r.headers.end() ? std::string() : it->second;
}

}  // namespace ct::svctest
