// ProcfsSource and PodDb over the real /proc with real "pods": processes in their own UTS and
// PID namespaces made with unshare, found through the real SetnsHostnameResolver.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/strings.h"
#include "common/subprocess.h"
#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/discovery/procfs_source.h"
#include "tracer-node/discovery/process_table.h"

using namespace ct::node;
using namespace std::chrono_literals;

namespace {

// Direct children of a process, from /proc/<pid>/task/<pid>/children (host PIDs).
std::vector<Pid> children_of(Pid pid) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
    std::stringstream text;
    text << in.rdbuf();
    std::vector<Pid> out;
    for (auto& word : ct::split_whitespace(text.str()))
        if (auto n = ct::parse_u64(word)) out.push_back(static_cast<Pid>(*n));
    std::sort(out.begin(), out.end());
    return out;
}

// argv with inherited stdout/stderr (nothing to capture; keeps pipes from filling).
ct::SpawnOptions quiet(std::vector<std::string> argv) {
    ct::SpawnOptions options;
    options.argv = std::move(argv);
    options.capture_stdout = false;
    options.capture_stderr = false;
    return options;
}

std::string comm_of(Pid pid) {
    std::ifstream in(fmt::format("/proc/{}/comm", pid));
    std::string comm;
    std::getline(in, comm);
    return comm;
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds bound = 10s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

// A pod: `unshare --uts --pid --fork --mount --mount-proc` running a shell (PID 1 inside) that
// sets the hostname and waits on `sleepers` sleeps. Everything is killed by PID on destruction.
class UnsharePod {
public:
    explicit UnsharePod(std::string hostname, int sleepers = 2) : hostname_(std::move(hostname)) {
        std::string script = fmt::format("hostname {};", hostname_);
        for (int i = 0; i < sleepers; ++i) script += " sleep 1000 &";
        script += " wait";
        auto p = ct::Subprocess::spawn(quiet({"unshare", "--uts", "--pid", "--fork", "--mount", "--mount-proc",
                                              "--kill-child", "sh", "-c", script}));
        REQUIRE(p);
        unshare_.emplace(std::move(*p));
        // The shell is the launcher's only child; it is ready once all sleepers are its children.
        bool ready = wait_until([&] {
            auto shells = children_of(unshare_->pid());
            if (shells.size() != 1) return false;
            auto sleeps = children_of(shells[0]);
            // The shell's first child is `hostname`: wait for exactly the sleeps.
            if (sleeps.size() != static_cast<size_t>(sleepers)) return false;
            if (!std::all_of(sleeps.begin(), sleeps.end(), [](Pid p) { return comm_of(p) == "sleep"; })) return false;
            members_ = shells;
            members_.insert(members_.end(), sleeps.begin(), sleeps.end());
            std::sort(members_.begin(), members_.end());
            return true;
        });
        REQUIRE(ready);
    }
    ~UnsharePod() {
        for (Pid pid : members_) ::kill(pid, SIGKILL);
        if (unshare_) unshare_->stop(1000ms, SIGKILL);
    }
    UnsharePod(const UnsharePod&) = delete;
    UnsharePod& operator=(const UnsharePod&) = delete;

    const std::string& hostname() const { return hostname_; }
    Pid launcher() const { return unshare_->pid(); }
    const std::vector<Pid>& members() const { return members_; }  // shell + sleepers, host PIDs, sorted

private:
    std::string hostname_;
    std::optional<ct::Subprocess> unshare_;
    std::vector<Pid> members_;
};

// Pod names unique to this test process: other tests on the host may run pods of their own.
std::string unique_name(std::string_view base) { return fmt::format("{}-t{}", base, ::getpid()); }

std::uint64_t uts_inode_of(Pid pid) {
    std::string link;
    link.resize(64);
    ssize_t n = ::readlink(fmt::format("/proc/{}/ns/uts", pid).c_str(), link.data(), link.size());
    REQUIRE(n > 0);
    link.resize(static_cast<size_t>(n));
    auto inode = parse_ns_inode(link, "uts");
    REQUIRE(inode);
    return *inode;
}

// The pod's single container once its hostname has been set (the shell sets it right away).
std::optional<ContainerInfo> wait_for_pod(ProcfsSource& source, const std::string& name) {
    std::optional<ContainerInfo> found;
    wait_until([&] {
        auto pods = source.list_pods();
        if (!pods || !pods->contains(name)) return false;
        const PodInfo& pod = pods->at(name);
        if (pod.containers.size() != 1 || !pod.containers.contains(name)) return false;
        found = pod.containers.at(name);
        return true;
    });
    return found;
}

}  // namespace

