#include "tracer-svc/nodes/kube_source.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/strings.h"
#include "common/tls_context.h"
#include "tracer-svc/nodes/kube_parse.h"

namespace ct::svc {

namespace {

constexpr size_t kMaxListBytes = 256 << 20;  // a pod list of a large cluster, with room to spare

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path);
    if (!in) return fail_errno("reading " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

Result<std::unique_ptr<KubeSource>> KubeSource::from_environment(KubeOptions options) {
    std::string api = options.api;
    if (api.empty()) {
        const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
        const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
        if (!host || !*host || !port || !*port)
            return fail(Errc::kInvalidArgument,
                        "not inside Kubernetes: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set");
        std::string h = host;
        api = (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
    }
    auto hp = parse_host_port(api);
    if (!hp || hp->host.empty()) return fail(Errc::kInvalidArgument, fmt::format("Kubernetes API address \"{}\" is not host:port", api));
    for (const char* file : {"token", "ca.crt"}) {
        auto path = options.credentials_dir + "/" + file;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec))
            return fail(Errc::kNotFound, fmt::format("service-account file {} is missing", path));
    }
    return std::unique_ptr<KubeSource>(new KubeSource(std::move(options), hp->host, hp->port));
}

KubeSource::KubeSource(KubeOptions options, std::string host, unsigned short port)
    : options_(std::move(options)), host_(std::move(host)), port_(port) {}

std::string KubeSource::describe() const {
    return fmt::format("Kubernetes API {}:{} pods {} endpoints {}", host_, port_, options_.pods_selector,
                       options_.endpoints_selector);
}

Result<std::string> KubeSource::get(const std::string& target) {
    auto token = read_text(options_.credentials_dir + "/token");
    if (!token) return std::unexpected(token.error());
    auto ctx = http::make_client_context(options_.credentials_dir + "/ca.crt");  // read each time: the CA rotates too
    if (!ctx) return std::unexpected(ctx.error());
    auto res = http::send({.host = host_,
                           .port = port_,
                           .method = "GET",
                           .target = target,
                           .body = {},
                           .headers = {{"Authorization", "Bearer " + std::string(trim(*token))},
                                       {"Accept", "application/json"},
                                       {"User-Agent", "tracer-svc"}},
                           .timeout = options_.timeout,
                           .tls = std::move(*ctx),
                           .tls_server_name = host_,
                           .max_response = kMaxListBytes});
    auto where = fmt::format("GET https://{}:{}{}", host_, port_, target);
    if (!res) return std::unexpected(Error::wrap(res.error(), where));
    if (res->status != 200)
        return fail(Errc::kUnavailable, fmt::format("{}: status {}: {}", where, res->status, res->body.substr(0, 300)));
    return std::move(res->body);
}

Result<std::vector<NodeAddress>> KubeSource::list() {
    auto pods_text = get("/api/v1/pods?labelSelector=" + kube::url_encode(options_.pods_selector));
    if (!pods_text) return std::unexpected(pods_text.error());
    auto pods = kube::parse_pod_list(*pods_text);
    if (!pods) return std::unexpected(Error::wrap(pods.error(), "listing pods"));
    auto eps_text = get("/api/v1/endpoints?fieldSelector=" + kube::url_encode(options_.endpoints_selector));
    if (!eps_text) return std::unexpected(eps_text.error());
    auto ports = kube::parse_endpoint_ports(*eps_text);
    if (!ports) return std::unexpected(Error::wrap(ports.error(), "listing endpoints"));
    if (ports->empty())
        return fail(Errc::kNotFound, fmt::format("no endpoints port matches field selector \"{}\"", options_.endpoints_selector));
    return kube::running_nodes(*pods, ports->front());
}

}  // namespace ct::svc
