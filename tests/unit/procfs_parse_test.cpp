// Pure procfs parsers, the process table and ProcfsSource on the fixture tree
// tests/unit/testdata/proc (hostnames injected with StaticHostnameResolver).
#include <catch2/catch.hpp>

#include <string>

#include "tracer-node/discovery/hostname_resolver.h"
#include "tracer-node/discovery/procfs_parse.h"
#include "tracer-node/discovery/procfs_source.h"
#include "tracer-node/discovery/process_table.h"

using namespace ct::node;

namespace {

const std::string kRoot = CT_TESTDATA_DIR "/proc";
constexpr std::uint64_t kHostUts = 4026531838;
const std::string kPodUid = "1f0c3b1e-4a5d-4c2e-9b7a-0d8e6f5a4b3c";
const std::string kJaegerId = "7a885ba21631aaffebde403070d9e602964596f20ab352865d6060c6d97c9be2";
const std::string kRbacId = "cc19404716ae6866713e67dcab5cf1533395152a2a9b393c7fad39acc5c0b6d7";
const std::string kId64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::map<std::uint64_t, std::string> fixture_hostnames() {
    return {{4026532201, "jaeger-operator-7b46f44865-jvgz8"},
            {4026532301, "plain-pod"},
            {4026532401, "plain-pod"},
            {4026532501, "ghost"},
            {4026532999, "kthread-ns"}};
}

ProcfsSource fixture_source() {
    return ProcfsSource({.root = kRoot,
                         .reference_pid = 100,
                         .resolver = std::make_unique<StaticHostnameResolver>(fixture_hostnames())});
}

}  // namespace

TEST_CASE("parse_status reads Name, Tgid, Pid and PPid", "[discovery][procfs]") {
    auto s = parse_status("Name:\tkube rbac)x\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t510\nNgid:\t0\n"
                          "Pid:\t515\nPPid:\t500\nTracerPid:\t0\n");
    REQUIRE(s);
    CHECK(s->name == "kube rbac)x");
    CHECK(s->tgid == 510);
    CHECK(s->pid == 515);
    CHECK(s->ppid == 500);
}

TEST_CASE("parse_status rejects missing or malformed fields", "[discovery][procfs]") {
    CHECK_FALSE(parse_status(""));
    CHECK_FALSE(parse_status("Name:\tx\nTgid:\t1\nPid:\t1\n"));             // no PPid
    CHECK_FALSE(parse_status("Name:\tx\nTgid:\tabc\nPid:\t1\nPPid:\t0\n"));  // bad number
    CHECK_FALSE(parse_status("Name:\tx\nTgid:\t-1\nPid:\t1\nPPid:\t0\n"));
    auto e = parse_status("garbage");
    REQUIRE_FALSE(e);
    CHECK(e.error().code == ct::Errc::kInvalidArgument);
    CHECK(e.error().message.find("garbage") != std::string::npos);
}

TEST_CASE("parse_stat takes comm up to the last ')' and survives spaces", "[discovery][procfs]") {
    auto s = parse_stat("900 (we ird) (x) S 1 900 900 0 -1 4194560\n");
    REQUIRE(s);
    CHECK(s->pid == 900);
    CHECK(s->comm == "we ird) (x");
    CHECK(s->state == 'S');
    CHECK(s->ppid == 1);

    auto plain = parse_stat("42 (sleep) R 7 42 42");
    REQUIRE(plain);
    CHECK(plain->comm == "sleep");
    CHECK(plain->ppid == 7);

    auto empty_comm = parse_stat("5 () Z 3 0");
    REQUIRE(empty_comm);
    CHECK(empty_comm->comm.empty());
    CHECK(empty_comm->state == 'Z');
}

TEST_CASE("parse_stat rejects malformed lines", "[discovery][procfs]") {
    CHECK_FALSE(parse_stat(""));
    CHECK_FALSE(parse_stat("42 sleep S 1"));       // no parentheses
    CHECK_FALSE(parse_stat("42 (sleep)"));         // nothing after comm
    CHECK_FALSE(parse_stat("42 (sleep) S"));       // no ppid
    CHECK_FALSE(parse_stat("x (sleep) S 1"));      // bad pid
    CHECK_FALSE(parse_stat("42 (sleep) S one"));   // bad ppid
    CHECK_FALSE(parse_stat("42 (sleep) SS 1"));    // state is one character
}

