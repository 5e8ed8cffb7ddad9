// tracer-svc --nodes-dns against a real dnsmasq on loopback (--dns-server), with stand-in nodes
// (common HttpServer answering canned pod maps) on 127.0.0.x at one port, as behind a headless
// Service. Rewriting dnsmasq's hosts file and SIGHUP (by PID) adds a node; it joins on the next poll.
#include <catch2/catch.hpp>

#include "common/http_server.h"
#include "tests/integration/svc_fixture.h"

using namespace ct::svctest;

namespace {

}  // namespace

TEST_CASE("DNS mode: every A record is a node and a new record joins on the next poll", "[integration][svc]") {
    TempDir tmp;
    auto hosts = tmp.path() / "hosts";
    write_file(hosts, "127.0.0.2 tracer-nodes.test\n127.0.0.3 tracer-nodes.test\n");
    unsigned short dns_port = free_port();
    ct::SpawnOptions o;
    o.argv = {"dnsmasq", "--no-daemon", "--port=" + std::to_string(dns_port), "--listen-address=127.0.0.1",
              "--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts=" + hosts.string(), "--local-ttl=0",
              "--cache-size=0", "--pid-file=" + (tmp.path() / "dnsmasq.pid").string()};
    o.capture_stdout = false;
    o.capture_stderr = false;
    auto dnsmasq = ct::Subprocess::spawn(o);
    REQUIRE(dnsmasq);
    std::this_thread::sleep_for(300ms);

    unsigned short port = free_port();
    auto n2 = stand_in("127.0.0.2", port);
    auto n3 = stand_in("127.0.0.3", port);
    auto n4 = stand_in("127.0.0.4", port);

    Svc svc({"--nodes-dns", fmt::format("tracer-nodes.test:{}", port), "--dns-server",
             fmt::format("127.0.0.1:{}", dns_port), "--poll", "1"});
    REQUIRE(svc.started());
    REQUIRE(wait_status(svc.port(), "/readyz"));
    auto r = svc.get("/v1/pods");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto m = json_of(*r);
    CHECK(m.size() == 2);
    CHECK(m.contains("pod-127.0.0.2"));
    CHECK(m.contains("pod-127.0.0.3"));

    // A third record: dnsmasq rereads its hosts files on SIGHUP; the svc picks it up on a poll.
    write_file(hosts, "127.0.0.2 tracer-nodes.test\n127.0.0.3 tracer-nodes.test\n127.0.0.4 tracer-nodes.test\n");
    REQUIRE(dnsmasq->send_signal(SIGHUP));
    bool joined = false;
    for (int i = 0; i < 100 && !joined; ++i) {
        auto again = svc.get("/v1/pods");
        joined = again && json_of(*again).contains("pod-127.0.0.4");
        if (!joined) std::this_thread::sleep_for(100ms);
    }
    CHECK(joined);

    // A record removed: that node is dropped.
    write_file(hosts, "127.0.0.4 tracer-nodes.test\n");
    REQUIRE(dnsmasq->send_signal(SIGHUP));
    bool dropped = false;
    for (int i = 0; i < 100 && !dropped; ++i) {
        auto again = svc.get("/v1/pods");
        dropped = again && json_of(*again).size() == 1;
        if (!dropped) std::this_thread::sleep_for(100ms);
    }
    CHECK(dropped);
    auto last = svc.get("/v1/pods");
    REQUIRE(last);
    CHECK(header(*last, "x-tracer-nodes") == "1");
}
