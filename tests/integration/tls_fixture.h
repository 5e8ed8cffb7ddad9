// Certificates and an HTTPS client for TLS/auth integration tests: CAs and server certificates
// made with the openssl CLI in a test's TempDir (removed with it), and curl run as a user would.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"
#include "tests/integration/svc_fixture.h"

namespace ct::tlstest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Runs a shell snippet in `dir`; fails the test when it fails.
inline void sh(const fs::path& dir, const std::string& script) {
    auto r = run_capture({.argv = {"sh", "-c", "cd '" + dir.string() + "' && " + script}}, 60s);
    REQUIRE(r);
    INFO(r->err);
    REQUIRE(r->status.ok());
}

// A CA <name>.pem/<name>.key in `dir`.
inline void make_ca(const fs::path& dir, const std::string& name) {
    sh(dir, fmt::format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {0}.key "
                        "-out {0}.pem -days 30 -subj /CN={0} 2>/dev/null",
                        name));
}

// A server certificate <name>.pem/<name>.key signed by `ca`, valid for `days` (negative: already
// expired), for the subjectAltNames `san` (openssl syntax).
inline void make_cert(const fs::path& dir, const std::string& ca, const std::string& name, int days,
                      const std::string& san = "IP:127.0.0.1,DNS:localhost") {
    sh(dir, fmt::format("printf 'subjectAltName={3}\\n' > {1}.ext && "
                        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {1}.key -out {1}.csr "
                        "-subj /CN=127.0.0.1 2>/dev/null && "
                        "openssl x509 -req -in {1}.csr -CA {0}.pem -CAkey {0}.key -CAcreateserial -out {1}.pem "
                        "-days {2} -extfile {1}.ext 2>/dev/null",
                        ca, name, days, san));
}

struct Curl {
    int exit_code = -1;
    int status = 0;
    std::string body;
    std::string err;
};

// curl as a user would run it; the HTTP status comes from -w.
inline Curl curl(const std::string& url, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_capture({.argv = argv}, 30s);
    Curl c;
    if (!r) return c;
    c.exit_code = r->status.code;
    c.err = r->err;
    auto nl = r->out.rfind('\n');
    if (nl != std::string::npos) {
        c.body = r->out.substr(0, nl);
        c.status = std::atoi(r->out.c_str() + nl + 1);
    }
    return c;
}

}  // namespace ct::tlstest
