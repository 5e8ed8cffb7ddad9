#include "tracer-svc/nodes/kube_source.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "common/tls_context.h"
#include "tracer-svc/nodes/kube_parse.h"

namespace ct::svc {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

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

    asio::io_context io;
    beast::ssl_stream<beast::tcp_stream> stream(io, **ctx);
    if (auto named = http::expect_peer_name(stream.native_handle(), host_); !named) return std::unexpected(named.error());

    std::string step = "resolve";
    Result<std::string> out = fail(Errc::kTimeout, "no answer");
    auto run = [&]() -> asio::awaitable<void> {
        auto t = asio::experimental::as_tuple(asio::use_awaitable);
        tcp::resolver resolver(io);
        auto [rec, eps] = co_await resolver.async_resolve(host_, std::to_string(port_), t);
        if (rec) co_return void(out = fail(Errc::kUnavailable, fmt::format("resolve: {}", rec.message())));
        beast::get_lowest_layer(stream).expires_after(options_.timeout);
        step = "connect";
        auto [cec, _] = co_await beast::get_lowest_layer(stream).async_connect(eps, t);
        if (cec) co_return void(out = fail(Errc::kUnavailable, fmt::format("connect: {}", cec.message())));
        step = "TLS handshake";
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, t);
        if (hec)
            co_return void(out = fail(Errc::kUnavailable, fmt::format("TLS handshake: {}", http::describe_handshake_error(
                                                                                             hec, stream.native_handle()))));
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
        req.set(bhttp::field::host, host_);
        req.set(bhttp::field::authorization, "Bearer " + std::string(trim(*token)));
        req.set(bhttp::field::accept, "application/json");
        req.set(bhttp::field::user_agent, "tracer-svc");
        step = "write";
        auto [wec, _w] = co_await bhttp::async_write(stream, req, t);
        if (wec) co_return void(out = fail(Errc::kUnavailable, fmt::format("write: {}", wec.message())));
        beast::flat_buffer buf;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(256 << 20);
        step = "read";
        auto [rdec, _r] = co_await bhttp::async_read(stream, buf, parser, t);
        if (rdec) co_return void(out = fail(Errc::kUnavailable, fmt::format("read: {}", rdec.message())));
        auto res = parser.release();
        if (res.result_int() != 200)
            co_return void(out = fail(Errc::kUnavailable, fmt::format("status {}: {}", res.result_int(),
                                                                      res.body().substr(0, 300))));
        out = std::move(res.body());
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
        co_await stream.async_shutdown(t);  // best effort
    };
    asio::co_spawn(io, run(), asio::detached);
    io.run_for(options_.timeout + std::chrono::milliseconds(500));
    if (!out) return std::unexpected(Error::wrap(out.error(), fmt::format("GET https://{}:{}{}", host_, port_, target)));
    return out;
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