TEST_CASE("parse_ns_inode reads namespace links", "[discovery][procfs]") {
    CHECK(parse_ns_inode("uts:[4026531838]") == 4026531838u);
    CHECK(parse_ns_inode("uts:[4026531838]", "uts") == 4026531838u);
    CHECK(parse_ns_inode("pid:[4026531836]\n", "pid") == 4026531836u);
    CHECK_FALSE(parse_ns_inode("pid:[4026531836]", "uts"));
    CHECK_FALSE(parse_ns_inode("uts:4026531838"));
    CHECK_FALSE(parse_ns_inode("uts:[]"));
    CHECK_FALSE(parse_ns_inode("uts:[12x]"));
    CHECK_FALSE(parse_ns_inode("uts:[0]"));
    CHECK_FALSE(parse_ns_inode(""));
}

TEST_CASE("parse_cgroup_path recognises kubepods and runtime layouts", "[discovery][procfs]") {
    const std::string uid_ = "1f0c3b1e_4a5d_4c2e_9b7a_0d8e6f5a4b3c";
    using Id = CgroupIdentity;
    // cgroupfs driver, with and without QoS class
    CHECK(parse_cgroup_path("/kubepods/besteffort/pod" + kPodUid + "/" + kId64) == Id{kPodUid, kId64});
    CHECK(parse_cgroup_path("/kubepods/burstable/pod" + kPodUid + "/" + kId64) == Id{kPodUid, kId64});
    CHECK(parse_cgroup_path("/kubepods/pod" + kPodUid + "/" + kId64) == Id{kPodUid, kId64});
    // systemd driver: containerd, CRI-O, docker
    const std::string slice = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ + ".slice/";
    CHECK(parse_cgroup_path(slice + "cri-containerd-" + kId64 + ".scope") == Id{kPodUid, kId64});
    CHECK(parse_cgroup_path(slice + "crio-" + kId64 + ".scope") == Id{kPodUid, kId64});
    CHECK(parse_cgroup_path(slice + "docker-" + kId64 + ".scope") == Id{kPodUid, kId64});
    CHECK(parse_cgroup_path("/kubepods.slice/kubepods-pod" + uid_ + ".slice/cri-containerd-" + kId64 + ".scope") ==
          Id{kPodUid, kId64});
    // kind / k3s style: "<pod slice>:<runtime>:<id>"
    CHECK(parse_cgroup_path("/system.slice/containerd.service/kubepods-burstable-pod" + uid_ +
                            ".slice:cri-containerd:" + kId64) == Id{kPodUid, kId64});
    // nested path below the container's scope still names the container
    CHECK(parse_cgroup_path(slice + "cri-containerd-" + kId64 + ".scope/init.scope") == Id{kPodUid, kId64});
    // plain docker: a container id, no pod
    CHECK(parse_cgroup_path("/system.slice/docker-" + kId64 + ".scope") == Id{"", kId64});
    CHECK(parse_cgroup_path("/docker/" + kId64) == Id{"", kId64});
    // pod-level cgroup and CRI-O's conmon: pod only
    CHECK(parse_cgroup_path("/kubepods/besteffort/pod" + kPodUid) == Id{kPodUid, ""});
    CHECK(parse_cgroup_path(slice + "crio-conmon-" + kId64 + ".scope") == Id{kPodUid, ""});
}

TEST_CASE("parse_cgroup_path finds nothing in ordinary paths", "[discovery][procfs]") {
    CHECK_FALSE(parse_cgroup_path("/"));
    CHECK_FALSE(parse_cgroup_path(""));
    CHECK_FALSE(parse_cgroup_path("/user.slice/user-0.slice/session-1.scope"));
    CHECK_FALSE(parse_cgroup_path("/system.slice/containerd.service"));
    CHECK_FALSE(parse_cgroup_path("/kubepods/besteffort/podnot-a-uid/" + kId64.substr(1)));  // 63 hex
    CHECK_FALSE(parse_cgroup_path("/docker-" + kId64 + "X.scope"));
    CHECK_FALSE(parse_cgroup_path("/" + std::string(64, 'G')));
}

