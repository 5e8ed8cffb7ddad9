// tracer-svc in Kubernetes mode against a local HTTPS "Kubernetes API" (common HttpServer with TLS,
// certificates made by the openssl CLI) answering real PodList / EndpointsList JSON that points at
// stand-in nodes (common HttpServer answering canned pod maps) on 127.0.0.x at one port.
// Checks what the svc asks the API (selectors, bearer token), that only Running pods with an IP
// become nodes, and that an API server certificate from another CA is refused.
#include <catch2/catch.hpp>

#include <mutex>

#include "common/http_server.h"
#include "tests/integration/svc_fixture.h"

using namespace ct::svctest;

namespace {

constexpr const char* kToken = "kube-test-token-4711";

// A CA, a server certificate for IP 127.0.0.1 signed by it, and a second, unrelated CA.
void make_certs(const fs::path& dir) {
    auto script = fmt::format(R"(set -e
cd '{}'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=kube-test-ca
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=unrelated-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf
)",
                              dir.string());
    auto r = ct::run_capture({.argv = {"sh", "-c", script}, .extra_env = {}}, 30s);
    REQUIRE(r);
    INFO(r->err);
    REQUIRE(r->status.ok());
}

// The stand-in Kubernetes API: answers pods and endpoints lists, records every request.
class FakeApi {
public:
    FakeApi(const fs::path& certs, std::string pods, std::string endpoints)
        : pods_(std::move(pods)), endpoints_(std::move(endpoints)) {
        ct::http::ServerOptions o;
        o.listen = {"127.0.0.1", 0};
        o.handler_threads = 2;
        o.tls_cert = (certs / "server.crt").string();
        o.tls_key = (certs / "server.key").string();
        server_ = std::make_unique<ct::http::HttpServer>(o, [this](const ct::http::Request& r) {
            {
                std::lock_guard lock(mu_);
                seen_.push_back({r.target, r.header("authorization")});
            }
            if (r.path == "/api/v1/pods")
                return ct::http::Dispatched{ct::http::json_response(boost::json::parse(pods_)), "pods"};
            if (r.path == "/api/v1/endpoints")
                return ct::http::Dispatched{ct::http::json_response(boost::json::parse(endpoints_)), "endpoints"};
            return ct::http::Dispatched{ct::http::json_response(boost::json::object{{"kind", "Status"}}, 404), "other"};
        });
        auto port = server_->start();
        REQUIRE(port);
        port_ = *port;
    }
    unsigned short port() const { return port_; }
    std::vector<std::pair<std::string, std::string>> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }

private:
    std::string pods_, endpoints_;
    mutable std::mutex mu_;
    std::vector<std::pair<std::string, std::string>> seen_;  // target, Authorization
    std::unique_ptr<ct::http::HttpServer> server_;
    unsigned short port_ = 0;
};

std::string pod_json(const std::string& name, const std::string& phase, const std::string& ip) {
    return fmt::format(R"({{"metadata":{{"name":"{}","namespace":"tracing","labels":{{"app":"container-tracer-backend"}}}},
"spec":{{"nodeName":"worker-{}"}},"status":{{"phase":"{}"{}}}}})",
                       name, name, phase, ip.empty() ? "" : fmt::format(R"(,"podIP":"{}")", ip));
}

// tracer-svc in Kubernetes mode, stdout+stderr into `log`.
Svc kube_svc(const fs::path& creds, unsigned short api_port, const fs::path& log) {
    return Svc({"--poll", "1", "--kube-credentials", creds.string(), "--kube-api", fmt::format("127.0.0.1:{}", api_port)},
               {}, log);
}

}  // namespace

