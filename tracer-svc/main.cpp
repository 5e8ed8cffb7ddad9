// tracer-svc: wires flags to components. A NodeSource (static / DNS / Kubernetes) feeds the
// NodeDirectory; SvcApi fans requests out through the FanoutClient and serves the merged answers.
#include <malloc.h>

#include <csignal>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "common/http_auth.h"
#include "common/http_server.h"
#include "common/tls_context.h"
#include "common/log.h"
#include "common/server_flags.h"
#include "common/strings.h"
#include "tracer-svc/api/svc_api.h"
#include "tracer-svc/nodes/dns_source.h"
#include "tracer-svc/nodes/kube_source.h"
#include "tracer-svc/nodes/static_source.h"

namespace {

constexpr int kUsageError = 2;

struct Flags {
    std::string address = ":8080";
    unsigned poll = 10;
    std::string pods_selector = "app=container-tracer-backend";
    std::string svc_selector = "metadata.name=container-tracer-node";
    bool verbose = false;
    std::string nodes;
    std::string nodes_dns;
    std::string dns_server;
    unsigned node_timeout_ms = 5000;
    unsigned node_session_timeout_ms = 60000;
    unsigned max_in_flight = 4096;
    std::string kube_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    std::string kube_api;
    std::string token_file;
    bool metrics_open = false;
    std::string tls_cert;
    std::string tls_key;
    std::string node_token_file;
    std::string node_ca;
    std::string node_tls_server_name;
    ct::http::StreamLimits streams{.max_streams = ct::svc::StreamRelayOptions{}.max_readers,
                                   .max_session_streams = ct::svc::StreamRelayOptions{}.max_readers_per_session,
                                   .queue_bytes = ct::svc::StreamRelayOptions{}.reader_queue_bytes};
    ct::http::ServerOptions server{.handler_threads = 32};
};

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tracer-svc: %s\n", message.c_str());
    return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
    // Connections are served from several threads; with glibc's default of up to 8 arenas per core,
    // memory freed when 1,000 stream readers leave stays spread over many arenas.
    ::mallopt(M_ARENA_MAX, 2);
    Flags f;
    CLI::App app{"tracer-svc: cluster aggregator of container-tracer (fans the REST API out to every tracer-node)"};
    app.option_defaults()->always_capture_default();
    app.add_option("--address", f.address, "API listen address, [host]:port")->envname("TRACE_KUBE_API_ADDRESS");
    app.add_option("--poll", f.poll, "seconds between node directory refreshes")
        ->envname("TRACE_KUBE_DISCOVERY_POLL")->check(CLI::Range(1u, 86400u));
    app.add_option("--pods-selector", f.pods_selector, "Kubernetes label selector of tracer-node pods")
        ->envname("TRACE_KUBE_SELECTOR_PODS");
    app.add_option("--svc-selector", f.svc_selector, "Kubernetes field selector of the tracer-node endpoints")
        ->envname("TRACE_KUBE_SELECTOR_SVCS");
    app.add_flag("--verbose", f.verbose, "debug logging")->envname("TRACE_KUBE_VERBOSE");
    auto* nodes_opt = app.add_option("--nodes", f.nodes, "static node list host:port,... (instead of Kubernetes)")
                          ->envname("TRACE_KUBE_NODES");
    auto* dns_opt = app.add_option("--nodes-dns", f.nodes_dns, "name:port: every A/AAAA record of name is a node")
                        ->envname("TRACE_KUBE_NODES_DNS");
    nodes_opt->excludes(dns_opt);
    app.add_option("--dns-server", f.dns_server, "DNS server host:port for --nodes-dns (default: system resolver)")
        ->envname("TRACE_KUBE_DNS_SERVER");
    app.add_option("--node-timeout", f.node_timeout_ms,
                   "milliseconds every node has to answer a request (the answer comes by then, naming the nodes that did not)")
        ->envname("TRACE_KUBE_NODE_TIMEOUT")->check(CLI::Range(1u, 3600000u));
    app.add_option("--node-session-timeout", f.node_session_timeout_ms,
                   "per-node timeout of PUT and DELETE of trace sessions (a node starts or stops hooks), milliseconds")
        ->envname("TRACE_KUBE_NODE_SESSION_TIMEOUT")->check(CLI::Range(1u, 3600000u));
    app.add_option("--max-in-flight", f.max_in_flight,
                   "node requests in flight at once (each holds a connection); more wait for a free one")
        ->envname("TRACE_KUBE_MAX_IN_FLIGHT")->check(CLI::Range(1u, 100000u));
    app.add_option("--kube-credentials", f.kube_dir, "service-account directory (token, ca.crt)")
        ->envname("TRACE_KUBE_CREDENTIALS");
    app.add_option("--kube-api", f.kube_api,
                   "Kubernetes API host:port (default: KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT)")
        ->envname("TRACE_KUBE_API");
    app.add_option("--token-file", f.token_file, "require Authorization: Bearer <token in this file> (not on /healthz, /readyz)")
        ->envname("TRACE_KUBE_TOKEN_FILE");
    app.add_flag("--metrics-open", f.metrics_open, "serve /metrics without a token")->envname("TRACE_KUBE_METRICS_OPEN");
    app.add_option("--tls-cert", f.tls_cert, "serve HTTPS with this PEM certificate chain (re-read when it changes)")
        ->envname("TRACE_KUBE_TLS_CERT");
    app.add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert")->envname("TRACE_KUBE_TLS_KEY");
    app.add_option("--node-token-file", f.node_token_file, "bearer token sent to every tracer-node")
        ->envname("TRACE_KUBE_NODE_TOKEN_FILE");
    app.add_option("--node-ca", f.node_ca,
                   "talk HTTPS to the nodes, verifying their certificates against this PEM CA bundle (re-read when it changes)")
        ->envname("TRACE_KUBE_NODE_CA");
    app.add_option("--node-tls-server-name", f.node_tls_server_name,
                   "with --node-ca: name every node certificate must carry (and SNI), instead of the node's address")
        ->envname("TRACE_KUBE_NODE_TLS_SERVER_NAME");
    ct::http::add_stream_flags(app, f.streams, "TRACE_KUBE_", "one node stream feeds them all");
    ct::http::add_server_flags(app, f.server, "TRACE_KUBE_");
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
    if (!listen) return usage_error("--address: " + listen.error().message);
    if (f.tls_cert.empty() != f.tls_key.empty()) return usage_error("--tls-cert and --tls-key go together");
    ct::http::AuthOptions auth{.token = {}, .metrics_open = f.metrics_open};
    if (!f.token_file.empty()) {
        auto token = ct::http::TokenSource::open(f.token_file);
        if (!token) return usage_error("--token-file: " + token.error().message);
        auth.token_source = std::move(*token);
    }
    std::shared_ptr<ct::http::TokenSource> node_token;
    if (!f.node_token_file.empty()) {
        auto token = ct::http::TokenSource::open(f.node_token_file);
        if (!token) return usage_error("--node-token-file: " + token.error().message);
        node_token = std::move(*token);
    }
    std::shared_ptr<ct::http::TlsClientContextSource> node_tls;
    if (!f.node_tls_server_name.empty() && f.node_ca.empty())
        return usage_error("--node-tls-server-name needs --node-ca");
    if (!f.node_ca.empty()) {
        node_tls = std::make_shared<ct::http::TlsClientContextSource>(f.node_ca);
        if (auto loaded = node_tls->load(); !loaded) return usage_error("--node-ca: " + loaded.error().message);
    }
    std::unique_ptr<ct::svc::NodeSource> source;
    if (!f.nodes.empty()) {
        auto nodes = ct::svc::parse_node_list(f.nodes);
        if (!nodes) return usage_error("--nodes: " + nodes.error().message);
        source = std::make_unique<ct::svc::StaticSource>(std::move(*nodes));
    } else if (!f.nodes_dns.empty()) {
        auto hp = ct::parse_host_port(f.nodes_dns);
        if (!hp || hp->host.empty())
            return usage_error("--nodes-dns \"" + f.nodes_dns + "\": expected name:port");
        std::optional<ct::HostPort> server;
        if (!f.dns_server.empty()) {
            auto s = ct::parse_host_port(f.dns_server);
            if (!s || s->host.empty()) return usage_error("--dns-server \"" + f.dns_server + "\": expected ip:port");
            server = *s;
        }
        source = std::make_unique<ct::svc::DnsSource>(hp->host, hp->port, server);
    } else {
        auto kube = ct::svc::KubeSource::from_environment(
            {.credentials_dir = f.kube_dir, .api = f.kube_api, .pods_selector = f.pods_selector,
             .endpoints_selector = f.svc_selector});
        if (!kube) return usage_error(kube.error().message + " (or give --nodes / --nodes-dns)");
        source = std::move(*kube);
    }

