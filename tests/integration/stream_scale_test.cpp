// 1,000 live-stream readers of one running session of a real tracer-node tracing a real pod:
// through tracer-svc (one node stream fanned out) and directly against tracer-node. Both programs
// must keep their thread count (no thread per reader or stream, back to idle once the readers are
// gone), tracer-svc its RSS under 256 MiB, and each reader must get every event the session
// delivered or have the missing ones counted in its X-Tracer-Dropped trailer.
// The readers are asynchronous clients on one thread of this process (tests/support/stream_readers.h).
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "tests/integration/process_probe.h"
#include "tests/integration/svc_fixture.h"
#include "tests/support/fixtures.h"
#include "tests/support/stream_readers.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr size_t kReaders = 1000;
// getppid calls of the workload: each is two events, written to every reader. Smaller under a
// sanitizer, where both programs run many times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr long kCalls = 200;
#else
constexpr long kCalls = 2000;
#endif

std::uint64_t delivered(TracerNode& node, const std::string& id) {
    auto s = node.get_json("/v1/trace-session/" + id).at(id).at("Stats");
    return s.at("Delivered").to_number<std::uint64_t>();
}

size_t threads_of(pid_t pid) { return process_figures(pid).threads; }

double metric_of(unsigned short port, const std::string& series) {
    auto r = ct::http::send({.port = port, .target = "/metrics", .timeout = 10s});
    return r && r->status == 200 ? metric_value(r->body, series) : -1;
}

// Every reader ended normally and got every event delivered meanwhile, or counted what it missed.
void check_readers(const StreamReaders& readers, std::uint64_t events) {
    size_t complete = 0, counted = 0, wrong = 0;
    std::string first_problem;
    for (const auto& r : readers.readers()) {
        if (r.status != 200 || !r.dropped || !r.error.empty() || r.lines + *r.dropped != events) {
            if (!wrong++)
                first_problem = fmt::format("status {}, {} lines, dropped {}, error \"{}\"", r.status, r.lines,
                                            r.dropped ? std::to_string(*r.dropped) : "none", r.error);
            continue;
        }
        ++(*r.dropped == 0 ? complete : counted);
    }
    INFO(events << " events delivered; readers complete " << complete << ", with counted drops " << counted
                << ", wrong " << wrong << " (first: " << first_problem << ")");
    CHECK(wrong == 0);
    CHECK(complete + counted == readers.readers().size());
}

}  // namespace

TEST_CASE("1,000 readers follow one session through tracer-svc with fixed threads, bounded memory and every "
          "event received or counted",
          "[integration][root][svc][streams]") {
    ct::http::raise_open_file_limit();
    Pod pod("stream-scale-pod");
    TracerNode node;
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port())});
    REQUIRE(svc.started());
    REQUIRE(ct::svctest::wait_status(svc.port(), "/readyz"));
    auto id = node.create_session("stream-scale-pod", "*", "-s getppid");
    node.run(id, true);
    const auto target = "/v1/trace-session/" + id + "/trace";

    // Warm up: one reader through the svc and gone, so lazily made things exist before the baseline.
    {
        StreamReaders warm(svc.port(), target, 1);
        REQUIRE(warm.wait_heads(30s));
    }
    CHECK(wait_until([&] { return metric_of(svc.port(), "tracer_svc_stream_node_streams") == 0; }, 10s));
    const auto node_idle = threads_of(node.pid()), svc_idle = threads_of(svc.pid());
    const auto svc_idle_kib = process_figures(svc.pid()).rss_kib;

    const auto before = delivered(node, id);
    {
        StreamReaders readers(svc.port(), target, kReaders);
        REQUIRE(readers.wait_heads(120s));
        CHECK(metric_of(svc.port(), "tracer_svc_stream_readers") == kReaders);
        CHECK(metric_of(svc.port(), "tracer_svc_stream_node_streams") == 1);  // one node stream for all
        CHECK(metric_of(node.port(), "container_tracer_stream_readers") == 1);
        pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), kCalls));
        const auto with = process_figures(svc.pid());
        const auto node_with = threads_of(node.pid());
        node.run(id, false);  // the node ends its stream: every reader's stream ends
        REQUIRE(readers.wait_ends(120s));
        const auto events = delivered(node, id) - before;
        CHECK(events >= 2 * static_cast<std::uint64_t>(kCalls));
        check_readers(readers, events);

        INFO("tracer-svc threads idle " << svc_idle << ", with readers " << with.threads << "; RSS " << with.rss_kib
                                        << " KiB; tracer-node threads " << node_idle << " -> " << node_with);
        CHECK(with.threads <= svc_idle);
        CHECK(node_with <= node_idle);
        if (kMemoryFiguresMeaningful) CHECK(with.rss_kib < 256 * 1024);
        // tracer-svc's own drops are in its /metrics, beside what it sent.
        CHECK(metric_of(svc.port(), "tracer_svc_stream_events_total{kind=\"sent\"}") > 0);
        CHECK(metric_of(svc.port(), "tracer_svc_stream_events_total{kind=\"dropped\"}") >= 0);
    }
    // Readers gone: both back to idle, the node's stream closed.
    CHECK(wait_until([&] { return threads_of(svc.pid()) <= svc_idle && threads_of(node.pid()) <= node_idle; }, 10s));
    CHECK(metric_of(svc.port(), "tracer_svc_stream_readers") == 0);
    CHECK(metric_of(svc.port(), "tracer_svc_stream_node_streams") == 0);
    CHECK(wait_until([&] { return metric_of(node.port(), "container_tracer_stream_readers") == 0; }, 10s));
    // ... and tracer-svc back near its idle memory (glibc keeps a little for reuse).
    if (kMemoryFiguresMeaningful) {
        auto after = process_figures(svc.pid()).rss_kib;
        INFO("tracer-svc RSS idle " << svc_idle_kib << " KiB, after the readers " << after << " KiB");
        CHECK(after < svc_idle_kib + 16 * 1024);
    }
}

