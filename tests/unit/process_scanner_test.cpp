// ProcessScanner and ProcfsSource between scans: a copy of the fixture tree is changed the way
// processes change (a PID reused, an exec, an unshare, a container gaining and losing processes,
// a new UTS namespace) and each scan must see the change while reading unchanged processes from
// its cache.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "tests/support/fixtures.h"
#include "tracer-node/discovery/hostname_resolver.h"
#include "tracer-node/discovery/procfs_source.h"
#include "tracer-node/discovery/process_table.h"

using namespace ct::node;
namespace fs = std::filesystem;

namespace {

const std::string kFixture = CT_TESTDATA_DIR "/proc";
const std::string kJaegerId = "7a885ba21631aaffebde403070d9e602964596f20ab352865d6060c6d97c9be2";
constexpr std::uint64_t kJaegerUts = 4026532201;
constexpr std::uint64_t kPlainUts = 4026532301;
constexpr std::uint64_t kNewUts = 4026532901;
// Every known process checked on every scan (no settled processes).
const ProcessScannerOptions kCheckEveryScan{.settle = std::chrono::hours(1), .recheck = std::chrono::milliseconds(0)};

// A writable copy of the fixture tree (symlinks kept as links).
struct ProcTree {
    ct::test::TempDir dir{"ct-proc-fixture"};
    std::string root = dir.str() + "/proc";

    ProcTree() { fs::copy(kFixture, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks); }

    void write(Pid pid, const std::string& file, const std::string& text) const {
        std::ofstream(fmt::format("{}/{}/{}", root, pid, file)) << text;
    }
    void link_ns(Pid pid, const std::string& name, const std::string& target) const {
        const auto path = fmt::format("{}/{}/ns/{}", root, pid, name);
        fs::remove(path);
        fs::create_symlink(target, path);
    }
    // A process: stat, status, namespaces, cgroup, in <dir>.
    static void write_process(const std::string& dir, Pid pid, Pid ppid, const std::string& comm, std::uint64_t start,
                              std::uint64_t uts, const std::string& cgroup) {
        fs::create_directories(dir + "/ns");
        std::ofstream(dir + "/stat") << fmt::format(
            "{} ({}) S {} {} {} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {} 1000000 200\n", pid, comm, ppid, pid, pid, start);
        std::ofstream(dir + "/status") << fmt::format("Name:\t{}\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\nKthread:\t0\n", comm, pid,
                                                      pid, ppid);
        std::ofstream(dir + "/cgroup") << cgroup;
        fs::create_symlink(fmt::format("uts:[{}]", uts), dir + "/ns/uts");
        fs::create_symlink("pid:[4026532999]", dir + "/ns/pid");
        fs::create_symlink("pid:[4026532999]", dir + "/ns/pid_for_children");
    }
    void add(Pid pid, Pid ppid, const std::string& comm, std::uint64_t start, std::uint64_t uts,
             const std::string& cgroup) const {
        write_process(fmt::format("{}/{}", root, pid), pid, ppid, comm, start, uts, cgroup);
    }
    // Another process takes `pid`: a new directory (made before the old one goes, so the file
    // system cannot hand it the old inode number), as procfs gives a new process.
    void replace(Pid pid, Pid ppid, const std::string& comm, std::uint64_t start, std::uint64_t uts,
                 const std::string& cgroup) const {
        const std::string staged = dir.str() + "/staged";
        write_process(staged, pid, ppid, comm, start, uts, cgroup);
        remove(pid);
        fs::rename(staged, fmt::format("{}/{}", root, pid));
    }
    void remove(Pid pid) const { fs::remove_all(fmt::format("{}/{}", root, pid)); }
};

std::string jaeger_cgroup() {
    return "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f0c3b1e_4a5d_4c2e_9b7a_0d8e6f5a4b3c.slice/"
           "cri-containerd-" + kJaegerId + ".scope\n";
}

ProcfsSource fixture_source(const ProcTree& tree) {
    return ProcfsSource(ProcfsSourceOptions{
        .root = tree.root,
        .reference_pid = 100,
        .resolver = std::make_unique<StaticHostnameResolver>(std::map<std::uint64_t, std::string>{
            {kJaegerUts, "jaeger-operator-7b46f44865-jvgz8"}, {kPlainUts, "plain-pod"}, {4026532401, "other"},
            {kNewUts, "new-pod"}})});
}

// Answers from a map the test may change; records which namespaces each call asked for.
class RecordingResolver final : public HostnameResolver {
public:
    explicit RecordingResolver(std::map<std::uint64_t, std::string>& names, std::vector<std::set<std::uint64_t>>& asked)
        : names_(names), asked_(asked) {}
    Answer resolve(const std::string& root, const Request& namespaces) override {
        std::set<std::uint64_t> inodes;
        for (const auto& [inode, pids] : namespaces) inodes.insert(inode);
        asked_.push_back(inodes);
        return StaticHostnameResolver(names_).resolve(root, namespaces);
    }

private:
    std::map<std::uint64_t, std::string>& names_;
    std::vector<std::set<std::uint64_t>>& asked_;
};

}  // namespace

