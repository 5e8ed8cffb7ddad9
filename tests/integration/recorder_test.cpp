// The Recorder (record/recorder.h) with real files, on a directory tree shaped like tracefs (it
// only reads files there) and hand-built ring-buffer pages: the per-session limit and its exact
// drop count, restarts, a crash's torn tail vs damage, deletion, and its exports read by the
// real trace-cmd. No root needed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <atomic>
#include <random>
#include <thread>

#include <boost/json.hpp>

#include "common/pull_stream.h"
#include "tests/support/fixtures.h"
#include "tests/support/viewer_tools.h"
#include "tracer-node/record/export_stream.h"
#include "tracer-node/record/recorder.h"

using namespace ct::node;
using namespace ct::node::record;
using namespace ct::test;
namespace fs = std::filesystem;

namespace {

const EventContext kContext{"node-1", "77", "trace_syscalls", ""};

std::shared_ptr<Recorder> open_recorder(const std::string& dir, std::uint64_t limit = 256ull << 20) {
    auto r = Recorder::open({.dir = dir, .session_limit = limit, .chunk_pages = 4});
    REQUIRE(r);
    return *r;
}

std::uint64_t events_in(const Recording& r) {
    std::uint64_t n = 0;
    for (const auto& c : r.chunks) n += c.header.events;
    return n;
}

// Drains a stream into one string.
std::string drain(ct::http::ChunkStream& s) {
    auto out = ct::http::drain_stream(s, std::chrono::seconds(60));
    REQUIRE(out);
    return *out;
}

std::size_t reported_enters(const std::string& dat_path) {
    std::size_t n = 0;
    for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", dat_path})))
        n += l.event == "sys_enter_getppid";
    return n;
}

}  // namespace

