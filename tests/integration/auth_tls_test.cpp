// Bearer-token authentication and TLS (common/http_auth.h, common/tls_context.h, HttpServer):
// pure checks, then real HTTP(S) on loopback against an in-process HttpServer and against the real
// tracer-node and tracer-svc programs. Certificates are made with the openssl CLI in a temp dir;
// HTTPS clients are curl (what users run), so verification is OpenSSL's, not ours.
#include <catch2/catch.hpp>

#include <atomic>

#include "common/http_auth.h"
#include "common/http_server.h"
#include "common/subprocess.h"
#include "tests/integration/svc_fixture.h"
#include "tests/integration/tls_fixture.h"

using namespace ct;
using namespace ct::svctest;
using namespace ct::tlstest;

namespace {

// An in-process server answering 200 {"path": ...} on every path, counting the requests that
// reached it (i.e. passed authentication).
struct TestServer {
    std::atomic<int> reached{0};
    std::unique_ptr<http::HttpServer> server;
    unsigned short port = 0;

    Status start(http::AuthOptions auth, std::string cert = {}, std::string key = {}) {
        http::ServerOptions o{.listen = {.host = "127.0.0.1", .port = 0}};
        o.tls_cert = std::move(cert);
        o.tls_key = std::move(key);
        server = std::make_unique<http::HttpServer>(
            o, http::with_auth(
                   [this](const http::Request& r) {
                       ++reached;
                       return http::Dispatched{http::json_response(boost::json::object{{"path", r.path}}), r.path};
                   },
                   std::move(auth)));
        auto p = server->start();
        if (!p) return std::unexpected(p.error());
        port = *p;
        return {};
    }
};

Result<http::ClientResponse> get(unsigned short port, const std::string& target,
                                 std::map<std::string, std::string> headers = {}) {
    return http::send({.host = "127.0.0.1", .port = port, .method = "GET", .target = target, .body = {},
                       .headers = std::move(headers), .timeout = 10s});
}

}  // namespace

TEST_CASE("constant_time_equal compares whole strings", "[unit][auth]") {
    CHECK(http::constant_time_equal("secret", "secret"));
    CHECK_FALSE(http::constant_time_equal("secret", "secreT"));
    CHECK_FALSE(http::constant_time_equal("secret", "secret2"));
    CHECK_FALSE(http::constant_time_equal("secret", ""));
    CHECK(http::constant_time_equal("", ""));
}

TEST_CASE("check_bearer: open paths, scheme, token", "[unit][auth]") {
    http::AuthOptions auth{.token = "s3cret", .metrics_open = false};
    auto req = [](std::string path, std::string authz) {
        http::Request r;
        r.method = "GET";
        r.path = r.target = std::move(path);
        if (!authz.empty()) r.headers["authorization"] = std::move(authz);
        return r;
    };
    CHECK_FALSE(http::check_bearer(req("/healthz", ""), auth));
    CHECK_FALSE(http::check_bearer(req("/readyz", ""), auth));
    CHECK_FALSE(http::check_bearer(req("/v1/pods", "Bearer s3cret"), auth));
    CHECK_FALSE(http::check_bearer(req("/v1/pods", "bearer  s3cret "), auth));
    auto missing = http::check_bearer(req("/v1/pods", ""), auth);
    REQUIRE(missing);
    CHECK(missing->status == 401);
    REQUIRE(missing->headers.size() == 1);
    CHECK(missing->headers[0].first == "WWW-Authenticate");
    CHECK(missing->headers[0].second.starts_with("Bearer"));
    CHECK(http::check_bearer(req("/v1/pods", "Basic czNjcmV0"), auth));
    CHECK(http::check_bearer(req("/v1/pods", "Bearer s3cre"), auth));
    CHECK(http::check_bearer(req("/metrics", ""), auth));
    auth.metrics_open = true;
    CHECK_FALSE(http::check_bearer(req("/metrics", ""), auth));
    auth.token.clear();  // off
    CHECK_FALSE(http::check_bearer(req("/v1/pods", ""), auth));
}

TEST_CASE("read_token_file trims and rejects empty files", "[unit][auth]") {
    TempDir dir;
    write_file(dir.path() / "t", "  abc123\n");
    write_file(dir.path() / "empty", "\n");
    auto t = http::read_token_file((dir.path() / "t").string());
    REQUIRE(t);
    CHECK(*t == "abc123");
    auto e = http::read_token_file((dir.path() / "empty").string());
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::kInvalidArgument);
    auto m = http::read_token_file((dir.path() / "missing").string());
    REQUIRE_FALSE(m);
    CHECK(m.error().code == Errc::kIo);
}

