// PodDb: snapshot, pid -> container index, thread ids mapped through <root>/<tid>/status,
// miss caching and the bounded auto-refresh. Fixture tree + fake sources, no real /proc.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
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

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

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

TEST_CASE("a miss asks for a background refresh and is cached until it lands", "[discovery][pod_db]") {
    auto fake = std::make_unique<FakeSource>();
    FakeSource& source = *fake;
    PodDb db(std::move(fake), kRoot);

    source.set_pod("a", {4300});
    CHECK(db.owner_of(4300) == std::nullopt);  // never refreshed: the index is empty, for now
    REQUIRE(wait_until([&] { return db.generation() >= 1; }));
    CHECK(db.owner_of(4300) == Owner{"a", "default", "a"});

    source.set_pod("b", {4301});
    const auto generation = db.generation();
    CHECK(db.owner_of(4301) == std::nullopt);  // not in the index yet; asks once
    CHECK(db.owner_of(4301) == std::nullopt);  // cached miss
    REQUIRE(wait_until([&] { return db.generation() > generation; }));
    CHECK(db.owner_of(4301) == Owner{"b", "default", "b"});
    CHECK(db.snapshot()->contains("b"));
}

TEST_CASE("background refreshes are spaced by kMinAutoRefresh", "[discovery][pod_db]") {
    auto fake = std::make_unique<FakeSource>();
    FakeSource& source = *fake;
    PodDb db(std::move(fake), kRoot);
    REQUIRE(db.refresh());
    const auto start = std::chrono::steady_clock::now();
    for (Pid pid = 4600; pid < 4700; ++pid) CHECK(db.owner_of(pid) == std::nullopt);  // a burst of misses
    REQUIRE(wait_until([&] { return db.generation() >= 2; }));
    CHECK(std::chrono::steady_clock::now() - start >= PodDb::kMinAutoRefresh - std::chrono::milliseconds(50));
    CHECK(source.calls == 2);  // the explicit refresh and one for the whole burst
}

TEST_CASE("owner_of answers while a refresh is in progress", "[discovery][pod_db]") {
    // A source that lists only when the test lets it: the capture thread's lookups must not wait.
    struct BlockedSource : ContainerSource {
        std::string describe() const override { return "blocked"; }
        ct::Result<PodMap> list_pods() override {
            std::unique_lock lock(mutex);
            ++calls;
            cv.notify_all();
            cv.wait(lock, [&] { return released; });
            PodMap pods;
            PodInfo pod{"p", "default", {}};
            pod.containers["c"] = ContainerInfo{"c", "p", "default", "", {4800}, {}};
            pods["p"] = pod;
            return pods;
        }
        std::mutex mutex;
        std::condition_variable cv;
        int calls = 0;
        bool released = false;
    };
    auto blocked = std::make_unique<BlockedSource>();
    BlockedSource& source = *blocked;
    PodDb db(std::move(blocked), kRoot);
    std::atomic<bool> refreshed{false};  // Catch's assertions belong to the test's thread only
    std::thread api([&] { refreshed = static_cast<bool>(db.refresh()); });  // e.g. GET /v1/pods, stuck in the runtime
    {
        std::unique_lock lock(source.mutex);
        REQUIRE(source.cv.wait_for(lock, std::chrono::seconds(10), [&] { return source.calls == 1; }));
    }
    // The listing is stuck: lookups still answer (misses) from the current, empty index. Before
    // this change a miss refreshed on the caller's thread and waited behind the stuck listing.
    auto lookups = std::async(std::launch::async, [&] { return !db.owner_of(4800) && !db.owner_of(4801); });
    const bool answered = lookups.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    {
        std::lock_guard lock(source.mutex);
        source.released = true;
    }
    source.cv.notify_all();
    CHECK(answered);
    CHECK(lookups.get());
    api.join();
    CHECK(refreshed);
    CHECK(db.owner_of(4800) == Owner{"p", "default", "c"});
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
