// The recording's pure parts: metadata and task codecs, chunk headers, segment indexing (torn
// writes vs foreign bytes), the clock-offset text parsers and the trace.json query.
#include <catch2/catch.hpp>

#include "tracer-node/record/clock_offset.h"
#include "tracer-node/record/export_stream.h"
#include "tracer-node/record/recording_format.h"
#include "tracer-node/record/recording_scan.h"

using namespace ct::node;
using namespace ct::node::record;

namespace {

RunMeta sample_meta() {
    RunMeta m;
    m.run = 3;
    m.node = "n1";
    m.session_id = "42";
    m.hook = "trace_syscalls";
    m.instance = "/sys/kernel/tracing/instances/ctrace_x";
    m.header_page = "hp";
    m.header_event = "he";
    m.formats = {{"syscalls", "sys_enter_getppid", "name: sys_enter_getppid\n"}};
    m.page_size = 4096;
    m.cpus = 2;
    m.trace_clock = "local";
    m.realtime_offset_ns = -12345;
    m.started_unix_ns = 1'700'000'000'000'000'000;
    m.uname = "Linux";
    return m;
}

std::string segment_with(std::initializer_list<std::pair<ChunkHeader, std::string>> chunks) {
    std::string s(kSegmentMagic);
    for (const auto& [h, frame] : chunks) s += encode_chunk_header(h) + frame;
    return s;
}

}  // namespace

TEST_CASE("run metadata and tasks read back as written; damage is named", "[unit][record]") {
    auto m = sample_meta();
    auto back = decode_meta(encode_meta(m));
    REQUIRE(back);
    CHECK(back->run == 3);
    CHECK(back->formats.size() == 1);
    CHECK(back->formats[0].text == "name: sys_enter_getppid\n");
    CHECK(back->realtime_offset_ns == -12345);
    CHECK(back->page_size == 4096);
    m.realtime_offset_ns.reset();
    CHECK_FALSE(decode_meta(encode_meta(m))->realtime_offset_ns);

    CHECK(decode_meta("not json").error().message.find("not JSON") != std::string::npos);
    auto text = encode_meta(sample_meta());
    auto bad_page = text;
    bad_page.replace(bad_page.find("\"page_size\":4096"), 16, "\"page_size\":4000");
    CHECK(decode_meta(bad_page).error().message.find("page_size 4000") != std::string::npos);

    TaskInfo t{7, 5, "loop", EventOwner{"pod", "ns", "c", "id"}};
    auto task = decode_task(encode_task(t));
    REQUIRE(task);
    CHECK(task->tgid == 5);
    CHECK(task->owner == t.owner);
    CHECK_FALSE(decode_task(encode_task({8, 8, "x", std::nullopt}))->owner);
    CHECK_FALSE(decode_task(R"({"tid":-1,"tgid":1,"comm":"x"})"));
    CHECK(saved_cmdlines({t, {9, 9, "two\nlines", {}}}) == "7 loop\n9 two lines\n");
}

TEST_CASE("names of a recording's entries", "[unit][record]") {
    CHECK(run_dir_name(7) == "run-000007");
    CHECK(parse_run_dir_name("run-000007") == 7u);
    CHECK(segment_name(12) == "seg-00000012.ctrec");
    CHECK(parse_segment_name("seg-00000012.ctrec") == 12u);
    CHECK_FALSE(parse_segment_name("seg-12.ctrec"));
    CHECK_FALSE(parse_run_dir_name("run-x00007"));
    CHECK(parse_session_dir_name("session-18446744073709551615") == "18446744073709551615");
    CHECK_FALSE(parse_session_dir_name("session-abc"));
}

TEST_CASE("segments index their chunks; a torn tail is told from foreign bytes", "[unit][record]") {
    ChunkHeader a{0, 2, 100, 8192, 5}, b{1, 1, 7, 4096, 3};
    auto seg = segment_with({{a, "AAAAA"}, {b, "BBB"}});
    auto index = index_segment(seg, 4096, 2);
    CHECK(index.error.empty());
    REQUIRE(index.chunks.size() == 2);
    CHECK(index.chunks[0].offset == 8 + kChunkHeaderSize);
    CHECK(index.chunks[1].header.events == 7);
    CHECK(index.valid == seg.size());

    // Cut inside the second chunk's data: a torn append.
    auto torn = index_segment(std::string_view(seg).substr(0, seg.size() - 1), 4096, 2);
    CHECK(torn.cut_short);
    CHECK(torn.chunks.size() == 1);
    CHECK(torn.valid == 8 + kChunkHeaderSize + 5);
    CHECK(torn.error.find("cut short") != std::string::npos);

    // Garbage where a chunk should start, a chunk of a CPU the run does not have, a foreign file.
    auto garbage = index_segment(seg + std::string(30, 'x'), 4096, 2);
    CHECK_FALSE(garbage.cut_short);
    CHECK(garbage.error.find("no chunk here") != std::string::npos);
    CHECK(index_segment(seg, 4096, 1).error.find("CPU 1") != std::string::npos);
    auto foreign = index_segment("{\"hello\": 1}\n", 4096, 2);
    CHECK_FALSE(foreign.cut_short);
    CHECK(foreign.error.find("not a segment") != std::string::npos);
    CHECK(index_segment("CTRE", 4096, 2).cut_short);
    // Sizes that do not add up.
    ChunkHeader odd{0, 2, 1, 4096, 5};
    CHECK(index_segment(segment_with({{odd, "AAAAA"}}), 4096, 2).error.find("not pages") != std::string::npos);
}

TEST_CASE("the trace clock's reading and name come out of tracefs texts", "[unit][record]") {
    const char* stats =
        "entries: 0\noverrun: 0\ncommit overrun: 0\nbytes: 0\noldest event ts:     0.000000\nnow ts:  5721.825704\n"
        "dropped events: 0\nread events: 0\n";
    CHECK(parse_now_ts(stats) == 5'721'825'704'000ULL);
    CHECK_FALSE(parse_now_ts("entries: 0\n"));
    CHECK_FALSE(parse_now_ts("now ts: 12\n"));
    CHECK(selected_clock("[local] global counter uptime perf mono mono_raw boot tai x86-tsc\n") == "local");
    CHECK(selected_clock("local global [mono] x86-tsc") == "mono");
    CHECK(clock_counts_ns("local"));
    CHECK(clock_counts_ns("mono_raw"));
    CHECK_FALSE(clock_counts_ns("counter"));
    CHECK_FALSE(clock_counts_ns("x86-tsc"));
}

TEST_CASE("trace.json's query: defaults, values, and bad parameters named", "[unit][record]") {
    auto q = parse_json_query("", {.realtime = true, .label = true});
    REQUIRE(q);
    CHECK(q->realtime);
    CHECK(q->label);
    q = parse_json_query("clock=trace&pid_base=20000000&sort_index=1&events_only=1&label=0", {});
    REQUIRE(q);
    CHECK_FALSE(q->realtime);
    CHECK(q->pid_base == 20'000'000);
    CHECK(q->sort_index == 1);
    CHECK(q->events_only);
    CHECK_FALSE(q->label);
    CHECK(parse_json_query("clock=tai", {}).error().message.find("\"tai\"") != std::string::npos);
    CHECK(parse_json_query("pid_base=-1", {}).error().message.find("pid_base") != std::string::npos);
    CHECK(parse_json_query("zoom=2", {}).error().message.find("\"zoom\"") != std::string::npos);
    CHECK(parse_json_query("events_only=yes", {}).error().code == ct::Errc::kInvalidArgument);
}