TEST_CASE("a second scan reads only what changed and equals a full scan", "[discovery][procfs][incremental]") {
    ProcTree tree;
    ProcessScanner scanner(tree.root, kCheckEveryScan);
    auto first = scanner.scan();
    REQUIRE(first);
    CHECK(scanner.last_counts().reused == 0);
    const size_t processes = first->processes().size();
    CHECK(scanner.last_counts().read == processes);

    auto second = scanner.scan();
    REQUIRE(second);
    CHECK(scanner.last_counts().read == 0);  // nothing changed: nothing read in full
    CHECK(scanner.last_counts().reused == processes);
    auto full = ProcessTable::scan(tree.root);
    REQUIRE(full);
    REQUIRE(second->processes().size() == full->processes().size());
    for (size_t i = 0; i < full->processes().size(); ++i) {
        const auto& a = second->processes()[i];
        const auto& b = full->processes()[i];
        CHECK(a.pid == b.pid);
        CHECK(a.ppid == b.ppid);
        CHECK(a.comm == b.comm);
        CHECK(a.uts_ns == b.uts_ns);
        CHECK(a.pid_ns_children == b.pid_ns_children);
        CHECK(a.cgroup == b.cgroup);
    }
}

TEST_CASE("a PID reused by another process is read again", "[discovery][procfs][incremental]") {
    ProcTree tree;
    ProcessScanner scanner(tree.root, kCheckEveryScan);
    REQUIRE(scanner.scan());
    // 602 (sleep, plain-pod) exits and a new process gets PID 602: same name, but it runs in
    // the jaeger container. Only its start time tells it apart.
    tree.replace(602, 510, "sleep", 99999, kJaegerUts, jaeger_cgroup());
    auto table = scanner.scan();
    REQUIRE(table);
    CHECK(scanner.last_counts().read == 1);
    const ProcessEntry* p = table->find(602);
    REQUIRE(p);
    CHECK(p->uts_ns == kJaegerUts);
    CHECK(p->ppid == 510);
    REQUIRE(p->cgroup);
    CHECK(p->cgroup->container_id == kJaegerId);
}

TEST_CASE("an exec and an unshare without exec are read again", "[discovery][procfs][incremental]") {
    ProcTree tree;
    ProcessScanner scanner(tree.root, kCheckEveryScan);
    REQUIRE(scanner.scan());

    // 700 execs and moved cgroup before (a runtime's init becoming the container's command).
    tree.write(700, "stat", "700 (nginx) S 1 700 700 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000000 200\n");
    tree.write(700, "cgroup", jaeger_cgroup());
    // 900 calls unshare(CLONE_NEWUTS | CLONE_NEWPID) and keeps running: same name and start time.
    tree.link_ns(900, "uts", fmt::format("uts:[{}]", kNewUts));
    tree.link_ns(900, "pid_for_children", "pid:[4026532998]");
    auto table = scanner.scan();
    REQUIRE(table);
    CHECK(scanner.last_counts().read == 2);
    REQUIRE(table->find(700)->cgroup);
    CHECK(table->find(700)->cgroup->container_id == kJaegerId);
    CHECK(table->find(900)->uts_ns == kNewUts);
    CHECK(table->find(900)->launches_pid_ns());

    // Re-parented (its parent exited): the parent is re-read from stat alone.
    tree.write(511, "stat", "511 (jaeger-helper) S 1 511 511 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000000 200\n");
    table = scanner.scan();
    REQUIRE(table);
    CHECK(scanner.last_counts().read == 0);
    CHECK(table->find(511)->ppid == 1);
}

TEST_CASE("a container gains and loses processes between listings", "[discovery][procfs][incremental]") {
    ProcTree tree;
    auto source = fixture_source(tree);
    auto before = source.list_pods();
    REQUIRE(before);
    const auto& jaeger = before->at("jaeger-operator-7b46f44865-jvgz8").containers.at("7a885ba21631");
    CHECK(jaeger.tasks == std::vector<Pid>{510, 511});

    tree.add(530, 510, "worker", 50000, kJaegerUts, jaeger_cgroup());  // forked
    tree.remove(511);                                                  // exited
    auto after = source.list_pods();
    REQUIRE(after);
    const auto& grown = after->at("jaeger-operator-7b46f44865-jvgz8").containers.at("7a885ba21631");
    CHECK(grown.tasks == std::vector<Pid>{510, 530});
    CHECK(grown.parents == std::vector<Pid>{500});

    tree.remove(530);
    auto shrunk = source.list_pods();
    REQUIRE(shrunk);
    CHECK(shrunk->at("jaeger-operator-7b46f44865-jvgz8").containers.at("7a885ba21631").tasks == std::vector<Pid>{510});
}

