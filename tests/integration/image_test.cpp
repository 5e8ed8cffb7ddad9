// The tracer-node container image (images/build-oci.sh), checked as shipped and run the way the
// Helm chart's DaemonSet runs it: imported into a private real containerd (tests/support
// fixtures) and started through CRI as a privileged, host-PID, host-network pod with the chart's
// args and host mounts. The test reaches its API over loopback, lists a busybox pod of the same
// containerd (CRI discovery through the mounted run dir) and traces it with the image's ftrace hook.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_client.h"
#include "common/subprocess.h"
#include "tests/support/containerd_fixture.h"
#include "tests/support/cri_pod_runner.h"
#include "tests/support/fixtures.h"

using namespace ct;
using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNodeImage = "docker.io/container-tracer/tracer-node:local";
constexpr const char* kEntrypoint = "/usr/bin/tracer-node";
constexpr const char* kImageHooks = "/usr/lib/container-tracer/trace-hooks";  // tracer-node's default
constexpr const char* kChartDaemonSet = CT_SOURCE_DIR "/helm/container-tracer/templates/node-daemonset.yaml";
constexpr const char* kTokenDir = "/etc/container-tracer/token";  // the chart's token mount
constexpr const char* kStateDir = "/var/lib/container-tracer";     // --state-dir default
constexpr const char* kAgentPod = "tracer-container-tracer-node-x7k2p";
constexpr const char* kAppPod = "busybox-6d8f9b7c5-q2w4z";

// The chart's tracer-node args with default values (auth on), as written in the DaemonSet and as
// rendered; --address is left out: the test names a loopback port instead of every interface's :8080.
struct ChartArg {
    const char* in_chart;
    const char* rendered;
};
const std::vector<ChartArg> kChartArgs = {
    {"--procfs-path=/host/proc", "--procfs-path=/host/proc"},
    {"--sysfs-path=/host/sys", "--sysfs-path=/host/sys"},
    {"--run-path=/host/run", "--run-path=/host/run"},
    {"--state-dir=/var/lib/container-tracer", "--state-dir=/var/lib/container-tracer"},
    {"--trace-output={{ .Values.node.traceOutput }}", "--trace-output=-"},  // values.yaml: traceOutput: "-"
    {"--token-file=/etc/container-tracer/token/node-token", "--token-file=/etc/container-tracer/token/node-token"},
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : std::string(); }

// Runs argv to completion; REQUIREs exit 0 and returns stdout.
std::string run_ok(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 120s) {
    auto run = run_capture({.argv = argv}, timeout);
    INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : ""));
    REQUIRE(run);
    INFO(run->status.describe() << "\nstdout: " << run->out << "\nstderr: " << run->err);
    REQUIRE(run->status.ok());
    return run->out;
}

// images/build-oci.sh over this build tree: the image as an operator would build it. No Catch
// macros inside: it may run on a helper thread while containerd starts.
Status build_node_image(const std::string& tar) {
    auto run = run_capture({.argv = {CT_SOURCE_DIR "/images/build-oci.sh", "tracer-node", CT_BINARY_DIR, tar, kNodeImage}},
                           180s);
    if (!run) return std::unexpected(Error::wrap(run.error(), "images/build-oci.sh tracer-node"));
    if (!run->status.ok())
        return fail(Errc::kInternal, fmt::format("images/build-oci.sh tracer-node: {}: {}", run->status.describe(), run->err));
    return {};
}

json::value read_json(const std::string& path) {
    auto text = slurp(path);
    INFO(path << ": " << text);
    REQUIRE_FALSE(text.empty());
    return json::parse(text);
}

std::string blob(const std::string& layout, const json::value& digest) {
    std::string d = str(digest);
    REQUIRE(d.starts_with("sha256:"));
    return layout + "/blobs/sha256/" + d.substr(7);
}

struct UnpackedImage {
    json::object config;  // the image config's "config" (Entrypoint, User, ...)
    std::string root;     // the layer, unpacked
};

