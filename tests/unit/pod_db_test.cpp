// PodDb: snapshot, pid -> container index, thread ids mapped through <root>/<tid>/status,
// miss caching and the bounded auto-refresh. Fixture tree + fake sources, no real /proc.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "tracer-node/discovery/hostname_resolver.h"
#include "tracer-node/discovery/pod_db.h"
#include "tracer-node/discovery/procfs_source.h"

using namespace ct::node;


namespace {

const std::string kRoot = CT_TESTDATA_DIR "/proc";
const std::string kJaegerShort = "7a885ba21631";
const std::string kRbacShort = "cc19404716ae";  // first 12 of the rbac container's id
const std::string kJaegerId = "7a885ba21631aaffebde403070d9e602964596f20ab352865d6060c6d97c9be2";
const std::string kRbacId = "cc19404716ae6866713e67dcab5cf1533395152a2a9b393c7fad39acc5c0b6d7";

std::unique_ptr<ContainerSource> fixture_source() {
    return std::make_unique<ProcfsSource>(ProcfsSourceOptions{
        .root = kRoot,
        .reference_pid = 100,
        .resolver = std::make_unique<StaticHostnameResolver>(std::map<std::uint64_t, std::string>{
            {4026532201, "jaeger-operator-7b46f44865-jvgz8"}, {4026532301, "plain-pod"}, {4026532401, "other"}})});
}

// A source whose answer the test sets; counts the calls.
class FakeSource : public ContainerSource {
public:
    std::string describe() const override { return "fake"; }
    ct::Result<PodMap> list_pods() override {
        std::lock_guard lock(mutex_);
        ++calls;
        if (fail) return ct::fail(ct::Errc::kUnavailable, "runtime down");
        return pods;
    }
    void set_pod(const std::string& name, std::vector<Pid> tasks) {
        std::lock_guard lock(mutex_);
        PodInfo pod{name, "default", {}};
        pod.containers[name] = ContainerInfo{name, name, "default", "", std::move(tasks), {}};
        pods[name] = pod;
    }
    std::atomic<int> calls{0};
    std::atomic<bool> fail{false};

private:
    std::mutex mutex_;
    PodMap pods;
};

}  // namespace

TEST_CASE("PodDb maps tgids and thread ids to their container", "[discovery][pod_db]") {
    PodDb db(fixture_source(), kRoot);
    CHECK(db.snapshot()->empty());
    auto pods = db.refresh();
    REQUIRE(pods);
    CHECK(pods->size() == 3);
    std::vector<std::string> stored, returned;
    for (auto& [key, pod] : *db.snapshot()) stored.push_back(key);
    for (auto& [key, pod] : *pods) returned.push_back(key);
    CHECK(stored == returned);

    const Owner jaeger{"jaeger-operator-7b46f44865-jvgz8", "", kJaegerShort, kJaegerId};
    CHECK(db.owner_of(510) == jaeger);
    CHECK(db.owner_of(511) == jaeger);
    CHECK(db.owner_of(515) == jaeger);  // a thread id: mapped through 515/status (Tgid 510)
    CHECK(db.owner_of(515) == jaeger);  // and again from the cache
    CHECK(db.owner_of(520) == Owner{"jaeger-operator-7b46f44865-jvgz8", "", kRbacShort, kRbacId});
    CHECK(db.owner_of(602) == Owner{"plain-pod", "", "plain-pod"});
    CHECK(db.owner_of(100) == std::nullopt);  // host process
    CHECK(db.owner_of(501) == std::nullopt);  // pause sandbox is no container
    CHECK(db.owner_of(600) == std::nullopt);  // the launcher is a parent, not a task
    CHECK(db.owner_of(4242) == std::nullopt);  // no such task
    CHECK(db.owner_of(0) == std::nullopt);
    CHECK(db.owner_of(-1) == std::nullopt);
}

TEST_CASE("PodDb refreshes on its own when empty and caches misses until the next refresh",
          "[discovery][pod_db]") {
    auto fake = std::make_unique<FakeSource>();
    FakeSource& source = *fake;
    PodDb db(std::move(fake), kRoot);

    source.set_pod("a", {4300});
    CHECK(db.owner_of(4300) == Owner{"a", "default", "a"});  // never refreshed: refreshes once
    CHECK(source.calls == 1);

    source.set_pod("b", {4301});
    const int before = source.calls;
    auto first = db.owner_of(4301);  // may refresh, if the machine took over a second since
    CHECK(db.owner_of(4301) == first);
    CHECK(db.owner_of(4301) == first);
    CHECK(source.calls <= before + 1);  // one miss costs at most one refresh, repeats none

    REQUIRE(db.refresh());
    CHECK(db.owner_of(4301) == Owner{"b", "default", "b"});
}

TEST_CASE("PodDb refreshes a miss once the snapshot is older than a second", "[discovery][pod_db]") {
    auto fake = std::make_unique<FakeSource>();
    FakeSource& source = *fake;
    PodDb db(std::move(fake), kRoot);
    REQUIRE(db.refresh());
    source.set_pod("late", {4400});
    std::this_thread::sleep_for(PodDb::kMinAutoRefresh + std::chrono::milliseconds(100));
    CHECK(db.owner_of(4400) == Owner{"late", "default", "late"});
    CHECK(db.snapshot()->contains("late"));
}

TEST_CASE("a failed refresh keeps the previous snapshot and says why", "[discovery][pod_db]") {
    auto fake = std::make_unique<FakeSource>();
    FakeSource& source = *fake;
    PodDb db(std::move(fake), kRoot);
    source.set_pod("a", {4500});
    REQUIRE(db.refresh());
    source.fail = true;
    auto r = db.refresh();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ct::Errc::kUnavailable);
    CHECK(r.error().message.find("fake") != std::string::npos);
    CHECK(db.snapshot()->contains("a"));
    CHECK(db.owner_of(4500) == Owner{"a", "default", "a"});
}

TEST_CASE("owner_of and refresh run concurrently", "[discovery][pod_db]") {
    PodDb db(fixture_source(), kRoot);
    REQUIRE(db.refresh());
    std::atomic<int> wrong{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                auto o = db.owner_of(515);
                if (!o || o->container != kJaegerShort) ++wrong;
                if (db.owner_of(100)) ++wrong;
            }
        });
    }
    for (int i = 0; i < 50; ++i) REQUIRE(db.refresh());
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(wrong == 0);
}