TEST_CASE("a new UTS namespace appears as a new pod, and goes with its last process",
          "[discovery][procfs][incremental]") {
    ProcTree tree;
    auto source = fixture_source(tree);
    auto before = source.list_pods();
    REQUIRE(before);
    CHECK_FALSE(before->contains("new-pod"));

    tree.add(1000, 1, "app", 70000, kNewUts, "0::/user.slice/session-3.scope\n");
    auto after = source.list_pods();
    REQUIRE(after);
    REQUIRE(after->contains("new-pod"));
    CHECK(after->at("new-pod").containers.at("new-pod").tasks == std::vector<Pid>{1000});
    CHECK(after->size() == before->size() + 1);

    tree.remove(1000);
    auto gone = source.list_pods();
    REQUIRE(gone);
    CHECK_FALSE(gone->contains("new-pod"));
}

TEST_CASE("hostnames are asked again only for namespaces whose processes changed",
          "[discovery][procfs][incremental]") {
    ProcTree tree;
    std::map<std::uint64_t, std::string> names = {
        {kJaegerUts, "jaeger-operator-7b46f44865-jvgz8"}, {kPlainUts, "plain-pod"}, {4026532401, "other"}};
    std::vector<std::set<std::uint64_t>> asked;
    ProcfsSource source(ProcfsSourceOptions{
        .root = tree.root, .reference_pid = 100, .resolver = std::make_unique<RecordingResolver>(names, asked)});
    REQUIRE(source.list_pods());
    REQUIRE(asked.size() == 1);
    CHECK(asked[0] == std::set<std::uint64_t>{kJaegerUts, kPlainUts, 4026532401});

    auto same = source.list_pods();
    REQUIRE(same);
    CHECK(asked.back().empty());  // nothing changed: no namespace joined
    CHECK(same->contains("plain-pod"));

    // `hostname renamed` in plain-pod: a new process there, and the namespace's name changes.
    names[kPlainUts] = "renamed-pod";
    tree.add(610, 601, "hostname", 80000, kPlainUts, "0::/user.slice/session-1.scope\n");
    auto renamed = source.list_pods();
    REQUIRE(renamed);
    CHECK(asked.back() == std::set<std::uint64_t>{kPlainUts});
    CHECK(renamed->contains("renamed-pod"));
    CHECK_FALSE(renamed->contains("plain-pod"));

    // The hostname process exits: the member set changed again, asked again, same answer.
    tree.remove(610);
    auto after = source.list_pods();
    REQUIRE(after);
    CHECK(asked.back() == std::set<std::uint64_t>{kPlainUts});
    CHECK(after->contains("renamed-pod"));
    CHECK(after->contains("jaeger-operator-7b46f44865-jvgz8"));
}

TEST_CASE("settled processes cost nothing until their recheck; a reused PID shows by its new directory",
          "[discovery][procfs][incremental]") {
    ProcTree tree;
    ProcessScanner scanner(tree.root, {.settle = std::chrono::milliseconds(0), .recheck = std::chrono::hours(1)});
    auto first = scanner.scan();
    REQUIRE(first);
    const size_t processes = first->processes().size();
    REQUIRE(scanner.scan());
    CHECK(scanner.last_counts().trusted == processes);  // no file of theirs read
    CHECK(scanner.last_counts().read + scanner.last_counts().reused == 0);

    // A settled process's exec waits for its recheck (by design: bounded staleness, docs/architecture.md)...
    tree.write(700, "stat", "700 (nginx) S 1 700 700 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000000 200\n");
    // ...but a new process on a reused PID is a new directory, read on the next scan.
    tree.replace(602, 510, "sleep", 99999, kJaegerUts, jaeger_cgroup());
    tree.add(1000, 1, "app", 70000, kNewUts, "0::/user.slice/session-3.scope\n");
    auto table = scanner.scan();
    REQUIRE(table);
    CHECK(scanner.last_counts().read == 2);
    CHECK(table->find(602)->uts_ns == kJaegerUts);
    CHECK(table->find(1000)->uts_ns == kNewUts);
    CHECK(table->find(700)->comm == "sleep");

    // Young processes (seen for less than `settle`) are checked on every scan: the exec shows.
    ProcessScanner young(tree.root, {.settle = std::chrono::hours(1), .recheck = std::chrono::hours(1)});
    REQUIRE(young.scan());
    tree.write(700, "stat", "700 (nginx2) S 1 700 700 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000000 200\n");
    REQUIRE(young.scan());
    CHECK(young.last_counts().read == 1);
    CHECK(young.last_counts().trusted == 0);
}