// The OCI layout as containerd reads it: index -> manifest -> config + the single layer.
UnpackedImage unpack(const std::string& tar, const std::string& dir) {
    std::string layout = dir + "/layout", root = dir + "/root";
    fs::create_directories(layout);
    fs::create_directories(root);
    run_ok({"tar", "-xf", tar, "-C", layout});
    auto index = read_json(layout + "/index.json").as_object();
    const auto& manifests = index.at("manifests").as_array();
    REQUIRE(manifests.size() == 1);
    const auto& entry = manifests[0].as_object();
    CHECK(str(entry.at("annotations").at("io.containerd.image.name")) == kNodeImage);
    auto manifest = read_json(blob(layout, entry.at("digest"))).as_object();
    const auto& layers = manifest.at("layers").as_array();
    REQUIRE(layers.size() == 1);
    run_ok({"tar", "-xf", blob(layout, layers[0].at("digest")), "-C", root});
    auto config = read_json(blob(layout, manifest.at("config").at("digest"))).as_object();
    return {config.at("config").as_object(), root};
}

bool executable(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR);
}

// Flags the chart passes to tracer-node ("- --name=value" / "- --name" lines of the DaemonSet).
std::set<std::string> chart_flags(const std::string& daemonset) {
    std::set<std::string> flags;
    static const std::regex flag(R"(^\s*-\s+(--[a-z0-9-]+))");
    std::istringstream in(daemonset);
    for (std::string line; std::getline(in, line);)
        if (std::smatch m; std::regex_search(line, m, flag)) flags.insert(m[1]);
    return flags;
}

// "running" or how the container ended, for failure messages.
std::string container_state(CriPodRunner& runner, const std::string& id) {
    auto status = runner.client().container_status(id, false);
    if (!status) return status.error().message;
    const auto& st = status->status();
    if (st.state() == runtime::v1::CONTAINER_RUNNING) return "running";
    return fmt::format("state {} exit code {} reason \"{}\" {}", runtime::v1::ContainerState_Name(st.state()),
                       st.exit_code(), st.reason(), st.message());
}

// Progress with elapsed time on stdout: where a slow CI run spent its time (never asserted).
struct Phases {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    void operator()(const char* what) const {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        fmt::print("image_test +{:.1f}s {}\n", ms.count() / 1000.0, what);
    }
};

// --- the running agent ---

http::ClientResponse call(unsigned short port, const std::string& method, const std::string& target,
                          const std::string& token, const std::string& body = "") {
    http::ClientRequest request{.port = port, .method = method, .target = target, .body = body, .timeout = 30s};
    if (!token.empty()) request.headers["Authorization"] = "Bearer " + token;
    auto r = http::send(request);
    INFO(method << " " << target << " " << body << ": " << (r ? "" : r.error().message));
    REQUIRE(r);
    return *r;
}

json::value call_json(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& token, const std::string& body = "") {
    auto r = call(port, method, target, token, body);
    INFO(method << " " << target << " " << body << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
}

// The container's CRI log (what `kubectl logs` shows): "<time> <stream> <tag> <line>" per line.
struct CriLog {
    std::string path;
    std::vector<std::string> lines(const std::string& stream) const {
        std::vector<std::string> out;
        std::istringstream in(slurp(path));
        for (std::string line; std::getline(in, line);) {
            std::istringstream fields(line);
            std::string time, s, tag;
            fields >> time >> s >> tag;
            if (s != stream) continue;
            std::string rest;
            std::getline(fields, rest);
            out.push_back(rest.empty() ? rest : rest.substr(1));
        }
        return out;
    }
    std::string tail(size_t bytes = 6000) const {
        auto text = slurp(path);
        return text.size() > bytes ? text.substr(text.size() - bytes) : text;
    }
    // Exported events (JSON lines on stdout, --trace-output=-) of session `id`.
    std::vector<json::object> events(const std::string& id) const {
        std::vector<json::object> out;
        for (const auto& line : lines("stdout")) {
            boost::system::error_code ec;
            auto v = json::parse(line, ec);
            if (!ec && v.is_object() && str(v.as_object()["session"]) == id) out.push_back(v.as_object());
        }
        return out;
    }
};

// Stops the agent container the way the kubelet deletes a pod (SIGTERM, grace period), so it
// ends its sessions and removes their ftrace instances; then removes an instance it still left
// (the test has failed by then). Runs also when a check throws.
struct AgentStop {
    CriPodRunner& runner;
    std::string container_id;
    std::string instance;  // ctrace_... of the test's session, once known
    bool done = false;

    bool instance_exists() const {
        return !instance.empty() && fs::exists("/sys/kernel/tracing/instances/" + instance);
    }
    Status stop() {
        done = true;
        return runner.stop_container(container_id, 15s);
    }
    ~AgentStop() {
        if (!done) (void)stop();
        if (instance_exists()) ::rmdir(("/sys/kernel/tracing/instances/" + instance).c_str());
    }
};

}  // namespace