TEST_CASE("token auth over real HTTP: good, bad, missing token, open paths", "[integration][auth]") {
    TestServer s;
    REQUIRE(s.start({.token = "tok-123", .metrics_open = false}));

    auto good = get(s.port, "/v1/pods", {{"Authorization", "Bearer tok-123"}});
    REQUIRE(good);
    CHECK(good->status == 200);
    CHECK(good->body.find("/v1/pods") != std::string::npos);

    auto bad = get(s.port, "/v1/pods", {{"Authorization", "Bearer tok-124"}});
    REQUIRE(bad);
    CHECK(bad->status == 401);
    CHECK(bad->headers["www-authenticate"].starts_with("Bearer"));
    CHECK(bad->body.find("\"error\"") != std::string::npos);

    auto missing = get(s.port, "/v1/pods");
    REQUIRE(missing);
    CHECK(missing->status == 401);
    CHECK(missing->headers["www-authenticate"].starts_with("Bearer"));

    auto metrics = get(s.port, "/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 401);
    for (auto path : {"/healthz", "/readyz"}) {
        auto open = get(s.port, path);
        REQUIRE(open);
        CHECK(open->status == 200);
    }
    CHECK(s.reached == 3);  // the good request and the two open paths only

    TestServer open_metrics;
    REQUIRE(open_metrics.start({.token = "tok-123", .metrics_open = true}));
    auto m = get(open_metrics.port, "/metrics");
    REQUIRE(m);
    CHECK(m->status == 200);

    TestServer no_auth;  // no token: everything answers as before
    REQUIRE(no_auth.start({}));
    auto plain = get(no_auth.port, "/v1/pods");
    REQUIRE(plain);
    CHECK(plain->status == 200);
}

TEST_CASE("TLS: right CA, wrong CA, expired certificate, plain HTTP, rotation", "[integration][tls]") {
    TempDir dir;
    const auto& d = dir.path();
    make_ca(d, "ca");
    make_ca(d, "other-ca");
    make_cert(d, "ca", "server", 10);
    make_cert(d, "ca", "expired", -1);
    make_cert(d, "other-ca", "rotated", 10);
    auto p = [&](const std::string& f) { return (d / f).string(); };

    SECTION("missing or mismatched files fail start") {
        TestServer s;
        auto missing = s.start({}, p("nope.pem"), p("server.key"));
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::kInvalidArgument);
        TestServer m;
        auto mismatch = m.start({}, p("server.pem"), p("rotated.key"));
        REQUIRE_FALSE(mismatch);
        CHECK(mismatch.error().message.find("does not match") != std::string::npos);
    }

    SECTION("verification against the right and the wrong CA; token over TLS") {
        // Served from copies so the rotation below can replace them.
        fs::copy_file(d / "server.pem", d / "live.pem");
        fs::copy_file(d / "server.key", d / "live.key");
        TestServer s;
        REQUIRE(s.start({.token = "tls-tok", .metrics_open = false}, p("live.pem"), p("live.key")));
        std::string base = fmt::format("https://127.0.0.1:{}", s.port);

        auto ok = curl(base + "/v1/pods", {"--cacert", p("ca.pem"), "-H", "Authorization: Bearer tls-tok"});
        INFO(ok.err);
        CHECK(ok.exit_code == 0);
        CHECK(ok.status == 200);
        auto by_name = curl(fmt::format("https://localhost:{}/healthz", s.port), {"--cacert", p("ca.pem")});
        CHECK(by_name.exit_code == 0);
        CHECK(by_name.status == 200);
        auto no_token = curl(base + "/v1/pods", {"--cacert", p("ca.pem")});
        CHECK(no_token.exit_code == 0);
        CHECK(no_token.status == 401);

        auto wrong_ca = curl(base + "/healthz", {"--cacert", p("other-ca.pem")});
        CHECK(wrong_ca.exit_code == 60);  // CURLE_PEER_FAILED_VERIFICATION
        CHECK(wrong_ca.status == 0);

        auto plain = get(s.port, "/healthz");  // plain HTTP to the TLS port gets no HTTP answer
        CHECK_FALSE(plain);

        // Rotation: new files signed by the other CA are served on the next connection.
        fs::copy_file(d / "rotated.pem", d / "live.pem", fs::copy_options::overwrite_existing);
        fs::copy_file(d / "rotated.key", d / "live.key", fs::copy_options::overwrite_existing);
        auto after_old_ca = curl(base + "/healthz", {"--cacert", p("ca.pem")});
        CHECK(after_old_ca.exit_code == 60);
        auto after_new_ca = curl(base + "/healthz", {"--cacert", p("other-ca.pem")});
        INFO(after_new_ca.err);
        CHECK(after_new_ca.exit_code == 0);
        CHECK(after_new_ca.status == 200);
    }

    SECTION("an expired certificate is rejected by the client") {
        TestServer s;
        REQUIRE(s.start({}, p("expired.pem"), p("expired.key")));
        auto r = curl(fmt::format("https://127.0.0.1:{}/healthz", s.port), {"--cacert", p("ca.pem")});
        CHECK(r.exit_code == 60);
        CHECK(r.err.find("expired") != std::string::npos);
        // Same CA, same server code, valid dates: accepted (so the failure above is the dates).
        TestServer valid;
        REQUIRE(valid.start({}, p("server.pem"), p("server.key")));
        auto v = curl(fmt::format("https://127.0.0.1:{}/healthz", valid.port), {"--cacert", p("ca.pem")});
        CHECK(v.exit_code == 0);
    }
}

