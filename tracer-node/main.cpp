// tracer-node: wires flags to components. Discovery (PodDb) -> hooks (HookRegistry) ->
// sessions (SessionManager) -> exporters; NodeApi serves them over HttpServer.
#include <malloc.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_auth.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/server_flags.h"
#include "common/strings.h"
#include "tracer-node/api/metrics.h"
#include "tracer-node/api/node_api.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/discovery/source_select.h"
#include "tracer-node/export/jsonl_exporter.h"
#include "tracer-node/export/otlp_exporter.h"
#include "tracer-node/export/otlp_metrics.h"
#include "tracer-node/export/stream_hub.h"
#include "tracer-node/flight/dump_store.h"
#include "tracer-node/flight/flight_capture.h"
#include "tracer-node/hooks/hook_registry.h"
#include "tracer-node/record/recorder.h"
#include "tracer-node/sessions/node_deps.h"
#include "tracer-node/sessions/session_manager.h"

namespace {

constexpr int kUsageError = 2;

struct Flags {
    std::string address = ":8080";
    std::string node_name;
    std::string hooks_dir = "/usr/lib/container-tracer/trace-hooks";
    std::string procfs = "/proc";
    std::string sysfs = "/sys";
    bool force_procfs = false;
    bool verbose = false;
    std::string trace_output = "-";
    std::string cri_endpoint;
    std::string run_paths = "/run,/var/run";
    std::string pod_name;
    int hook_start_timeout_ms = 10000;
    int stop_grace_ms = 5000;
    int drain_limit_ms = 15000;
    int capture_nice = 10;
    size_t capture_queue_mib = ct::node::CaptureOptions::kDefaultQueueBytes >> 20;
    std::string token_file;
    bool metrics_open = false;
    std::string tls_cert;
    std::string tls_key;
    std::string otlp_endpoint;
    std::string state_dir = "/var/lib/container-tracer";
    std::string record_dir;  // "" = <state_dir>/recordings
    size_t record_limit_mib = 256;
    std::string max_ring = "64M";     // flight recorders' ring-size cap, per CPU
    size_t dump_limit = 16;           // dumps kept per session
    unsigned dump_holdoff_ms = 1000;  // triggers within it of a dump make none
    // Limits (defaults as in the components' options).
    size_t max_sessions = 1024;
    ct::http::StreamLimits streams{.max_streams = ct::node::StreamHubOptions{}.max_streams,
                                   .max_session_streams = ct::node::StreamHubOptions{}.max_readers_per_session,
                                   .queue_bytes = ct::node::StreamHubOptions{}.reader_queue_bytes};
    ct::http::ServerOptions server;
};

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tracer-node: %s\n", message.c_str());
    return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
    // Every session run has its own threads; with glibc's default of up to 8 arenas per core,
    // memory freed when runs end stays spread over many arenas and is never returned (measured:
    // 88 MiB kept after a load test, 37 MiB with 2 arenas).
    ::mallopt(M_ARENA_MAX, 2);
    Flags f;
    CLI::App app{"tracer-node: per-node agent of container-tracer (ftrace for containers, REST API)"};
    app.option_defaults()->always_capture_default();
    app.add_option("--address", f.address, "API listen address, [host]:port")->envname("TRACER_API_ADDRESS");
    app.add_option("--node-name", f.node_name, "name of this node (default: hostname)")->envname("TRACER_NODE_NAME");
    app.add_option("--trace-hooks", f.hooks_dir, "directory of trace hook managers")->envname("TRACER_HOOKS");
    app.add_option("--procfs-path", f.procfs, "procfs mount to read processes from")->envname("TRACER_PROCFS_PATH");
    app.add_option("--sysfs-path", f.sysfs, "sysfs mount (tracefs under kernel/tracing)")->envname("TRACER_SYSFS_PATH");
    app.add_flag("--use-procfs", f.force_procfs, "discover containers from /proc only, even when a runtime answers")
        ->envname("TRACER_FORCE_PROCFS");
    app.add_option("--cri-endpoint", f.cri_endpoint, "CRI socket (unix:///path or /path); default: probe run paths")
        ->envname("TRACER_CRI_ENDPOINT");
    app.add_option("--run-path", f.run_paths, "where to look for runtime sockets, comma or space separated")
        ->envname("TRACER_RUN_PATHS");
    app.add_option("--pod-name", f.pod_name, "this agent's own pod: prefer the runtime that runs it")
        ->envname("TRACER_POD_NAME");
    app.add_option("--trace-output", f.trace_output, "JSON-lines file for exported events, - for stdout")
        ->envname("TRACER_TRACE_OUTPUT");
    app.add_option("--hook-start-timeout", f.hook_start_timeout_ms, "ms a hook may take to print its trace path")
        ->envname("TRACER_HOOK_START_TIMEOUT")
        ->check(CLI::Range(1, 600000));
    app.add_option("--stop-grace", f.stop_grace_ms, "ms between SIGINT and SIGKILL when stopping a hook")
        ->envname("TRACER_STOP_GRACE")
        ->check(CLI::Range(1, 600000));
    app.add_option("--drain-limit", f.drain_limit_ms,
                   "ms a stop or delete waits for a session's captured backlog to be exported; the rest is "
                   "dropped and counted as lost")
        ->envname("TRACER_DRAIN_LIMIT")
        ->check(CLI::Range(1, 600000));
    app.add_option("--capture-nice", f.capture_nice,
                   "nice value of the threads that decode and export events (0 = same as the traced workloads)")
        ->envname("TRACER_CAPTURE_NICE")
        ->check(CLI::Range(-20, 19));
    app.add_option("--capture-queue-mib", f.capture_queue_mib,
                   "MiB of raw trace pages that may wait for decoding, over all sessions (past it, pages are "
                   "dropped and counted as lost)")
        ->envname("TRACER_CAPTURE_QUEUE_MIB")
        ->check(CLI::Range(1, 1 << 20));
    app.add_flag("--verbose", f.verbose, "debug logging")->envname("TRACER_VERBOSE");
    app.add_option("--token-file", f.token_file, "require Authorization: Bearer <token in this file> (not on /healthz, /readyz)")
        ->envname("TRACER_TOKEN_FILE");
    app.add_flag("--metrics-open", f.metrics_open, "serve /metrics without a token")->envname("TRACER_METRICS_OPEN");
    app.add_option("--tls-cert", f.tls_cert, "serve HTTPS with this PEM certificate chain (re-read when it changes)")
        ->envname("TRACER_TLS_CERT");
    app.add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert")->envname("TRACER_TLS_KEY");
    app.add_option("--otlp-endpoint", f.otlp_endpoint, "also export traces (and statistics sessions' counts as metrics) to this OTLP/HTTP collector, http://host:port")
        ->envname("OTEL_EXPORTER_OTLP_ENDPOINT");
    app.add_option("--max-sessions", f.max_sessions, "trace sessions kept at once; more answer 429")
        ->envname("TRACER_MAX_SESSIONS")
        ->check(CLI::Range(size_t{1}, size_t{1} << 20));
    ct::http::add_stream_flags(app, f.streams, "TRACER_", "tracer-svc relays one per session");
    ct::http::add_server_flags(app, f.server, "TRACER_");
    app.add_option("--max-body", f.server.max_body, "request body bytes; larger answer 413")
        ->envname("TRACER_MAX_BODY")
        ->check(CLI::Range(size_t{64}, size_t{1} << 30));
    app.add_option("--state-dir", f.state_dir, "where trace sessions are kept across restarts (created if missing)")
        ->envname("TRACE_KUBE_STATE_DIR");
    app.add_option("--record-dir", f.record_dir,
                   "where sessions' ftrace pages are recorded for trace.dat / trace.json (default: "
                   "<state-dir>/recordings)")
        ->envname("TRACER_RECORD_DIR");
    app.add_option("--record-limit", f.record_limit_mib,
                   "MiB of recorded pages kept per session (oldest go first); 0 turns recording off")
        ->envname("TRACER_RECORD_LIMIT")
        ->check(CLI::Range(size_t{0}, size_t{1} << 30));
    app.add_option("--max-ring", f.max_ring,
                   "largest \"ring-size\" a session may ask for, per CPU (K/M/G suffixes; at most the ftrace "
                   "manager's 64M)")
        ->envname("TRACER_MAX_RING");
    app.add_option("--dump-limit", f.dump_limit, "flight-recorder dumps kept per session (oldest go first)")
        ->envname("TRACER_DUMP_LIMIT")
        ->check(CLI::Range(size_t{1}, size_t{100000}));
    app.add_option("--dump-holdoff", f.dump_holdoff_ms, "ms after a flight-recorder dump in which triggers make none")
        ->envname("TRACER_DUMP_HOLDOFF")
        ->check(CLI::Range(0u, 3600000u));
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kUsageError;
    }

    // Validate everything before starting anything.
    auto listen = ct::parse_host_port(f.address);
    if (!listen) return usage_error(listen.error().message);
    std::error_code ec;
    if (!std::filesystem::is_directory(f.hooks_dir, ec))
        return usage_error("--trace-hooks \"" + f.hooks_dir + "\" is not a directory");
    if (!std::filesystem::is_directory(f.procfs, ec))
        return usage_error("--procfs-path \"" + f.procfs + "\" is not a directory");
    if (!std::filesystem::is_directory(f.sysfs, ec))
        return usage_error("--sysfs-path \"" + f.sysfs + "\" is not a directory");
    if (f.node_name.empty()) f.node_name = host_name();
    if (f.tls_cert.empty() != f.tls_key.empty()) return usage_error("--tls-cert and --tls-key go together");
    std::optional<ct::node::OtlpEndpoint> otlp;
    if (!f.otlp_endpoint.empty()) {
        auto ep = ct::node::parse_otlp_endpoint(f.otlp_endpoint);
        if (!ep) return usage_error("--otlp-endpoint: " + ep.error().message);
        otlp = std::move(*ep);
    }
    ct::http::AuthOptions auth{.token = {}, .metrics_open = f.metrics_open};
    if (!f.token_file.empty()) {
        auto token = ct::http::TokenSource::open(f.token_file);  // re-read when the Secret rotates
        if (!token) return usage_error("--token-file: " + token.error().message);
        auth.token_source = std::move(*token);
    }

    ct::init_logging(f.verbose, "tracer-node");
    std::signal(SIGPIPE, SIG_IGN);
    const size_t open_files = ct::http::raise_open_file_limit();  // each API connection holds one
    // Block SIGINT/SIGTERM in every thread; main waits for them below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // Discovery.
    ct::node::DiscoveryConfig discovery;
    discovery.procfs_root = f.procfs;
    discovery.sysfs_root = f.sysfs;
    discovery.force_procfs = f.force_procfs;
    discovery.cri_endpoint = f.cri_endpoint;
    discovery.run_paths = ct::split_any(f.run_paths, ", \t");
    discovery.pod_name = f.pod_name;
    if (!f.cri_endpoint.empty()) {
        if (auto ep = ct::node::normalize_endpoint(f.cri_endpoint); !ep) return usage_error(ep.error().message);
    }
    ct::node::PodDb pods(ct::node::make_container_source(discovery), f.procfs);

    // State: sessions across restarts, and the agent tag that names this agent's ftrace instances.
    auto state = ct::node::StateStore::open(f.state_dir);
    if (!state) return usage_error("--state-dir: " + state.error().message);
    auto instance_prefix = ct::node::ftrace::instance_prefix((*state)->tag());
    if (!instance_prefix) return usage_error("--state-dir: " + instance_prefix.error().message);

    // Hooks.
    ct::node::HookRegistry hooks(
        {.root = f.hooks_dir, .procfs_root = f.procfs, .sysfs_root = f.sysfs, .instance_prefix = *instance_prefix});
    if (auto loaded = hooks.reload(); !loaded) return usage_error(loaded.error().message);

    // Export.
    auto exporters = std::make_shared<ct::node::ExporterSet>();
    auto jsonl = ct::node::JsonLinesExporter::open(f.trace_output);
    if (!jsonl) return usage_error(jsonl.error().message);
    exporters->add(*jsonl);
    auto stream_hub = std::make_shared<ct::node::StreamHub>(
        ct::node::StreamHubOptions{.reader_queue_bytes = f.streams.queue_bytes,
                                   .max_readers_per_session = f.streams.max_session_streams,
                                   .max_streams = f.streams.max_streams});
    exporters->add(stream_hub);
    if (otlp) {
        exporters->add(std::make_shared<ct::node::OtlpExporter>(
            ct::node::OtlpExporterOptions{.endpoint = *otlp, .node_name = f.node_name}));
        // Statistics sessions' counts go to the same collector as metrics.
        exporters->add(std::make_shared<ct::node::OtlpMetricsExporter>(
            ct::node::OtlpMetricsOptions{.endpoint = *otlp, .node_name = f.node_name}));
    }

    // Recording: every ftrace session's pages, for trace.dat and trace.json.
    std::shared_ptr<ct::node::record::Recorder> recorder;
    if (f.record_limit_mib > 0) {
        auto opened = ct::node::record::Recorder::open(
            {.dir = f.record_dir.empty() ? (std::filesystem::path(f.state_dir) / "recordings").string() : f.record_dir,
             .session_limit = static_cast<std::uint64_t>(f.record_limit_mib) << 20,
             .procfs_root = f.procfs});
        if (!opened) return usage_error("--record-dir: " + opened.error().message);
        recorder = std::move(*opened);
        exporters->add(recorder);
    }
    auto max_ring = ct::api::parse_size(f.max_ring);
    if (!max_ring || *max_ring < ct::api::kMinRingBytes || *max_ring > ct::api::kDefaultMaxRingBytes)
        return usage_error(fmt::format("--max-ring \"{}\": expected a size from 4K to 64M", f.max_ring));
    // Flight recorders' dumps (docs/flight-recorder.md).
    auto dumps = ct::node::flight::DumpStore::open({.dir = (std::filesystem::path(f.state_dir) / "dumps").string(),
                                                    .limit = f.dump_limit,
                                                    .holdoff = std::chrono::milliseconds(f.dump_holdoff_ms),
                                                    .procfs_root = f.procfs,
                                                    .exporters = exporters});
    if (!dumps) return usage_error("--state-dir: " + dumps.error().message);
    // Sessions and API: the real discovery, hooks and captures behind the sessions' interfaces.
    ct::node::NodeMetrics metrics;
    ct::node::PodDbSource pod_source(pods, f.procfs);
    ct::node::RegistryHookLauncher hook_launcher(hooks);
    ct::node::EventCaptureFactory captures(
        {.procfs_root = f.procfs,
         .capture_nice = f.capture_nice,
         .capture_queue = std::make_shared<ct::node::ByteBudget>(f.capture_queue_mib << 20),
         .page_tap_for = recorder ? [recorder](const ct::node::EventContext& context, const std::string& instance_dir) {
             auto tap = recorder->start_run(context, instance_dir);
             if (!tap) {
                 spdlog::error("session {}: not recording this run: {}", context.session_id, tap.error().message);
                 return ct::node::record::PageTap{};
             }
             return std::move(*tap);
         } : decltype(ct::node::EventCaptureOptions::page_tap_for){}},
        pod_source, exporters);
    ct::node::flight::FlightCaptureFactory run_captures(captures, pod_source, *dumps,
                                                        {.procfs_root = f.procfs,
                                                         .tracing_dir = ct::node::ftrace::tracing_dir_under(f.sysfs),
                                                         .instance_prefix = *instance_prefix});
    ct::node::SessionManager sessions({.node_name = f.node_name,
                                       .procfs_root = f.procfs,
                                       .sysfs_root = f.sysfs,
                                       .instance_prefix = *instance_prefix,
                                       .hook_start_timeout = std::chrono::milliseconds(f.hook_start_timeout_ms),
                                       .stop_grace = std::chrono::milliseconds(f.stop_grace_ms),
                                       .drain = {.limit = std::chrono::milliseconds(f.drain_limit_ms)},
                                       .max_sessions = f.max_sessions,
                                       .state = state->get()},
                                      pod_source, hook_launcher, run_captures, exporters);
    ct::node::NodeApi api(pods, hooks, sessions, metrics);
    api.set_stream_hub(stream_hub);
    api.set_exporters(exporters);
    api.set_node_name(f.node_name);
    api.set_recorder(recorder);
    api.set_dumps(*dumps);
    api.set_max_ring(*max_ring);
    auto router = std::make_shared<ct::http::Router>(api.router());
    f.server.listen = *listen;
    f.server.tls_cert = f.tls_cert;
    f.server.tls_key = f.tls_key;
    ct::http::HttpServer server(
        f.server,
        ct::http::with_auth(
            [router](const ct::http::Request& r) {
                auto d = router->dispatch(r);
                return ct::http::Dispatched{std::move(d.response), std::move(d.route)};
            },
            std::move(auth)),
        [&metrics](const std::string& route, const std::string& method, int status) {
            metrics.observe_request(route, method, status);
        });
    // Before serving: clients never see a half-restored set of sessions.
    sessions.restore();
    {
        // Recordings and dumps of sessions deleted while the agent was down have no session to export them.
        std::set<std::string> ids;
        for (const auto& view : sessions.list()) ids.insert(std::to_string(view.id));
        if (recorder) recorder->prune(ids);
        (*dumps)->prune(ids);
    }
    auto port = server.start();
    if (!port) {
        spdlog::critical("{}", port.error().message);
        return 1;
    }
    auto first = pods.refresh();
    if (!first) spdlog::warn("first discovery failed: {}", first.error().message);
    api.set_ready(true);
    spdlog::info("tracer-node {} serving {} on {}:{} (discovery: {}, hooks: {}, {} hooks, token {}, events to {}, "
                 "state in {}, {} connections of {} open files, {} handler threads)",
                 f.node_name, f.tls_cert.empty() ? "HTTP" : "HTTPS", listen->host.empty() ? "*" : listen->host, *port,
                 pods.describe(), f.hooks_dir, hooks.hooks()->size(), f.token_file.empty() ? "off" : "required",
                 f.trace_output == "-" ? "stdout" : f.trace_output, f.state_dir, f.server.max_connections, open_files,
                 f.server.handler_threads);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    server.stop();
    return 0;  // sessions' destructor stops every run and removes its instance
}