TEST_CASE("the tracer-node image holds the agent, the libraries it loads and the ftrace hook the chart relies on",
          "[integration][root][image]") {
    TempDir work("ct-image");
    std::string tar = work.str() + "/tracer-node.tar";
    auto built = build_node_image(tar);
    INFO((built ? "" : built.error().message));
    REQUIRE(built);
    auto image = unpack(tar, work.str());

    INFO(json::serialize(image.config));
    CHECK(json::serialize(image.config.at("Entrypoint")) == fmt::format(R"(["{}"])", kEntrypoint));
    CHECK(str(image.config.at("User")) == "0:0");  // ftrace and every process's /proc
    CHECK(executable(image.root + kEntrypoint));
    CHECK(executable(image.root + "/bin/busybox"));
    std::string manager = std::string(kImageHooks) + "/ftrace/manager";
    REQUIRE(executable(image.root + manager));

    // Inside the image's own files (chroot: no host library can stand in for a missing one).
    CHECK_THAT(run_ok({"chroot", image.root, manager, "--get-all"}), Catch::Contains("trace_syscalls"));
    // ctrace for `kubectl exec` into the agent (docs/cli.md), with every library it loads.
    CHECK_THAT(run_ok({"chroot", image.root, "/usr/bin/ctrace", "--help"}), Catch::Contains("ctrace"));
    std::string help = run_ok({"chroot", image.root, kEntrypoint, "--help"});
    INFO(help);
    // The chart passes no --trace-hooks: the default must be where the image keeps the hooks.
    CHECK_THAT(help, Catch::Contains(kImageHooks));

    // The chart runs the image's entrypoint (no command:) with flags this binary knows.
    std::string daemonset = slurp(kChartDaemonSet);
    REQUIRE_FALSE(daemonset.empty());
    CHECK(daemonset.find("command:") == std::string::npos);
    auto flags = chart_flags(daemonset);
    CHECK(flags.contains("--address"));
    for (const auto& f : flags) {
        INFO("chart flag " << f);
        CHECK_THAT(help, Catch::Contains(f + " "));
    }
    // What the containerd test below runs is what the chart renders with default values.
    for (const auto& arg : kChartArgs) {
        INFO("chart arg " << arg.in_chart);
        CHECK_THAT(daemonset, Catch::Contains(std::string("- ") + arg.in_chart));
    }
    CHECK_THAT(slurp(CT_SOURCE_DIR "/helm/container-tracer/values.yaml"), Catch::Contains(R"(traceOutput: "-")"));
    for (const auto& text : {"hostPID: true", "privileged: true", "mountPath: /host/proc", "mountPath: /host/sys",
                             "mountPath: /host/run", "mountPath: /var/lib/container-tracer",
                             "fieldPath: spec.nodeName"}) {
        INFO(text);
        CHECK_THAT(daemonset, Catch::Contains(text));
    }
}