TEST_CASE("parse_cgroup reads v1 and v2 files and prefers a container id", "[discovery][procfs]") {
    const std::string v1 = "12:memory:/kubepods/besteffort/pod" + kPodUid + "/" + kId64 +
                           "\n11:cpu,cpuacct:/kubepods/besteffort/pod" + kPodUid + "/" + kId64 +
                           "\n1:name=systemd:/kubepods/besteffort/pod" + kPodUid + "/" + kId64 + "\n";
    CHECK(parse_cgroup(v1) == CgroupIdentity{kPodUid, kId64});
    CHECK(parse_cgroup("0::/kubepods/pod" + kPodUid + "/" + kId64 + "\n") == CgroupIdentity{kPodUid, kId64});
    // pod-only line first, container line later: the container wins
    CHECK(parse_cgroup("3:pids:/kubepods/pod" + kPodUid + "\n4:memory:/kubepods/pod" + kPodUid + "/" + kId64 + "\n") ==
          CgroupIdentity{kPodUid, kId64});
    CHECK(parse_cgroup("3:pids:/kubepods/pod" + kPodUid + "\n") == CgroupIdentity{kPodUid, ""});
    CHECK_FALSE(parse_cgroup("0::/\n"));
    CHECK_FALSE(parse_cgroup("4:memory:/process_api/70a450417064a14cfe3e4e007bedfecd\n0::/\n"));
    CHECK_FALSE(parse_cgroup(""));
    CHECK_FALSE(parse_cgroup("no colons here\n" + kId64));
}

TEST_CASE("the fixture scan skips threads and vanished processes", "[discovery][procfs]") {
    auto table = ProcessTable::scan(kRoot);
    REQUIRE(table);
    std::vector<Pid> pids;
    for (auto& p : table->processes()) pids.push_back(p.pid);
    // 515 is a thread of 510 (Tgid 510), 800 has no status: both absent.
    CHECK(pids == std::vector<Pid>{1, 2, 3, 100, 500, 501, 510, 511, 520, 600, 601, 602, 700, 900});

    const ProcessEntry* jaeger = table->find(510);
    REQUIRE(jaeger);
    CHECK(jaeger->ppid == 500);
    CHECK(jaeger->comm == "jaeger-operato");
    CHECK(jaeger->uts_ns == 4026532201u);
    REQUIRE(jaeger->cgroup);
    CHECK(*jaeger->cgroup == CgroupIdentity{kPodUid, kJaegerId});

    CHECK(table->find(900)->comm == "we ird) (x");
    CHECK(table->find(600)->launches_pid_ns());
    CHECK_FALSE(table->find(601)->launches_pid_ns());
    CHECK(table->find(3)->is_kernel_thread());
    CHECK(table->find(800) == nullptr);
}

TEST_CASE("children and descendants follow PPid", "[discovery][procfs]") {
    auto table = ProcessTable::scan(kRoot);
    REQUIRE(table);
    CHECK(table->children(500) == std::vector<Pid>{501, 510, 520});
    CHECK(table->descendants(500) == std::vector<Pid>{501, 510, 511, 520});
    CHECK(table->descendants(600) == std::vector<Pid>{601, 602});
    CHECK(table->descendants(602).empty());
    CHECK(table->descendants(4242).empty());
    CHECK(table->descendants(1) == std::vector<Pid>{100, 500, 501, 510, 511, 520, 600, 601, 602, 700, 900});
}

TEST_CASE("threads_of lists every thread and skips vanished processes", "[discovery][procfs]") {
    auto tids = threads_of(kRoot, {602, 510, 520, 800, 4242});
    REQUIRE(tids);
    CHECK(*tids == std::vector<Pid>{510, 515, 520, 602, 603});
    auto none = threads_of(kRoot, {});
    REQUIRE(none);
    CHECK(none->empty());
}

TEST_CASE("scanning a missing root is an I/O error naming it", "[discovery][procfs]") {
    auto table = ProcessTable::scan(kRoot + "/does-not-exist");
    REQUIRE_FALSE(table);
    CHECK(table.error().code == ct::Errc::kIo);
    CHECK(table.error().message.find("does-not-exist") != std::string::npos);
}