    ct::init_logging(f.verbose, "tracer-svc");
    std::signal(SIGPIPE, SIG_IGN);
    const size_t open_files = ct::http::raise_open_file_limit();  // each client and node connection holds one
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    ct::svc::FanoutClient fanout({.timeout = std::chrono::milliseconds(f.node_timeout_ms),
                                  .max_in_flight = f.max_in_flight,
                                  .node_token = std::move(node_token),
                                  .tls = std::move(node_tls),
                                  .tls_server_name = f.node_tls_server_name});
    ct::svc::NodeDirectory directory(std::move(source), std::chrono::seconds(f.poll),
                                     [&fanout](const std::vector<ct::svc::NodeAddress>& nodes) { fanout.retain(nodes); });
    ct::svc::SvcApi api(directory, fanout,
                        {.session_change_timeout = std::chrono::milliseconds(f.node_session_timeout_ms),
                         .streams = {.reader_queue_bytes = f.streams.queue_bytes,
                                     .max_readers_per_session = f.streams.max_session_streams,
                                     .max_readers = f.streams.max_streams}});
    directory.set_on_poll([&api] { api.probe(); });
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
        [&api](const std::string& route, const std::string& method, int status) { api.observe(route, method, status); });
    auto port = server.start();
    if (!port) {
        spdlog::critical("{}", port.error().message);
        return 1;
    }
    directory.start();
    spdlog::info("tracer-svc serving on {}:{} (nodes: {} over {}, poll {} s, node timeout {} ms, {} connections of {} "
                 "open files, {} handler threads)",
                 listen->host.empty() ? "*" : listen->host, *port, directory.describe(),
                 f.node_ca.empty() ? "HTTP" : "HTTPS", f.poll, f.node_timeout_ms, f.server.max_connections, open_files,
                 f.server.handler_threads);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    server.stop();
    directory.stop();
    return 0;
}
