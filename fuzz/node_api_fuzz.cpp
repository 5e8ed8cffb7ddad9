// tracer-node's HTTP API from raw bytes: Beast request parser -> NodeApi's router -> handlers
// (JSON body parsing, id parsing, session lookup), as a connection of the real server does it.
// Backends without real I/O: PodDb over the fixture procfs tree (tests/unit/testdata/proc, a
// static hostname resolver), HookRegistry over a hooks directory with no managers
// (fuzz/data/hooks-empty: no hook process is ever spawned, so no session can be created).
// Every answer must pass fuzz::check_response().
#include <cstddef>
#include <cstdint>
#include <memory>

#include <spdlog/spdlog.h>

#include "fuzz/fuzz_http.h"
#include "tracer-node/api/node_api.h"
#include "tracer-node/discovery/hostname_resolver.h"
#include "tracer-node/discovery/procfs_source.h"
#include "tracer-node/sessions/node_deps.h"

namespace {

using namespace ct::node;

const std::string kProcRoot = CT_TESTDATA_DIR "/proc";

// The tracer-node stand-in; built once, lives for the process (its destructor joins the
// session janitor at exit).
struct Node {
    PodDb pods{std::make_unique<ProcfsSource>(ProcfsSourceOptions{
                   .root = kProcRoot,
                   .reference_pid = 100,
                   .resolver = std::make_unique<StaticHostnameResolver>(std::map<std::uint64_t, std::string>{
                       {4026532201, "jaeger-operator-7b46f44865-jvgz8"},
                       {4026532301, "plain-pod"},
                       {4026532401, "other"}})}),
               kProcRoot};
    HookRegistry hooks{HookRegistryOptions{.root = CT_FUZZ_DATA_DIR "/hooks-empty", .procfs_root = kProcRoot}};
    NodeMetrics metrics;
    PodDbSource pod_source{pods, kProcRoot};
    RegistryHookLauncher hook_launcher{hooks};
    std::shared_ptr<const ExporterSet> exporters = std::make_shared<ExporterSet>();
    EventCaptureFactory captures{{.procfs_root = kProcRoot}, pod_source, exporters};
    SessionManager sessions{SessionManagerOptions{.node_name = "fuzz-node", .procfs_root = kProcRoot}, pod_source,
                            hook_launcher, captures, exporters};
    NodeApi api{pods, hooks, sessions, metrics};
    ct::http::Router router = api.router();

    Node() { api.set_ready(true); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Node* node = [] {
        spdlog::set_level(spdlog::level::off);  // handlers log refusals; keep libFuzzer's output readable
        return new Node;                        // never freed: libFuzzer may exit from any thread
    }();
    ct::fuzz::serve_input({reinterpret_cast<const char*>(data), size}, node->router,
                          [](const ct::http::Request& request, const ct::http::Router::Dispatched& d) {
                              node->metrics.observe_request(d.route, request.method, d.response.status);
                          });
    return 0;
}