TEST_CASE("the tracer-node image runs under containerd as the chart's DaemonSet and traces a busybox pod",
          "[integration][root][image][cri]") {
    TempDir host("ct-image-host");
    for (const char* d : {"logs", "state", "token"}) fs::create_directories(host.path() / d);
    const std::string token = fmt::format("image-test-{}", ::getpid());
    std::ofstream(host.path() / "token" / "node-token") << token << "\n";

    Phases phase;
    std::string tar = host.str() + "/tracer-node.tar";
    auto building = std::async(std::launch::async, [&] { return build_node_image(tar); });
    auto cd = Containerd::start();
    auto built = building.get();
    INFO((cd ? "" : cd.error().message));
    REQUIRE(cd);
    INFO((built ? "" : built.error().message));
    REQUIRE(built);
    phase("containerd started, image built");
    auto imported = (*cd)->import_image(tar);
    INFO((imported ? "" : imported.error().message));
    REQUIRE(imported);
    phase("image imported");
    CriPodRunner runner((*cd)->endpoint());

    // The workload: a shell that opens a file a few times a second.
    auto app = runner.run_pod({.name = kAppPod});
    INFO((app ? "" : app.error().message));
    REQUIRE(app);
    auto app_id = runner.start_container(
        app->sandbox_id,
        {.name = "busybox", .command = {"/bin/sh", "-c", "while true; do cat /etc/passwd >/dev/null; sleep 0.2; done"}});
    INFO((app_id ? "" : app_id.error().message));
    REQUIRE(app_id);
    auto app_pid = runner.container_pid(*app_id);
    REQUIRE(app_pid);
    phase("busybox pod running");

    // The agent, as the DaemonSet's pod: hostPID, hostNetwork, privileged, the host's /proc and
    // /sys (tracefs under sys/kernel/tracing) and the runtime's run dir (here: the fixture's).
    unsigned short port = free_port();
    std::vector<std::string> args = {fmt::format("--address=127.0.0.1:{}", port)};
    for (const auto& arg : kChartArgs) args.push_back(arg.rendered);
    auto agent = runner.run_pod({.name = kAgentPod,
                                 .pod_namespace = "tracing",
                                 .host_pid = true,
                                 .privileged = true,
                                 .log_directory = (host.path() / "logs").string()});
    INFO((agent ? "" : agent.error().message));
    REQUIRE(agent);
    CriLog log{(host.path() / "logs" / "tracer-node.log").string()};
    auto agent_id = runner.start_container(
        agent->sandbox_id,
        {.name = "tracer-node",
         .command = {},
         .image = kNodeImage,
         .mounts = {{.host_path = "/proc", .container_path = "/host/proc"},
                    {.host_path = "/sys", .container_path = "/host/sys", .readonly = false},
                    {.host_path = (*cd)->run_path(), .container_path = "/host/run", .readonly = false},
                    {.host_path = (host.path() / "token").string(), .container_path = kTokenDir},
                    {.host_path = (host.path() / "state").string(), .container_path = kStateDir, .readonly = false}},
         .env = {"TRACER_NODE_NAME=image-test-node", fmt::format("TRACER_POD_NAME={}", kAgentPod)},
         .args = args,
         .privileged = true,
         .log_path = "tracer-node.log"});
    INFO((agent_id ? "" : agent_id.error().message) << "\nagent log:\n" << log.tail());
    REQUIRE(agent_id);
    AgentStop agent_stop{runner, *agent_id, "", false};
    auto agent_pid = runner.container_pid(*agent_id);
    REQUIRE(agent_pid);
    INFO("agent log:\n" << log.tail());
    // Host PID namespace: the agent sees the PIDs this test sees.
    CHECK(fs::read_symlink(fmt::format("/proc/{}/ns/pid", *agent_pid)) == fs::read_symlink("/proc/self/ns/pid"));

    // The probes' paths, open without a token: ready once discovery has answered.
    bool ready = false;
    for (int i = 0; i < 600 && !ready; ++i) {
        auto r = http::send({.port = port, .target = "/readyz", .timeout = 1s});
        ready = r && r->status == 200;
        if (!ready) {
            if (::access(fmt::format("/proc/{}", *agent_pid).c_str(), F_OK) != 0) break;  // it exited
            std::this_thread::sleep_for(100ms);
        }
    }
    INFO("agent container: " << container_state(runner, *agent_id) << "\nagent log:\n" << log.tail());
    REQUIRE(ready);
    phase("agent pod ready");
    CHECK(call(port, "GET", "/healthz", "").status == 200);
    CHECK(call(port, "GET", "/v1/pods", "").status == 401);  // the chart's --token-file is in force

    auto hooks = call_json(port, "GET", "/v1/trace-hooks", token).as_object();
    INFO(json::serialize(hooks));
    REQUIRE(hooks.contains("trace-hooks/ftrace"));
    CHECK(hooks.at("trace-hooks/ftrace").at("Tracers").as_object().contains("trace_syscalls"));

    // CRI discovery through the mounted run dir; host PIDs through the host's /proc.
    CHECK_THAT(log.tail(100000), Catch::Contains("/host/run/containerd/containerd.sock"));
    auto pods = call_json(port, "GET", "/v1/pods", token).as_object();
    INFO(json::serialize(pods));
    REQUIRE(pods.contains(kAppPod));
    const auto& busybox = pods.at(kAppPod).at("Containers").at("busybox").as_object();
    CHECK(str(busybox.at("RuntimeId")) == *app_id);
    bool init_listed = false;
    for (const auto& t : busybox.at("Tasks").as_array()) init_listed |= t.as_int64() == *app_pid;
    CHECK(init_listed);

    // A session on the busybox pod, with the image's ftrace hook, events on the agent's stdout.
    json::object body{{"pod", kAppPod},
                      {"container", "busybox"},
                      {"trace-hook", "trace_syscalls"},
                      {"trace-arguments", "-s openat"},
                      {"trace-user-context", "image-test"}};
    auto created = call_json(port, "POST", "/v1/trace-session", token, json::serialize(body)).as_object();
    REQUIRE(created.size() == 1);
    std::string id(created.begin()->key());
    CHECK(call_json(port, "PUT", "/v1/trace-session/" + id, token, R"({"Run": true})") == json::object{});
    auto view = call_json(port, "GET", "/v1/trace-session/" + id, token).at(id).as_object();
    INFO(json::serialize(view));
    REQUIRE(view.at("Output").is_array());
    REQUIRE_FALSE(view.at("Output").as_array().empty());
    // The hook writes under the mounted sysfs: the same instance on the host.
    fs::path trace(str(view.at("Output").as_array()[0]));
    CHECK(trace.string().starts_with("/host/sys/kernel/tracing/instances/ctrace_"));
    agent_stop.instance = trace.parent_path().filename().string();
    CHECK(agent_stop.instance_exists());

    std::vector<json::object> events;
    for (int i = 0; i < 300 && events.empty(); ++i) {
        events = log.events(id);
        if (events.empty()) std::this_thread::sleep_for(100ms);
    }
    REQUIRE_FALSE(events.empty());
    phase("events exported");
    for (const auto& e : events) {
        INFO(json::serialize(e));
        CHECK(str(e.at("event")).ends_with("_openat"));
        CHECK(str(e.at("pod")) == kAppPod);
        CHECK(str(e.at("container")) == "busybox");
        CHECK(str(e.at("hook")) == "trace_syscalls");
    }

    CHECK(call_json(port, "PUT", "/v1/trace-session/" + id, token, R"({"Run": false})") == json::object{});
    CHECK_FALSE(agent_stop.instance_exists());
    CHECK(call_json(port, "DELETE", "/v1/trace-session/" + id, token) == json::object{});
    CHECK(call(port, "GET", "/v1/trace-session/" + id, token).status == 404);

    // The kubelet's way out: SIGTERM with a grace period; the agent exits by itself.
    auto stopped = agent_stop.stop();
    INFO((stopped ? "" : stopped.error().message));
    CHECK(stopped);
    CHECK_FALSE(agent_stop.instance_exists());
    phase("agent stopped");
}
