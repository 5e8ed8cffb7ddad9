#include "tests/support/fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/fd.h"
#include "common/strings.h"

namespace ct::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

unsigned short free_port() {
    FD s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

TempDir::TempDir(const std::string& prefix) {
    std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::vector<std::string> ftrace_instances(const std::string& prefix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/kernel/tracing/instances", ec)) {
        auto name = e.path().filename().string();
        if (name.starts_with(prefix)) out.push_back(name);
    }
    return out;
}

std::string built(const std::string& relative) { return std::string(CT_BINARY_DIR) + "/" + relative; }

std::string loop_command(long n) { return fmt::format("{} {}", built("bench/getppid_loop"), n); }

std::string error_of(const http::ClientResponse& r) {
    auto v = boost::json::parse(r.body);
    REQUIRE(v.is_object());
    REQUIRE(v.as_object().contains("error"));
    return std::string(v.at("error").as_string());
}

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::string read_text(const fs::path& path) { return read_file(path.string()); }

TracerNode::TracerNode(NodeOptions o) : dir_("ct-node") {
    trace_output_ = o.trace_output.empty() ? dir_.str() + "/events.jsonl" : o.trace_output;
    log_path_ = dir_.str() + "/node.log";
    state_dir_ = o.state_dir.empty() ? dir_.str() + "/state" : o.state_dir;
    port_ = free_port();
    std::vector<std::string> argv = {built("tracer-node/tracer-node"),
                                     "--address",
                                     fmt::format("127.0.0.1:{}", port_),
                                     "--trace-hooks",
                                     o.hooks_dir.empty() ? std::string(CT_HOOKS_DIR) : o.hooks_dir,
                                     "--trace-output",
                                     trace_output_,
                                     "--node-name",
                                     o.node_name,
                                     "--state-dir",
                                     state_dir_};
    if (o.use_procfs) argv.push_back("--use-procfs");
    argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
    argv.insert(argv.begin(), o.wrapper.begin(), o.wrapper.end());
    // stderr to a file: nobody drains a pipe for the whole test.
    std::vector<std::string> wrapped = {"sh", "-c", "exec \"$@\" 2>>\"$0\"", log_path_};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    auto spawned = Subprocess::spawn({.argv = wrapped, .capture_stdout = false, .capture_stderr = false});
    REQUIRE(spawned);
    process_ = std::move(*spawned);
    // Ready when /readyz answers 200.
    for (int i = 0; i < 200; ++i) {
        auto r = http::send({.port = port_, .target = "/readyz", .timeout = 500ms});
        if (r && r->status == 200) return;
        if (!process_.running()) break;
        std::this_thread::sleep_for(50ms);
    }
    FAIL("tracer-node did not become ready: " << log());
}

TracerNode::~TracerNode() {
    if (process_.running()) process_.stop(10s, SIGTERM);
    // CT_TEST_KEEP_LOGS=<dir>: keep each tracer-node's log there (its own dir goes with the test).
    if (const char* keep = std::getenv("CT_TEST_KEEP_LOGS"); keep && *keep) {
        std::error_code ec;
        fs::create_directories(keep, ec);
        fs::copy_file(log_path_, fs::path(keep) / fmt::format("tracer-node-{}.log", process_.pid()),
                      fs::copy_options::overwrite_existing, ec);
    }
}

std::string TracerNode::log() const { return read_file(log_path_); }

std::string TracerNode::instance_prefix() const {
    auto tag = std::string(trim(read_file(state_dir_ + "/node-id")));
    REQUIRE(!tag.empty());
    return "ctrace_" + tag + "_";
}

std::vector<std::string> TracerNode::instances() const { return ftrace_instances(instance_prefix()); }

http::ClientResponse TracerNode::request(const std::string& method, const std::string& target, const std::string& body) {
    auto r = http::send({.port = port_, .method = method, .target = target, .body = body, .timeout = 30s});
    INFO(method << " " << target << " " << body);
    REQUIRE(r);
    return *r;
}

boost::json::value TracerNode::get_json(const std::string& target) {
    auto r = request("GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return boost::json::parse(r.body);
}

std::string TracerNode::create_session(const std::string& pod, const std::string& container, const std::string& args,
                                       const std::string& hook, const std::string& context) {
    boost::json::object body{{"pod", pod},
                             {"container", container},
                             {"trace-hook", hook},
                             {"trace-arguments", args},
                             {"trace-user-context", context}};
    auto r = request("POST", "/v1/trace-session", boost::json::serialize(body));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto v = boost::json::parse(r.body).as_object();
    REQUIRE(v.size() == 1);
    return std::string(v.begin()->key());
}

void TracerNode::run(const std::string& id, bool on) {
    auto r = request("PUT", "/v1/trace-session/" + id, on ? R"({"Run": true})" : R"({"Run": false})");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.body == "{}");
}

std::vector<boost::json::object> TracerNode::events() const {
    std::vector<boost::json::object> out;
    std::ifstream in(trace_output_);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
    return out;
}

size_t TracerNode::count(const std::string& event, pid_t pid, const std::string& id) const {
    size_t n = 0;
    for (const auto& e : events()) {
        if (e.contains("kind")) continue;  // a record (a flight-recorder dump's), not an event
        if (!event.empty() && e.at("event").as_string() != event) continue;
        if (pid != 0 && e.at("pid").as_int64() != pid) continue;
        if (!id.empty() && e.at("session").as_string() != id) continue;
        ++n;
    }
    return n;
}

Pod::Pod(std::string name, int extra_processes)
    : name_(std::move(name)), extra_processes_(extra_processes), dir_("ct-pod") {
    // The control loop: run <dir>/cmd.N when it appears, write its output and exit code.
    std::string script = fmt::format(
        "hostname {0}; i=0; n=0; while [ $n -lt {2} ]; do sleep 100000 & n=$((n+1)); done; "
        "while true; do if [ -e {1}/cmd.$i ]; then sh {1}/cmd.$i > {1}/out.$i 2>&1; echo $? > {1}/rc.tmp; "
        "mv {1}/rc.tmp {1}/rc.$i; i=$((i+1)); fi; sleep 0.02; done",
        name_, dir_.str(), extra_processes);
    auto p = Subprocess::spawn({.argv = {"unshare", "--uts", "--pid", "--fork", "--mount", "--mount-proc", "sh", "-c",
                                         script},
                                .capture_stdout = false,
                                .capture_stderr = false,
                                .new_process_group = true});
    REQUIRE(p);
    process_ = std::move(*p);
    // Ready once the hostname is set: the child's UTS namespace differs and answers the name.
    for (int i = 0; i < 100; ++i) {
        auto pids = host_pids();
        if (pids.size() >= static_cast<size_t>(1 + extra_processes)) {
            auto r = run_capture({.argv = {"nsenter", "-t", std::to_string(pids.front()), "-u", "hostname"}}, 2s);
            if (r && trim(r->out) == name_) return;
        }
        std::this_thread::sleep_for(20ms);
    }
    FAIL("pod " << name_ << " did not start");
}

Pod::~Pod() {
    // SIGKILL the unshare process; its child is PID 1 of the pod namespace: killing it ends the
    // whole namespace. Both are killed by PID.
    auto pids = host_pids();
    if (!pids.empty()) ::kill(pids.front(), SIGKILL);
    process_.stop(2s, SIGKILL);
}

std::vector<pid_t> Pod::host_pids() const {
    // Walk /proc for descendants of the unshare process.
    std::map<pid_t, pid_t> parent;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        auto pid = parse_u64(e.path().filename().string());
        if (!pid) continue;
        std::ifstream in(e.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        parent[static_cast<pid_t>(*pid)] = ppid;
    }
    std::vector<pid_t> out;
    for (auto [pid, ppid] : parent) {
        for (pid_t p = ppid, depth = 0; p > 1 && depth < 64; p = parent.count(p) ? parent[p] : 0, ++depth)
            if (p == process_.pid()) {
                out.push_back(pid);
                break;
            }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<pid_t> Pod::sleepers() const {
    // The control loop's `sleep 100000` children (its own short sleeps have another argument).
    std::vector<pid_t> out;
    for (auto deadline = std::chrono::steady_clock::now() + 5s;; std::this_thread::sleep_for(10ms)) {
        out.clear();
        for (pid_t pid : host_pids())
            if (read_file(fmt::format("/proc/{}/cmdline", pid)) == std::string_view("sleep\0" "100000\0", 13))
                out.push_back(pid);
        if (out.size() >= static_cast<std::size_t>(extra_processes_) || std::chrono::steady_clock::now() > deadline)
            return out;
    }
}

std::optional<Pod::Finished> Pod::run_command(const std::string& command, std::chrono::milliseconds timeout) {
    int i = seq_++;
    auto cmd = fmt::format("{}/cmd.{}", dir_.str(), i);
    {
        std::ofstream(cmd + ".tmp") << command << "\n";
    }
    std::error_code ec;
    fs::rename(cmd + ".tmp", cmd, ec);
    if (ec) return std::nullopt;
    auto rc = fmt::format("{}/rc.{}", dir_.str(), i);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!fs::exists(rc)) {
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
    auto code = parse_u64(trim(read_file(rc)));
    if (!code) return std::nullopt;
    return Finished{static_cast<int>(*code), fmt::format("{}/out.{}", dir_.str(), i)};
}

std::optional<int> Pod::run(const std::string& command, std::chrono::milliseconds timeout) {
    auto finished = run_command(command, timeout);
    return finished ? std::optional<int>(finished->code) : std::nullopt;
}

std::string Pod::exec(const std::string& command, std::chrono::milliseconds timeout) {
    auto finished = run_command(command, timeout);
    if (!finished) FAIL("pod " << name_ << ": \"" << command << "\" timed out");
    auto out = read_file(finished->output_path);
    INFO("pod " << name_ << ": " << command << ": " << out);
    REQUIRE(finished->code == 0);
    return out;
}

}  // namespace ct::test