TEST_CASE("unshare pods appear with their hostname, host PIDs and launcher as parent",
          "[integration][root][discovery]") {
    UnsharePod jaeger(unique_name("jaeger-operator-7b46f44865"));
    UnsharePod other(unique_name("other-pod"), 1);
    ProcfsSource source({});  // real /proc, this process as the host reference
    CHECK(source.describe() == "procfs:/proc");

    auto c = wait_for_pod(source, jaeger.hostname());
    REQUIRE(c);
    CHECK(c->pod == jaeger.hostname());
    CHECK(c->tasks == jaeger.members());
    CHECK(c->parents == std::vector<Pid>{jaeger.launcher()});
    CHECK(c->runtime_id.empty());  // no kubepods cgroup here

    auto o = wait_for_pod(source, other.hostname());
    REQUIRE(o);
    CHECK(o->tasks == other.members());
    CHECK(o->parents == std::vector<Pid>{other.launcher()});

    auto pods = source.list_pods();
    REQUIRE(pods);
    for (const auto& [name, pod] : *pods)
        for (const auto& [cname, container] : pod.containers)
            CHECK_FALSE(std::binary_search(container.tasks.begin(), container.tasks.end(), ::getpid()));

    auto threads = threads_of("/proc", c->tasks);
    REQUIRE(threads);
    CHECK(*threads == jaeger.members());  // sh and sleep are single-threaded
}

TEST_CASE("two namespaces with one hostname are both listed, the second keyed by its inode",
          "[integration][root][discovery]") {
    UnsharePod a(unique_name("twin")), b(unique_name("twin"));
    ProcfsSource source({});
    const std::uint64_t ia = uts_inode_of(a.members()[0]), ib = uts_inode_of(b.members()[0]);
    REQUIRE(ia != ib);
    const UnsharePod& first = ia < ib ? a : b;
    const UnsharePod& second = ia < ib ? b : a;
    const std::string second_key = fmt::format("{}-{}", a.hostname(), std::max(ia, ib));

    auto c1 = wait_for_pod(source, a.hostname());
    auto c2 = wait_for_pod(source, second_key);
    REQUIRE(c1);
    REQUIRE(c2);
    CHECK(c1->tasks == first.members());
    CHECK(c2->tasks == second.members());
    CHECK(c2->pod == second_key);
}

TEST_CASE("PodDb maps the real pod's pids to it and the host's to nothing", "[integration][root][discovery]") {
    UnsharePod pod(unique_name("pod-db-test-pod"));
    PodDb db(std::make_unique<ProcfsSource>(ProcfsSourceOptions{}), "/proc");
    REQUIRE(wait_until([&] { return db.refresh() && db.snapshot()->contains(pod.hostname()); }));
    for (Pid pid : pod.members()) CHECK(db.owner_of(pid) == Owner{pod.hostname(), "", pod.hostname()});
    CHECK(db.owner_of(::getpid()) == std::nullopt);
    CHECK(db.owner_of(pod.launcher()) == std::nullopt);
}

TEST_CASE("processes exiting mid-scan never break the scan loop", "[integration][root][discovery]") {
    UnsharePod stable(unique_name("stable-pod"));
    ProcfsSource source({});
    REQUIRE(wait_for_pod(source, stable.hostname()));

    std::atomic<bool> stop{false};
    std::atomic<int> spawned{0};
    std::thread churn([&] {
        for (int i = 0; !stop; ++i) {
            // Short-lived pods and plain processes, each gone within milliseconds.
            auto p = i % 2 == 0 ? ct::Subprocess::spawn(quiet({"unshare", "--uts", "sh", "-c",
                                                               fmt::format("hostname churn-{}; exit 0", i)}))
                                : ct::Subprocess::spawn(quiet({"true"}));
            if (!p) continue;
            p->wait();
            ++spawned;
        }
    });

    int scans = 0, failures = 0, stable_wrong = 0;
    std::string last_error;
    while (scans < 300 || spawned < 50) {
        auto pods = source.list_pods();
        ++scans;
        if (!pods) {
            ++failures;
            last_error = pods.error().message;
            continue;
        }
        auto it = pods->find(stable.hostname());
        if (it == pods->end() || it->second.containers.at(stable.hostname()).tasks != stable.members())
            ++stable_wrong;
        std::vector<Pid> all;
        for (const auto& [name, pod] : *pods)
            for (const auto& [cname, c] : pod.containers) all.insert(all.end(), c.tasks.begin(), c.tasks.end());
        if (!threads_of("/proc", all)) ++failures;
        if (scans > 5000) break;  // bound the loop should spawning stall
    }
    stop = true;
    churn.join();
    INFO("last error: " << last_error);
    CHECK(failures == 0);
    CHECK(stable_wrong == 0);
    CHECK(spawned >= 50);
}