TEST_CASE("the recorder keeps a session within its limit and counts exactly what it dropped", "[record]") {
    TempDir tmp;
    auto inst = fake_tracefs_instance(tmp.str() + "/tracing", 2);
    auto rec = open_recorder(tmp.str() + "/rec", 1 << 20);
    auto tap = rec->start_run(kContext, inst);
    REQUIRE(tap);
    // Random return values: pages that compress little, so the limit is reached.
    std::mt19937_64 rng(7);
    const int kPairs = 300'000;
    auto pages = getppid_pages(4242, kPairs, 1'000'000'000, [&](int) { return static_cast<std::int64_t>(rng()); });
    for (std::size_t i = 0; i < pages.size(); ++i) (*tap)(static_cast<int>(i % 2), pages[i]);
    auto snap = rec->snapshot("77");
    REQUIRE(snap);
    auto counts = rec->session_counts("77");
    CHECK(counts.dropped > 0);
    CHECK(counts.errors == 0);
    CHECK(counts.exported == 2u * kPairs);
    // Every event is either kept or counted as dropped.
    CHECK(events_in(*snap) + counts.dropped == 2u * kPairs);
    std::uint64_t bytes = 0;
    for (const auto& s : snap->segments) bytes += fs::file_size(s.path);
    CHECK(bytes <= (1u << 20));
    CHECK(bytes >= (1u << 20) * 3 / 4);
    // The oldest went: what is kept is the end of the run, in trace-cmd too.
    auto stream = trace_dat_stream(*snap, "test");
    REQUIRE(stream);
    std::ofstream(tmp.path() / "limited.dat", std::ios::binary) << drain(**stream);
    auto lines = parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (tmp.path() / "limited.dat").string()}));
    CHECK(lines.size() == events_in(*snap));
    REQUIRE(!lines.empty());
    CHECK(lines.back().timestamp_ns == 1'000'000'000 + (2ull * kPairs - 1) * 700);
    CHECK(lines.front().timestamp_ns > 1'000'000'000);
}

TEST_CASE("a recording survives the recorder; a crash's torn tail is cut, a closed run's is damage", "[record]") {
    TempDir tmp;
    auto inst = fake_tracefs_instance(tmp.str() + "/tracing", 2);
    const auto dir = tmp.str() + "/rec";
    auto pages = getppid_pages(4242, 2'000, 5'000'000'000, [](int i) { return i; });
    {
        auto rec = open_recorder(dir);
        auto tap = rec->start_run(kContext, inst);
        REQUIRE(tap);
        for (const auto& p : pages) (*tap)(1, p);
        REQUIRE(rec->snapshot("77"));  // flushes the pending chunks: everything is on disk
        // A crash now: the run is open. Its copy is what a killed agent leaves.
        fs::copy(dir, tmp.str() + "/crashed", fs::copy_options::recursive);
        rec->on_run_stop(kContext);
    }
    auto session = fs::path(dir) / "session-77";
    CHECK(fs::exists(session / "run-000001" / "ended"));
    std::vector<fs::path> segments;
    for (const auto& e : fs::directory_iterator(session / "run-000001"))
        if (e.path().extension() == ".ctrec") segments.push_back(e.path());
    REQUIRE(segments.size() == 1);

    SECTION("reopened as it was") {
        auto rec = open_recorder(dir);
        auto snap = rec->snapshot("77");
        REQUIRE(snap);
        CHECK(events_in(*snap) == 4'000);
        CHECK(rec->session_counts("77").exported == 4'000);
        auto stream = trace_dat_stream(*snap, "test");
        REQUIRE(stream);
        std::ofstream(tmp.path() / "back.dat", std::ios::binary) << drain(**stream);
        CHECK(reported_enters((tmp.path() / "back.dat").string()) == 2'000);
        // A new run goes on after the old one.
        auto tap = rec->start_run(kContext, inst);
        REQUIRE(tap);
        for (const auto& p : getppid_pages(4242, 10, 9'000'000'000, [](int) { return 1; })) (*tap)(0, p);
        rec->on_run_stop(kContext);
        auto both = rec->snapshot("77");
        REQUIRE(both);
        CHECK(both->runs.size() == 2);
        CHECK(events_in(*both) == 4'020);
    }
    SECTION("a torn chunk at the end of a crashed run is cut off") {
        auto crashed = fs::path(tmp.str()) / "crashed" / "session-77" / "run-000001";
        REQUIRE_FALSE(fs::exists(crashed / "ended"));
        auto seg = crashed / segments[0].filename();
        fs::resize_file(seg, fs::file_size(seg) - 5);
        auto rec = open_recorder(tmp.str() + "/crashed");
        auto snap = rec->snapshot("77");
        REQUIRE(snap);  // not damage: a torn write
        CHECK(events_in(*snap) < 4'000);
        CHECK(events_in(*snap) > 3'000);
        CHECK(fs::exists(crashed / "ended"));
    }
    SECTION("a closed run cut short is damage, named, and recording goes on") {
        fs::resize_file(segments[0], fs::file_size(segments[0]) - 5);
        auto rec = open_recorder(dir);
        auto snap = rec->snapshot("77");
        REQUIRE_FALSE(snap);
        CHECK(snap.error().code == ct::Errc::kIo);
        CHECK(snap.error().message.find(segments[0].string()) != std::string::npos);
        CHECK(snap.error().message.find("cut short") != std::string::npos);
        CHECK(rec->start_run(kContext, inst));
    }
    SECTION("a foreign file is damage") {
        std::ofstream(session / "run-000001" / "seg-00000009.ctrec") << "GIF89a...";
        auto rec = open_recorder(dir);
        auto snap = rec->snapshot("77");
        REQUIRE_FALSE(snap);
        CHECK(snap.error().message.find("seg-00000009.ctrec") != std::string::npos);
        CHECK(snap.error().message.find("not a segment") != std::string::npos);
    }
    SECTION("deleting and pruning remove recordings") {
        auto rec = open_recorder(dir);
        rec->prune({"77"});
        CHECK(fs::exists(session));
        rec->prune({});
        CHECK_FALSE(fs::exists(session));
        CHECK(rec->snapshot("77").error().code == ct::Errc::kNotFound);
    }
}

TEST_CASE("a recording exports as trace.json with one complete event per syscall", "[record]") {
    TempDir tmp;
    auto inst = fake_tracefs_instance(tmp.str() + "/tracing", 2);
    auto rec = open_recorder(tmp.str() + "/rec");
    auto tap = rec->start_run(kContext, inst);
    REQUIRE(tap);
    // Two CPUs, interleaved in time: the export merges them.
    auto a = getppid_pages(100, 500, 1'000'000, [](int) { return 1; });
    auto b = getppid_pages(200, 300, 1'000'350, [](int) { return 2; });
    for (const auto& p : a) (*tap)(0, p);
    for (const auto& p : b) (*tap)(1, p);
    TraceEvent e;
    e.pid = 100;
    e.comm = "loop-a";
    const EventOwner owner{"pod-a", "ns", "c", "id"};
    std::vector<EnrichedEvent> events{{e, &owner}};
    rec->export_events(kContext, events);
    rec->on_run_stop(kContext);
    auto snap = rec->snapshot("77");
    REQUIRE(snap);
    auto stream = trace_json_stream({*snap}, {});
    auto doc = boost::json::parse(drain(*stream));
    std::map<std::int64_t, std::size_t> complete;
    double last = 0;
    for (const auto& ev : doc.at("traceEvents").as_array()) {
        if (ev.at("ph") != "X") continue;
        CHECK(ev.at("name") == "getppid");
        complete[ev.at("tid").as_int64()]++;
        auto ts = ev.at("ts").to_number<double>();
        CHECK(ts >= last);  // CPUs merged in time order
        last = ts;
    }
    CHECK(complete[100] == 500);
    CHECK(complete[200] == 300);
    bool named = false;
    for (const auto& ev : doc.at("traceEvents").as_array())
        if (ev.at("ph") == "M" && ev.at("name") == "thread_name" && ev.at("tid") == 100) {
            CHECK(ev.at("args").at("name") == "loop-a");
            named = true;
        }
    CHECK(named);
}

TEST_CASE("events the capture judged out of scope are in neither export of the recording, also after a restart",
          "[record]") {
    TempDir tmp;
    auto inst = fake_tracefs_instance(tmp.str() + "/tracing", 2);
    const auto dir = tmp.str() + "/rec";
    std::vector<std::uint64_t> out_times;
    {
        auto rec = open_recorder(dir);
        auto tap = rec->start_run(kContext, inst);
        REQUIRE(tap);
        // 100 is the session's; 200 runs at the same time on the other CPU and is not.
        for (const auto& p : getppid_pages(100, 500, 1'000'000, [](int) { return 1; })) (*tap)(0, p);
        for (const auto& p : getppid_pages(200, 300, 1'000'350, [](int) { return 2; }, &out_times)) (*tap)(1, p);
        std::vector<TraceEvent> outside(out_times.size());
        std::vector<const TraceEvent*> batch;
        for (std::size_t i = 0; i < out_times.size(); ++i) {
            outside[i].pid = 200;
            outside[i].timestamp_ns = out_times[i];
            batch.push_back(&outside[i]);
        }
        // In two batches, as two polls of the capture would report them.
        const std::size_t half = batch.size() / 2;
        rec->export_out_of_scope(kContext, std::span(batch).first(half));
        rec->export_out_of_scope(kContext, std::span(batch).subspan(half));
        rec->on_run_stop(kContext);
    }
    auto rec = open_recorder(dir);  // a restart: spans come back from excluded.jsonl
    auto snap = rec->snapshot("77");
    REQUIRE(snap);
    REQUIRE(snap->runs.size() == 1);
    CHECK_FALSE(snap->runs[0].excluded.empty());

    auto dat = trace_dat_stream(*snap, "test");
    REQUIRE(dat);
    std::ofstream(tmp.path() / "scoped.dat", std::ios::binary) << drain(**dat);
    std::map<pid_t, std::size_t> reported;
    for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", (tmp.path() / "scoped.dat").string()})))
        reported[l.pid]++;
    CHECK(reported[100] == 1'000);
    CHECK(reported[200] == 0);

    auto doc = boost::json::parse(drain(*trace_json_stream({*snap}, {})));
    std::map<std::int64_t, std::size_t> complete;
    for (const auto& ev : doc.at("traceEvents").as_array())
        if (ev.at("ph") == "X") complete[ev.at("tid").as_int64()]++;
    CHECK(complete[100] == 500);
    CHECK(complete[200] == 0);
}

TEST_CASE("recorder taps and exports concurrently", "[record]") {
    // The tap and task notes run on a capture thread while HTTP threads take snapshots, stream
    // them and read stats (TSan runs this: make test-tsan).
    TempDir tmp;
    auto inst = fake_tracefs_instance(tmp.str() + "/tracing", 2);
    auto rec = open_recorder(tmp.str() + "/rec", 1 << 20);
    auto tap = rec->start_run(kContext, inst);
    REQUIRE(tap);
    auto pages = getppid_pages(4242, 20'000, 1'000'000, [](int i) { return i * 7919; });
    std::atomic<bool> done{false};
    std::thread capture([&] {
        TraceEvent e;
        e.comm = "loop";
        const std::vector<EnrichedEvent> batch{{e, nullptr}};  // lends e
        for (std::size_t i = 0; i < pages.size(); ++i) {
            (*tap)(static_cast<int>(i % 2), pages[i]);
            e.pid = static_cast<pid_t>(4242 + i % 3);
            rec->export_events(kContext, batch);
        }
        rec->on_run_stop(kContext);
        done = true;
    });
    std::uint64_t snapshots = 0;
    while (!done) {
        auto snap = rec->snapshot("77");
        REQUIRE(snap);
        auto stream = trace_dat_stream(*snap, "test");
        REQUIRE(stream);
        drain(**stream);
        (void)rec->session_counts("77");
        (void)rec->total_counts();
        ++snapshots;
    }
    capture.join();
    CHECK(snapshots > 0);
    auto counts = rec->session_counts("77");
    auto snap = rec->snapshot("77");
    REQUIRE(snap);
    CHECK(counts.exported == 40'000);
    CHECK(events_in(*snap) + counts.dropped == 40'000);
    CHECK(snap->runs.at(0).tasks.size() == 3);
}