TEST_CASE("Kubernetes mode: Running pods from the API over verified HTTPS become nodes", "[integration][svc]") {
    TempDir tmp;
    make_certs(tmp.path());
    auto creds = tmp.path() / "sa";
    write_file(creds / "token", std::string(kToken) + "\n");
    fs::copy_file(tmp.path() / "ca.crt", creds / "ca.crt");
    write_file(creds / "namespace", "tracing");

    unsigned short node_port = free_port();
    auto n2 = stand_in("127.0.0.2", node_port);
    auto n3 = stand_in("127.0.0.3", node_port);
    auto n4 = stand_in("127.0.0.4", node_port);  // up, but its pod is Pending: must not be asked

    auto pods = fmt::format(R"({{"apiVersion":"v1","kind":"PodList","metadata":{{"resourceVersion":"1234"}},"items":[{},{},{},{}]}})",
                            pod_json("tracer-a", "Running", "127.0.0.2"), pod_json("tracer-b", "Running", "127.0.0.3"),
                            pod_json("tracer-c", "Pending", "127.0.0.4"), pod_json("tracer-d", "Running", ""));
    auto endpoints = fmt::format(
        R"({{"apiVersion":"v1","kind":"EndpointsList","metadata":{{"resourceVersion":"1234"}},"items":[
{{"metadata":{{"name":"container-tracer-node","namespace":"tracing"}},
  "subsets":[{{"addresses":[{{"ip":"127.0.0.2"}},{{"ip":"127.0.0.3"}}],
               "notReadyAddresses":[{{"ip":"127.0.0.4"}}],
               "ports":[{{"name":"http","port":{},"protocol":"TCP"}}]}}]}}]}})",
        node_port);
    FakeApi api(tmp.path(), pods, endpoints);

    auto svc = kube_svc(creds, api.port(), tmp.path() / "svc.log");
    REQUIRE(svc.started());
    if (!wait_status(svc.port(), "/readyz", 200, 20s)) FAIL("never ready; svc log:\n" << read_file(tmp.path() / "svc.log"));

    auto seen = api.seen();
    bool pods_asked = false, endpoints_asked = false;
    for (const auto& [target, auth] : seen) {
        if (target == "/api/v1/pods?labelSelector=app%3Dcontainer-tracer-backend") pods_asked = true;
        if (target == "/api/v1/endpoints?fieldSelector=metadata.name%3Dcontainer-tracer-node") endpoints_asked = true;
        CHECK(auth == std::string("Bearer ") + kToken);
    }
    CHECK(pods_asked);
    CHECK(endpoints_asked);

    auto r = call(svc.port(), "GET", "/v1/pods");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto m = json_of(*r);
    CHECK(m.size() == 2);
    CHECK(m.contains("pod-127.0.0.2"));
    CHECK(m.contains("pod-127.0.0.3"));
    CHECK_FALSE(m.contains("pod-127.0.0.4"));

    // The directory itself: exactly the two Running pods with an IP, at the endpoints' port.
    auto ready = call(svc.port(), "GET", "/readyz");
    REQUIRE(ready);
    CHECK(json_of(*ready).at("nodes").as_int64() == 2);
}

TEST_CASE("Kubernetes mode: an API server certificate from another CA is refused", "[integration][svc]") {
    TempDir tmp;
    make_certs(tmp.path());
    auto creds = tmp.path() / "sa";
    write_file(creds / "token", kToken);
    fs::copy_file(tmp.path() / "other-ca.crt", creds / "ca.crt");

    unsigned short node_port = free_port();
    auto n2 = stand_in("127.0.0.2", node_port);
    auto pods = fmt::format(R"({{"apiVersion":"v1","kind":"PodList","items":[{}]}})",
                            pod_json("tracer-a", "Running", "127.0.0.2"));
    auto endpoints = fmt::format(
        R"({{"apiVersion":"v1","kind":"EndpointsList","items":[{{"metadata":{{"name":"container-tracer-node"}},
"subsets":[{{"addresses":[{{"ip":"127.0.0.2"}}],"ports":[{{"port":{}}}]}}]}}]}})",
        node_port);
    FakeApi api(tmp.path(), pods, endpoints);

    auto log = tmp.path() / "svc.log";
    auto svc = kube_svc(creds, api.port(), log);
    REQUIRE(svc.started());
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
        refused = read_file(log).find("certificate verify failed") != std::string::npos;
        if (!refused) std::this_thread::sleep_for(100ms);
    }
    INFO(read_file(log));
    CHECK(refused);
    // Give it a further poll or two: it must stay unready and never send the token.
    std::this_thread::sleep_for(2500ms);
    auto ready = call(svc.port(), "GET", "/readyz");
    REQUIRE(ready);
    CHECK(ready->status == 503);
    CHECK(ready->body.find("certificate verify failed") != std::string::npos);
    CHECK(api.seen().empty());
    auto r = call(svc.port(), "GET", "/v1/pods");
    REQUIRE(r);
    if (r->status == 200) CHECK(json_of(*r).empty());
}