TEST_CASE("ProcfsSource builds pods, cgroup-split containers and parents from the fixture",
          "[discovery][procfs]") {
    auto source = fixture_source();
    CHECK(source.describe() == "procfs:" + kRoot);
    auto pods = source.list_pods();
    REQUIRE(pods);

    std::vector<std::string> names;
    for (auto& [key, pod] : *pods) names.push_back(key);
    // ghost vanished; kernel thread's namespace is no pod; the second "plain-pod" gets its inode.
    CHECK(names == std::vector<std::string>{"jaeger-operator-7b46f44865-jvgz8", "plain-pod", "plain-pod-4026532401"});

    SECTION("a kubepods pod splits into its containers, without the pause sandbox") {
        const PodInfo& pod = pods->at("jaeger-operator-7b46f44865-jvgz8");
        CHECK(pod.name == "jaeger-operator-7b46f44865-jvgz8");
        CHECK(pod.pod_namespace.empty());
        REQUIRE(pod.containers.size() == 2);
        const ContainerInfo& op = pod.containers.at(kJaegerId.substr(0, 12));
        CHECK(op.name == kJaegerId.substr(0, 12));
        CHECK(op.runtime_id == kJaegerId);
        CHECK(op.pod == pod.name);
        CHECK(op.tasks == std::vector<Pid>{510, 511});
        CHECK(op.parents == std::vector<Pid>{500});  // 511's parent 510 is inside
        const ContainerInfo& rbac = pod.containers.at(kRbacId.substr(0, 12));
        CHECK(rbac.runtime_id == kRbacId);
        CHECK(rbac.tasks == std::vector<Pid>{520});
        CHECK(rbac.parents == std::vector<Pid>{500});
    }
    SECTION("a pod of plain processes is one container named like the pod; the launcher is its parent") {
        const PodInfo& pod = pods->at("plain-pod");
        REQUIRE(pod.containers.size() == 1);
        const ContainerInfo& c = pod.containers.at("plain-pod");
        CHECK(c.runtime_id.empty());
        CHECK(c.pod == "plain-pod");
        CHECK(c.tasks == std::vector<Pid>{601, 602});
        CHECK(c.parents == std::vector<Pid>{600});
    }
    SECTION("a second namespace with the same hostname is keyed by its inode") {
        const PodInfo& pod = pods->at("plain-pod-4026532401");
        CHECK(pod.name == "plain-pod-4026532401");
        const ContainerInfo& c = pod.containers.at("plain-pod-4026532401");
        CHECK(c.tasks == std::vector<Pid>{700});
        CHECK(c.parents == std::vector<Pid>{1});
    }
}

TEST_CASE("build_pod_map names unreadable hostnames and drops gone namespaces", "[discovery][procfs]") {
    auto table = ProcessTable::scan(kRoot);
    REQUIRE(table);
    auto request = pod_namespaces(*table, kHostUts);
    CHECK(request.size() == 3);  // 4026532201, 4026532301, 4026532401
    CHECK(request.at(4026532201) == std::vector<Pid>{501, 510, 511, 520});

    HostnameResolver::Answer answer;
    answer.emplace(4026532201, ct::fail(ct::Errc::kIo, "setns: Operation not permitted"));
    answer.emplace(4026532301, ct::fail(ct::Errc::kNotFound, "gone"));
    answer.emplace(4026532401, std::string("solo"));
    auto pods = build_pod_map(*table, kHostUts, answer);
    std::vector<std::string> names;
    for (auto& [key, pod] : pods) names.push_back(key);
    CHECK(names == std::vector<std::string>{"solo", "uts-4026532201"});
}

TEST_CASE("the reference process decides what the host namespace is", "[discovery][procfs]") {
    // With the unshare'd shell as the reference, the host's processes become "a pod" and
    // plain-pod disappears: the reference's own namespace is never a pod.
    ProcfsSource source({.root = kRoot,
                         .reference_pid = 601,
                         .resolver = std::make_unique<StaticHostnameResolver>(
                             std::map<std::uint64_t, std::string>{{kHostUts, "node-1"}, {4026532201, "j"}, {4026532401, "p"}})});
    auto pods = source.list_pods();
    REQUIRE(pods);
    CHECK_FALSE(pods->contains("plain-pod"));
    REQUIRE(pods->contains("node-1"));
    const ContainerInfo& host = pods->at("node-1").containers.at("node-1");
    CHECK(host.tasks == std::vector<Pid>{1, 100, 500, 900});  // kernel threads 2 and 3 excluded
    CHECK(host.parents.empty());                              // PPid 0 is nobody

    ProcfsSource missing_ref({.root = kRoot, .reference_pid = 4242,
                              .resolver = std::make_unique<StaticHostnameResolver>(fixture_hostnames())});
    auto err = missing_ref.list_pods();
    REQUIRE_FALSE(err);
    CHECK(err.error().code == ct::Errc::kIo);
    CHECK(err.error().message.find("4242") != std::string::npos);
}