TEST_CASE("readers leaving tracer-svc close its node stream, the next reader opens a new one",
          "[integration][root][svc][streams]") {
    Pod pod("stream-leave-pod");
    TracerNode node;
    ct::svctest::Svc svc({"--nodes", fmt::format("127.0.0.1:{}", node.port())});
    REQUIRE(svc.started());
    auto id = node.create_session("stream-leave-pod", "*", "-s getppid");
    node.run(id, true);
    const auto target = "/v1/trace-session/" + id + "/trace";
    // The svc learns the owner first.
    REQUIRE(svc.get("/v1/trace-session/" + id)->status == 200);
    // Counted by the node itself: descriptor counts also move with tracer-svc's pooled keep-alive
    // connections, which the node may close when idle.
    const auto node_readers = [&] { return metric_of(node.port(), "container_tracer_stream_readers"); };
    REQUIRE(node_readers() == 0);
    for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        {
            StreamReaders readers(svc.port(), target, 20);
            REQUIRE(readers.wait_heads(30s));
            CHECK(metric_of(svc.port(), "tracer_svc_stream_node_streams") == 1);
            CHECK(wait_until([&] { return node_readers() == 1; }, 10s));  // the svc's one node stream
        }  // every reader leaves mid-stream
        CHECK(wait_until([&] { return metric_of(svc.port(), "tracer_svc_stream_node_streams") == 0; }, 10s));
        CHECK(wait_until([&] { return node_readers() == 0; }, 10s));
    }
    node.run(id, false);
}

TEST_CASE("1,000 readers directly against tracer-node where its limits allow, the default per-session limit "
          "answers 429",
          "[integration][root][streams]") {
    ct::http::raise_open_file_limit();
    Pod pod("stream-direct-pod");
    TracerNode node({.extra_args = {"--max-session-streams", "1000", "--max-streams", "1000"}});
    auto id = node.create_session("stream-direct-pod", "*", "-s getppid");
    node.run(id, true);
    const auto target = "/v1/trace-session/" + id + "/trace";
    const auto node_idle = threads_of(node.pid());
    const auto before = delivered(node, id);
    {
        StreamReaders readers(node.port(), target, kReaders);
        REQUIRE(readers.wait_heads(120s));
        auto over = ct::http::send({.port = node.port(), .target = target, .timeout = 10s});
        REQUIRE(over);
        CHECK(over->status == 429);
        CHECK_THAT(over->body, Catch::Contains("limit 1000 per session"));
        pod.exec(fmt::format("{} {}", built("bench/getppid_loop"), kCalls));
        const auto node_with = threads_of(node.pid());
        node.run(id, false);
        REQUIRE(readers.wait_ends(120s));
        check_readers(readers, delivered(node, id) - before);
        INFO("tracer-node threads idle " << node_idle << ", with " << kReaders << " readers " << node_with);
        CHECK(node_with <= node_idle);
    }
    CHECK(wait_until([&] { return threads_of(node.pid()) <= node_idle; }, 10s));

    // Defaults: 64 readers per session on a node (tracer-svc holds one per session).
    TracerNode plain;
    auto sid = plain.create_session("stream-direct-pod", "*", "-s getppid");
    plain.run(sid, true);
    const auto starget = "/v1/trace-session/" + sid + "/trace";
    {
        StreamReaders readers(plain.port(), starget, 64);
        REQUIRE(readers.wait_heads(30s));
        auto over = ct::http::send({.port = plain.port(), .target = starget, .timeout = 10s});
        REQUIRE(over);
        CHECK(over->status == 429);
        CHECK_THAT(over->body, Catch::Contains("already has 64 stream readers (limit 64 per session)"));
    }
    plain.run(sid, false);
}