TEST_CASE("tracer-node and tracer-svc programs: --token-file, --tls-cert, --node-token-file",
          "[integration][root][auth]") {
    TempDir dir;
    const auto& d = dir.path();
    make_ca(d, "ca");
    make_cert(d, "ca", "server", 10);
    write_file(d / "node.token", "node-secret\n");
    write_file(d / "svc.token", "svc-secret\n");
    write_file(d / "wrong.token", "not-it\n");
    make_fake_hooks(d / "hooks", "fake", "hook_a");
    auto p = [&](const std::string& f) { return (d / f).string(); };

    // tracer-node with a token and TLS.
    unsigned short node_port = free_port();
    auto node = Subprocess::spawn(
        {.argv = {std::string(CT_BINARY_DIR) + "/tracer-node/tracer-node", "--address",
                  fmt::format("127.0.0.1:{}", node_port), "--use-procfs", "--trace-hooks", p("hooks"),
                  "--trace-output", p("events.jsonl"), "--token-file", p("node.token"), "--tls-cert", p("server.pem"),
                  "--tls-key", p("server.key"), "--state-dir", p("state")},
         .extra_env = {}, .capture_stdout = false, .capture_stderr = false});
    REQUIRE(node);
    std::string nbase = fmt::format("https://127.0.0.1:{}", node_port);
    Curl ready;
    for (int i = 0; i < 200 && ready.status != 200; ++i) {
        ready = curl(nbase + "/readyz", {"--cacert", p("ca.pem")});
        if (ready.status != 200) std::this_thread::sleep_for(100ms);
    }
    REQUIRE(ready.status == 200);
    CHECK(curl(nbase + "/v1/trace-hooks", {"--cacert", p("ca.pem")}).status == 401);
    CHECK(curl(nbase + "/v1/trace-hooks", {"--cacert", p("ca.pem"), "-H", "Authorization: Bearer not-it"}).status == 401);
    auto hooks = curl(nbase + "/v1/trace-hooks", {"--cacert", p("ca.pem"), "-H", "Authorization: Bearer node-secret"});
    CHECK(hooks.status == 200);
    CHECK(hooks.body.find("hook_a") != std::string::npos);
    CHECK(curl(nbase + "/metrics", {"--cacert", p("ca.pem")}).status == 401);

    // tracer-svc (plain HTTP to the node here; --node-ca is in node_tls_test.cpp) with its own token, in front of an
    // in-process node that requires the node token.
    TestServer fake_node;
    REQUIRE(fake_node.start({.token = "node-secret", .metrics_open = false}));
    {
        Svc svc({"--nodes", fmt::format("127.0.0.1:{}", fake_node.port), "--token-file", p("svc.token"),
                 "--node-token-file", p("node.token"), "--metrics-open"});
        REQUIRE(svc.started());
        std::string sbase = fmt::format("http://127.0.0.1:{}", svc.port());
        CHECK(curl(sbase + "/v1/trace-hooks").status == 401);
        CHECK(curl(sbase + "/metrics").status == 200);
        int before = fake_node.reached;
        auto r = curl(sbase + "/v1/trace-hooks", {"-H", "Authorization: Bearer svc-secret"});
        CHECK(r.status != 401);
        CHECK(fake_node.reached > before);  // the svc's request carried the node token
    }
    {
        Svc svc({"--nodes", fmt::format("127.0.0.1:{}", fake_node.port), "--node-token-file", p("wrong.token")});
        REQUIRE(svc.started());
        int before = fake_node.reached;
        curl(fmt::format("http://127.0.0.1:{}/v1/trace-hooks", svc.port()));
        CHECK(fake_node.reached == before);  // rejected by the node
    }
    node->stop(2000ms, SIGTERM);
}
