// Pure tracer-svc node discovery: DNS wire format, Kubernetes list parsing, node reachability.
#include <catch2/catch.hpp>

#include "tracer-svc/fanout/reachability.h"
#include "tracer-svc/nodes/dns_wire.h"
#include "tracer-svc/nodes/kube_parse.h"

using namespace ct::svc;

namespace {
// An answer to `query` with the given records (each: type, rdata), names compressed to the question.
std::vector<uint8_t> answer_to(const std::vector<uint8_t>& query, std::vector<std::pair<uint16_t, std::vector<uint8_t>>> records,
                               uint16_t rcode = 0) {
    std::vector<uint8_t> m = query;
    m[2] = 0x81;  // QR, RD
    m[3] = static_cast<uint8_t>(0x80 | rcode);
    m[7] = static_cast<uint8_t>(records.size());
    for (auto& [type, rdata] : records) {
        std::vector<uint8_t> rr = {0xc0, 12, 0, static_cast<uint8_t>(type), 0, 1, 0, 0, 0, 30, 0,
                                   static_cast<uint8_t>(rdata.size())};
        rr.insert(rr.end(), rdata.begin(), rdata.end());
        m.insert(m.end(), rr.begin(), rr.end());
    }
    return m;
}
}  // namespace

TEST_CASE("DNS query encoding follows RFC 1035", "[unit][svc]") {
    auto q = dns::encode_query(0x1234, "ab.c.", dns::kTypeA);
    REQUIRE(q);
    std::vector<uint8_t> want = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'a', 'b', 1, 'c', 0, 0, 1, 0, 1};
    CHECK(*q == want);
    CHECK_FALSE(dns::encode_query(1, "a..b", dns::kTypeA));
    CHECK_FALSE(dns::encode_query(1, "", dns::kTypeA));
    CHECK_FALSE(dns::encode_query(1, std::string(64, 'x') + ".y", dns::kTypeA));
}

TEST_CASE("DNS answers decode to every address of the asked type", "[unit][svc]") {
    auto q = *dns::encode_query(7, "nodes.test", dns::kTypeA);
    auto a = answer_to(q, {{dns::kTypeA, {127, 0, 0, 2}}, {5, {0xc0, 12}}, {dns::kTypeA, {10, 1, 2, 3}}});
    auto addrs = dns::decode_addresses(a, 7, dns::kTypeA);
    REQUIRE(addrs);
    CHECK(*addrs == std::vector<std::string>{"127.0.0.2", "10.1.2.3"});

    auto q6 = *dns::encode_query(8, "nodes.test", dns::kTypeAAAA);
    std::vector<uint8_t> v6(16, 0);
    v6[15] = 1;
    auto a6 = dns::decode_addresses(answer_to(q6, {{dns::kTypeAAAA, v6}}), 8, dns::kTypeAAAA);
    REQUIRE(a6);
    CHECK(*a6 == std::vector<std::string>{"::1"});

    CHECK(dns::decode_addresses(answer_to(q, {}), 7, dns::kTypeA).value().empty());
    CHECK(dns::decode_addresses(answer_to(q, {}, 3), 7, dns::kTypeA).error().code == ct::Errc::kNotFound);
    CHECK_FALSE(dns::decode_addresses(answer_to(q, {}, 2), 7, dns::kTypeA));
    CHECK_FALSE(dns::decode_addresses(a, 9, dns::kTypeA));  // wrong id
    CHECK_FALSE(dns::decode_addresses(q, 7, dns::kTypeA));  // a query, not an answer
    auto cut = a;
    cut.resize(cut.size() - 2);
    CHECK_FALSE(dns::decode_addresses(cut, 7, dns::kTypeA));
    CHECK_FALSE(dns::decode_addresses({1, 2, 3}, 7, dns::kTypeA));
}

TEST_CASE("Kubernetes PodList and EndpointsList give Running pod IPs at the endpoints port", "[unit][svc]") {
    const char* pods = R"({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[
      {"metadata":{"name":"node-a","namespace":"tracing","labels":{"app":"container-tracer-backend"}},
       "spec":{"nodeName":"worker1"},"status":{"phase":"Running","podIP":"10.0.0.5"}},
      {"metadata":{"name":"node-b","namespace":"tracing"},"spec":{"nodeName":"worker2"},"status":{"phase":"Pending"}},
      {"metadata":{"name":"node-c","namespace":"tracing"},"spec":{},"status":{"phase":"Succeeded","podIP":"10.0.0.7"}},
      {"metadata":{"name":"node-d","namespace":"tracing"},"spec":{},"status":{"phase":"Running","podIP":"10.0.0.3"}}]})";
    auto p = kube::parse_pod_list(pods);
    REQUIRE(p);
    REQUIRE(p->size() == 4);
    CHECK((*p)[0].node == "worker1");
    const char* eps = R"({"apiVersion":"v1","kind":"EndpointsList","items":[{"metadata":{"name":"container-tracer-node"},
      "subsets":[{"addresses":[{"ip":"10.0.0.5"}],"ports":[{"name":"api","port":8080,"protocol":"TCP"}]}]}]})";
    auto ports = kube::parse_endpoint_ports(eps);
    REQUIRE(ports);
    CHECK(*ports == std::vector<unsigned short>{8080});
    auto nodes = kube::running_nodes(*p, 8080);
    REQUIRE(nodes.size() == 2);
    CHECK(nodes[0].key == "10.0.0.3:8080");
    CHECK(nodes[1].key == "10.0.0.5:8080");
    CHECK(nodes[1].label == "node-a on worker1");

    CHECK(kube::parse_endpoint_ports(R"({"kind":"EndpointsList","items":[]})").value().empty());
    auto status = kube::parse_pod_list(R"({"kind":"Status","message":"pods is forbidden"})");
    REQUIRE_FALSE(status);
    CHECK(status.error().message.find("forbidden") != std::string::npos);
    CHECK_FALSE(kube::parse_pod_list("nope"));
    CHECK(kube::url_encode("app=container-tracer-backend,x in (a b)") == "app%3Dcontainer-tracer-backend%2Cx%20in%20%28a%20b%29");
}

TEST_CASE("reachability: rounds over the whole directory decide, partial ones only when a node answered",
          "[unit][svc]") {
    using namespace std::chrono_literals;
    ct::svc::Reachability r(10s);
    auto t0 = ct::svc::Reachability::Clock::now();
    CHECK_FALSE(r.state().known);
    CHECK(r.stale(t0));
    r.record(3, 0, true, "n1: connect failed", t0);
    CHECK(r.state().known);
    CHECK_FALSE(r.state().answering);
    CHECK(r.state().why == "n1: connect failed");
    CHECK_FALSE(r.stale(t0 + 5s));
    CHECK(r.stale(t0 + 10s));
    r.record(1, 1, false, "", t0 + 1s);  // a PUT to one node that answered: some node answers
    CHECK(r.state().answering);
    r.record(1, 0, false, "n2: timed out", t0 + 2s);  // one node failing says nothing of the others
    CHECK(r.state().answering);
    r.record(3, 0, true, "all down", t0 + 3s);
    CHECK_FALSE(r.state().answering);
    r.record(0, 0, true, "", t0 + 4s);  // asked nobody: no evidence
    CHECK(r.state().why == "all down");
}
