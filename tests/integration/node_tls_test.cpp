// tracer-svc → tracer-node over verified HTTPS (--node-ca, FanoutClient with a TlsClientContextSource)
// and token rotation (TokenSource behind --token-file / --node-token-file). Real TLS on loopback:
// certificates from the openssl CLI (tls_fixture.h), in-process HTTPS node stand-ins for the
// FanoutClient checks, the real tracer-node and tracer-svc programs for the end-to-end ones.
#include <catch2/catch.hpp>

#include <atomic>

#include "common/http_auth.h"
#include "common/http_server.h"
#include "common/subprocess.h"
#include "common/tls_context.h"
#include "tests/integration/svc_fixture.h"
#include "tests/integration/tls_fixture.h"
#include "tracer-svc/api/svc_api.h"
#include "tracer-svc/fanout/fanout_client.h"

using namespace ct;
using namespace ct::svctest;
using namespace ct::tlstest;

namespace {

// Replaces `path` atomically (write a sibling, rename over it), as `kubectl cp`/editors/operators do.
void replace_file(const fs::path& path, const std::string& text) {
    auto tmp = path.parent_path() / (path.filename().string() + ".new");
    write_file(tmp, text);
    fs::rename(tmp, path);
}

// A Kubernetes-style Secret volume in `dir`: <dir>/<key> -> ..data/<key>, ..data -> ..<version>.
// update() writes a new version directory and swaps the ..data symlink atomically, as the kubelet does.
class SecretVolume {
public:
    SecretVolume(fs::path dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {
        fs::create_directories(dir_);
        fs::create_symlink(fs::path("..data") / key_, dir_ / key_);
    }
    void update(const std::string& text) {
        auto version = fmt::format("..v{}", ++version_);
        write_file(dir_ / version / key_, text);
        fs::create_directory_symlink(version, dir_ / "..data_tmp");
        fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    }
    std::string path() const { return (dir_ / key_).string(); }

private:
    fs::path dir_;
    std::string key_;
    int version_ = 0;
};

// An in-process HTTPS node stand-in on 127.0.0.1 whose every path answers {"pod-<name>": {...}}.
struct TlsStandIn {
    std::unique_ptr<http::HttpServer> server;
    unsigned short port = 0;

    TlsStandIn(const std::string& name, const std::string& cert, const std::string& key) {
        http::ServerOptions o{.listen = {.host = "127.0.0.1", .port = 0}};
        o.handler_threads = 2;
        o.tls_cert = cert;
        o.tls_key = key;
        auto body = fmt::format(R"({{"pod-{}":{{"Containers":{{}}}}}})", name);
        server = std::make_unique<http::HttpServer>(o, [body](const http::Request&) {
            return http::Dispatched{http::json_response(boost::json::parse(body)), "pods"};
        });
        auto p = server->start();
        REQUIRE(p);
        port = *p;
    }
    svc::NodeAddress address(const std::string& host = "127.0.0.1") const {
        return {.key = fmt::format("{}:{}", host, port), .host = host, .port = port, .label = {}};
    }
};

// A real tracer-node serving HTTPS on 127.0.0.1 with fake hooks `hooks`; stopped by PID.
class HttpsNode {
public:
    HttpsNode(const fs::path& dir, const std::string& name, const std::string& hooks, const std::string& cert,
              const std::string& key, const std::string& ca, std::vector<std::string> extra = {})
        : port_(free_port()), ca_(ca) {
        make_fake_hooks(dir / ("hooks-" + name), "fake", hooks);
        std::vector<std::string> argv{std::string(CT_BINARY_DIR) + "/tracer-node/tracer-node", "--address",
                                      fmt::format("127.0.0.1:{}", port_), "--use-procfs", "--node-name", name,
                                      "--trace-hooks", (dir / ("hooks-" + name)).string(), "--trace-output",
                                      (dir / (name + ".jsonl")).string(), "--tls-cert", cert, "--tls-key", key,
                                      "--state-dir", (dir / ("state-" + name)).string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto p = Subprocess::spawn({.argv = argv, .extra_env = {}, .capture_stdout = false, .capture_stderr = false});
        REQUIRE(p);
        proc_ = std::move(*p);
        Curl ready;
        for (int i = 0; i < 200 && ready.status != 200; ++i) {
            ready = get("/readyz");
            if (ready.status != 200) std::this_thread::sleep_for(100ms);
        }
        REQUIRE(ready.status == 200);
    }
    ~HttpsNode() {
        if (proc_.pid() > 0) proc_.stop(2000ms, SIGTERM);
    }
    std::string url(const std::string& path) const { return fmt::format("https://127.0.0.1:{}{}", port_, path); }
    // curl verifying against the node's CA, with an optional bearer token.
    Curl get(const std::string& path, const std::string& token = {}) const {
        std::vector<std::string> extra{"--cacert", ca_};
        if (!token.empty()) extra.insert(extra.end(), {"-H", "Authorization: Bearer " + token});
        return curl(url(path), extra);
    }
    std::string key() const { return fmt::format("127.0.0.1:{}", port_); }

private:
    unsigned short port_;
    std::string ca_;
    Subprocess proc_;
};

// Polls `done` every 100 ms for up to `limit`; true once it held.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return done();
}

struct Certs {
    TempDir dir;
    std::string p(const std::string& f) const { return (dir.path() / f).string(); }
    Certs() {
        const auto& d = dir.path();
        make_ca(d, "ca");
        make_ca(d, "other-ca");
        make_cert(d, "ca", "good", 10);
        make_cert(d, "ca", "good2", 10);
        make_cert(d, "ca", "expired", -1);
        make_cert(d, "ca", "wrongname", 10, "DNS:other.example,IP:10.9.9.9");
        make_cert(d, "other-ca", "foreign", 10);
    }
};

std::shared_ptr<http::TlsClientContextSource> ca_source(const std::string& file) {
    auto s = std::make_shared<http::TlsClientContextSource>(file);
    REQUIRE(s->load());
    return s;
}

svc::FanoutClient tls_fanout(std::shared_ptr<http::TlsClientContextSource> ca) {
    svc::FanoutOptions o;
    o.timeout = 5s;
    o.tls = std::move(ca);
    return svc::FanoutClient(o);
}

// GET /v1/trace-hooks through a tracer-svc started with `args` once its node directory is listed
// (ready or not: with every node refused, it is not); the svc is stopped before returning.
http::ClientResponse hooks_through_svc(std::vector<std::string> args) {
    Svc svc(std::move(args));
    REQUIRE(svc.started());
    REQUIRE(wait_listed(svc.port()));
    auto r = svc.get("/v1/trace-hooks");
    REQUIRE(r);
    return *r;
}

bool has_hooks(const http::ClientResponse& r, std::initializer_list<const char*> hooks) {
    return std::ranges::all_of(hooks, [&](const char* h) { return r.body.find(h) != std::string::npos; });
}

// Writes `text` to `path` and opens a TokenSource over it that looks at the file on every call.
std::shared_ptr<http::TokenSource> token_file(const fs::path& path, const std::string& text) {
    write_file(path, text);
    auto src = http::TokenSource::open(path.string(), 0ms);
    REQUIRE(src);
    return *src;
}

const svc::Call kPods{.method = "GET", .target = "/v1/pods", .body = {}};

}  // namespace

TEST_CASE("TokenSource follows a rotated token file, keeps the old token on a bad rotation", "[unit][auth]") {
    TempDir dir;
    auto path = dir.path() / "token";
    auto src = token_file(path, "one\n");
    auto& s = *src;
    CHECK(*s.current() == "one");
    CHECK(s.loads() == 1);

    replace_file(path, "two\n");
    CHECK(*s.current() == "two");
    CHECK(s.loads() == 2);

    replace_file(path, "\n");  // empty: refused, old token kept
    CHECK(*s.current() == "two");
    fs::remove(path);          // gone (mid-rotation): old token kept
    CHECK(*s.current() == "two");
    write_file(path, "three");  // written again: picked up
    CHECK(*s.current() == "three");

    // Kubernetes Secret volume: the file is reached through a symlink that is swapped.
    SecretVolume secret(dir.path() / "secret", "token");
    secret.update("k8s-1\n");
    auto k8s = http::TokenSource::open(secret.path(), 0ms);
    REQUIRE(k8s);
    CHECK(*(*k8s)->current() == "k8s-1");
    secret.update("k8s-2\n");
    CHECK(*(*k8s)->current() == "k8s-2");

    // The file is looked at no more often than the interval allows.
    auto slow = http::TokenSource::open(path.string(), 1h);
    REQUIRE(slow);
    replace_file(path, "four");
    CHECK(*(*slow)->current() == "three");

    auto missing = http::TokenSource::open((dir.path() / "missing").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("missing") != std::string::npos);
}

TEST_CASE("check_bearer follows the TokenSource: the old token is refused after rotation", "[unit][auth]") {
    TempDir dir;
    auto path = dir.path() / "token";
    http::AuthOptions auth{.token = {}, .metrics_open = false};
    auth.token_source = token_file(path, "old");
    http::Request r;
    r.method = "GET";
    r.path = r.target = "/v1/pods";
    r.headers["authorization"] = "Bearer old";
    CHECK_FALSE(http::check_bearer(r, auth));
    replace_file(path, "new");
    auto refused = http::check_bearer(r, auth);
    REQUIRE(refused);
    CHECK(refused->status == 401);
    r.headers["authorization"] = "Bearer new";
    CHECK_FALSE(http::check_bearer(r, auth));
    r.headers.erase("authorization");
    CHECK(http::check_bearer(r, auth));
}

TEST_CASE("FanoutClient over HTTPS: verified nodes, refused certificates, keep-alive reuse, CA rotation",
          "[integration][tls]") {
    Certs c;
    TlsStandIn a("a", c.p("good.pem"), c.p("good.key"));
    TlsStandIn b("b", c.p("good2.pem"), c.p("good2.key"));

    SECTION("right CA: both answer, connections are reused, names are checked through DNS SANs too") {
        auto fan = tls_fanout(ca_source(c.p("ca.pem")));
        auto replies = fan.send({a.address(), b.address()}, kPods);
        REQUIRE(replies.size() == 2);
        for (const auto& r : replies) {
            INFO(r.node << ": " << r.failure.value_or(""));
            CHECK(r.ok());
        }
        CHECK(replies[0].body.find("pod-a") != std::string::npos);
        CHECK(replies[1].body.find("pod-b") != std::string::npos);
        auto first = fan.stats();
        CHECK(first.connects == 2);
        for (int i = 0; i < 5; ++i)
            for (const auto& r : fan.send({a.address(), b.address()}, kPods)) CHECK(r.ok());
        auto later = fan.stats();
        CHECK(later.reused - first.reused == 10);  // every later exchange rode a pooled TLS connection
        CHECK(later.connects == first.connects);

        auto by_name = fan.send({a.address("localhost")}, kPods);  // SNI + DNS:localhost
        INFO(by_name[0].failure.value_or(""));
        CHECK(by_name[0].ok());
    }

    SECTION("refused certificates fail only their node, with OpenSSL's reason") {
        TlsStandIn expired("expired", c.p("expired.pem"), c.p("expired.key"));
        TlsStandIn wrongname("wrongname", c.p("wrongname.pem"), c.p("wrongname.key"));
        TlsStandIn foreign("foreign", c.p("foreign.pem"), c.p("foreign.key"));
        auto fan = tls_fanout(ca_source(c.p("ca.pem")));
        auto replies = fan.send({a.address(), expired.address(), wrongname.address(), wrongname.address("localhost"),
                                 foreign.address()},
                                kPods);
        REQUIRE(replies.size() == 5);
        CHECK(replies[0].ok());
        auto reason = [&](size_t i) {
            INFO(replies[i].node);
            REQUIRE(replies[i].failure);
            CHECK(replies[i].failure->find("certificate verify failed") != std::string::npos);
            return *replies[i].failure;
        };
        CHECK_THAT(reason(1), Catch::Contains("expired"));
        CHECK_THAT(reason(2), Catch::Contains("IP address mismatch"));
        CHECK_THAT(reason(3), Catch::Contains("hostname mismatch", Catch::CaseSensitive::No));
        CHECK_THAT(reason(4), Catch::Contains("local issuer"));
        CHECK(fan.stats().connects == 1);  // refused handshakes are not counted as connections
    }

    SECTION("tls_server_name: one shared node certificate checked by name while dialling by IP") {
        TlsStandIn shared("shared", c.p("wrongname.pem"), c.p("wrongname.key"));  // DNS:other.example only
        svc::FanoutOptions o;
        o.tls = ca_source(c.p("ca.pem"));
        o.tls_server_name = "other.example";
        svc::FanoutClient fan(o);
        auto ok = fan.send({shared.address()}, kPods);
        INFO(ok[0].failure.value_or(""));
        CHECK(ok[0].ok());
        auto refused = fan.send({a.address()}, kPods);  // its certificate does not name other.example
        REQUIRE(refused[0].failure);
        CHECK_THAT(*refused[0].failure, Catch::Contains("hostname mismatch", Catch::CaseSensitive::No));
    }

    SECTION("a plain-HTTP client gets a failure from an HTTPS node, not a crash") {
        svc::FanoutClient plain(svc::FanoutOptions{.timeout = 3s});
        auto replies = plain.send({a.address()}, kPods);
        REQUIRE(replies[0].failure);
    }

    SECTION("the CA file is re-read when it changes") {
        auto live = c.dir.path() / "live-ca.pem";
        fs::copy_file(c.p("other-ca.pem"), live);
        auto source = ca_source(live.string());
        auto fan = tls_fanout(source);
        auto before = fan.send({a.address()}, kPods);
        REQUIRE(before[0].failure);
        CHECK_THAT(*before[0].failure, Catch::Contains("certificate verify failed"));

        fs::copy_file(c.p("ca.pem"), c.dir.path() / "live-ca.new");
        fs::rename(c.dir.path() / "live-ca.new", live);
        CHECK(eventually([&] { return fan.send({a.address()}, kPods)[0].ok(); }));
        CHECK(source->loads() == 2);
    }
}

TEST_CASE("tracer-svc --node-ca in front of HTTPS tracer-nodes: merged answer, refused nodes named",
          "[integration][root][tls]") {
    Certs c;
    HttpsNode n1(c.dir.path(), "n1", "hook_a", c.p("good.pem"), c.p("good.key"), c.p("ca.pem"));
    HttpsNode n2(c.dir.path(), "n2", "hook_b", c.p("good2.pem"), c.p("good2.key"), c.p("ca.pem"));
    std::string both = n1.key() + "," + n2.key();

    SECTION("right CA: both nodes' hooks, no failed node") {
        auto r = hooks_through_svc({"--nodes", both, "--node-ca", c.p("ca.pem")});
        INFO(r.body);
        CHECK(r.status == 200);
        CHECK(has_hooks(r, {"hook_a", "hook_b"}));
        CHECK(header(r, "x-tracer-failed-nodes").empty());
    }

    SECTION("expired and misnamed node certificates: those nodes fail, the others answer") {
        TlsStandIn expired("expired", c.p("expired.pem"), c.p("expired.key"));
        TlsStandIn wrongname("wrongname", c.p("wrongname.pem"), c.p("wrongname.key"));
        auto r = hooks_through_svc({"--nodes", both + "," + expired.address().key + "," + wrongname.address().key,
                                    "--node-ca", c.p("ca.pem")});
        INFO(r.body);
        CHECK(r.status == 200);
        CHECK(has_hooks(r, {"hook_a", "hook_b"}));
        auto failed = header(r, "x-tracer-failed-nodes");
        CHECK(failed.find(expired.address().key) != std::string::npos);
        CHECK(failed.find(wrongname.address().key) != std::string::npos);
        CHECK(failed.find(n1.key()) == std::string::npos);
        CHECK(failed.find(n2.key()) == std::string::npos);
    }

    SECTION("wrong CA: every node fails certificate verification, 502 naming both") {
        auto r = hooks_through_svc({"--nodes", both, "--node-ca", c.p("other-ca.pem")});
        INFO(r.body);
        CHECK(r.status == 502);
        CHECK(r.body.find("certificate verify failed") != std::string::npos);
        auto failed = header(r, "x-tracer-failed-nodes");
        CHECK(failed.find(n1.key()) != std::string::npos);
        CHECK(failed.find(n2.key()) != std::string::npos);
    }

    SECTION("a --node-ca that is not a CA bundle is a usage error") {
        write_file(c.dir.path() / "junk.pem", "not a certificate\n");
        auto r = run_capture({.argv = {std::string(CT_BINARY_DIR) + "/tracer-svc/tracer-svc", "--nodes", both,
                                       "--node-ca", c.p("junk.pem")}},
                             30s);
        REQUIRE(r);
        CHECK(r->status.code == 2);
        CHECK(r->err.find("--node-ca") != std::string::npos);
    }
}

TEST_CASE("token rotation without restarts: tracer-node --token-file, tracer-svc --token-file and --node-token-file",
          "[integration][root][auth]") {
    Certs c;
    write_file(c.dir.path() / "node.token", "node-old\n");
    write_file(c.dir.path() / "svc.token", "svc-old\n");
    SecretVolume node_secret(c.dir.path() / "svc-secret", "node-token");  // the svc's copy, mounted k8s-style
    node_secret.update("node-old\n");
    HttpsNode node(c.dir.path(), "n1", "hook_a", c.p("good.pem"), c.p("good.key"), c.p("ca.pem"),
                   {"--token-file", c.p("node.token")});
    Svc svc({"--nodes", node.key(), "--node-ca", c.p("ca.pem"), "--node-token-file", node_secret.path(),
             "--token-file", c.p("svc.token")});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));
    std::string svc_url = fmt::format("http://127.0.0.1:{}/v1/trace-hooks", svc.port());
    auto svc_get = [&](const std::string& token) {
        return curl(svc_url, {"-H", "Authorization: Bearer " + token});
    };
    auto svc_ok = [&](const std::string& token) {
        auto r = svc_get(token);
        return r.status == 200 && r.body.find("hook_a") != std::string::npos;
    };

    REQUIRE(node.get("/v1/trace-hooks", "node-old").status == 200);
    REQUIRE(svc_ok("svc-old"));

    // The node's Secret rotates first (atomic rename): the old token stops working, the new one works.
    replace_file(c.dir.path() / "node.token", "node-new\n");
    CHECK(eventually([&] { return node.get("/v1/trace-hooks", "node-old").status == 401; }));
    CHECK(node.get("/v1/trace-hooks", "node-new").status == 200);

    // Then the svc's copy (symlink swap, as the kubelet does): the svc reaches the node again.
    node_secret.update("node-new\n");
    CHECK(eventually([&] { return svc_ok("svc-old"); }));

    // The svc's own token.
    replace_file(c.dir.path() / "svc.token", "svc-new\n");
    CHECK(eventually([&] { return svc_get("svc-old").status == 401; }));
    CHECK(svc_ok("svc-new"));
}
