// The trace.dat writer (record/trace_dat_writer.h) on hand-built ring-buffer pages with the
// kernel's own format texts, checked against what the real trace-cmd reads from the file:
// `trace-cmd report` (every event, its task, CPU and exact timestamp) and `trace-cmd dump`
// (the file's metadata). Bytes in, bytes out: no tracefs.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "tests/support/fixtures.h"
#include "tests/support/viewer_tools.h"
#include "tracer-node/record/recording_format.h"
#include "tracer-node/record/trace_dat_writer.h"
#include "tracer-node/record/zstd_codec.h"

using namespace ct::node;
using namespace ct::node::record;
using namespace ct::test;

namespace {

constexpr std::uint32_t kPage = 4096;

// One CPU's events as the test expects trace-cmd to show them.
struct Expected {
    pid_t pid;
    std::string event;
    std::uint64_t ts;
    int cpu;
};

void make_pages(int cpu, pid_t pid, int pairs, std::uint64_t start, std::vector<std::string>& pages,
                std::vector<Expected>& expected) {
    std::vector<std::uint64_t> ts;
    for (auto& p : getppid_pages(pid, pairs, start, [](int) { return 4242; }, &ts)) pages.push_back(std::move(p));
    for (std::size_t i = 0; i < ts.size(); ++i)
        expected.push_back({pid, i % 2 == 0 ? "sys_enter_getppid" : "sys_exit_getppid", ts[i], cpu});
}

// Compresses `pages` in chunks of `per_chunk` as the recorder does.
std::vector<std::string> chunks_of(const std::vector<std::string>& pages, std::size_t per_chunk) {
    ZstdCompressor z(1);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < pages.size(); i += per_chunk) {
        std::string plain;
        for (std::size_t k = i; k < std::min(pages.size(), i + per_chunk); ++k) plain += pages[k];
        std::string frame;
        REQUIRE(z.compress(plain, frame));
        out.push_back(std::move(frame));
    }
    return out;
}

// Writes the planned file: pieces, with each chunk's frame where the plan says.
std::string write_file(const std::vector<DatPiece>& pieces, const std::vector<std::vector<std::string>>& frames,
                       const std::string& path) {
    std::string bytes;
    for (const auto& p : pieces) bytes += p.cpu < 0 ? p.bytes : frames[static_cast<std::size_t>(p.cpu)][p.chunk];
    std::ofstream(path, std::ios::binary) << bytes;
    return bytes;
}

DatInput base_input() {
    DatInput in;
    in.page_size = kPage;
    in.compression_version = zstd_version();
    in.header_page = kHeaderPage;
    in.header_event = kHeaderEvent;
    in.formats = getppid_formats();
    in.cmdlines = saved_cmdlines({{4242, 4242, "loop", {}}, {4343, 4300, "other task", {}}});
    in.uname = "Linux test 6.18 x86_64";
    in.version = "container-tracer test";
    return in;
}

}  // namespace

TEST_CASE("trace-cmd reports every event of a written trace.dat with its task, CPU and exact timestamp",
          "[unit][record]") {
    // CPU 0: 300 pairs over several pages and chunks; CPU 1: nothing; CPU 2: 3 pairs of another task.
    std::vector<std::string> pages0, pages2;
    std::vector<Expected> expected;
    make_pages(0, 4242, 300, 1'000'000'000'123ULL, pages0, expected);
    make_pages(2, 4343, 3, 1'000'000'050'000ULL, pages2, expected);
    REQUIRE(pages0.size() >= 4);
    std::vector<std::vector<std::string>> frames{chunks_of(pages0, 3), {}, chunks_of(pages2, 3)};

    auto in = base_input();
    in.cpus.resize(3);
    for (int c : {0, 2}) {
        const auto& pages = c == 0 ? pages0 : pages2;
        for (std::size_t i = 0, k = 0; i < pages.size(); i += 3, ++k)
            in.cpus[c].push_back({static_cast<std::uint32_t>(std::min<std::size_t>(3, pages.size() - i) * kPage),
                                  static_cast<std::uint32_t>(frames[c][k].size())});
    }
    auto pieces = plan_trace_dat(in);
    REQUIRE(pieces);
    TempDir dir;
    auto path = dir.str() + "/trace.dat";
    write_file(*pieces, frames, path);

    auto lines = parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", path}));
    REQUIRE(lines.size() == expected.size());
    std::map<std::tuple<pid_t, std::string, std::uint64_t, int>, int> want, got;
    for (const auto& e : expected) want[{e.pid, e.event, e.ts, e.cpu}]++;
    for (const auto& l : lines) got[{l.pid, l.event, l.timestamp_ns, l.cpu}]++;
    CHECK(got == want);
    // Names come from the saved cmdlines; the exit shows its return value as ftrace prints it.
    for (const auto& l : lines) {
        CHECK(l.comm == (l.pid == 4242 ? "loop" : "other task"));
        if (l.event == "sys_exit_getppid") CHECK(l.details.find("0x1092") != std::string::npos);
    }
    // In time order across CPUs, as report merges them.
    for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i - 1].timestamp_ns <= lines[i].timestamp_ns);
}

TEST_CASE("trace-cmd dump reads a written trace.dat's metadata", "[unit][record]") {
    std::vector<std::string> pages;
    std::vector<Expected> expected;
    make_pages(1, 4242, 10, 5'000'000'000ULL, pages, expected);
    std::vector<std::vector<std::string>> frames{{}, chunks_of(pages, 16)};
    auto in = base_input();
    in.cpus.resize(2);
    in.cpus[1].push_back({static_cast<std::uint32_t>(pages.size() * kPage), static_cast<std::uint32_t>(frames[1][0].size())});
    auto pieces = plan_trace_dat(in);
    REQUIRE(pieces);
    TempDir dir;
    auto path = dir.str() + "/trace.dat";
    write_file(*pieces, frames, path);

    auto summary = trace_cmd({"dump", "--summary", "-i", path});
    INFO(summary);
    CHECK(summary.find("7\t[Version]") != std::string::npos);
    CHECK(summary.find("0\t[Little endian]") != std::string::npos);
    CHECK(summary.find("8\t[Bytes in a long]") != std::string::npos);
    CHECK(summary.find("4096\t[Page size, bytes]") != std::string::npos);
    CHECK(summary.find("zstd\t[Compression algorithm]") != std::string::npos);
    CHECK(summary.find("\"local\" clock, 4096 page size, 2 cpus") != std::string::npos);
    CHECK(summary.find("[Events format, 1 systems]") != std::string::npos);
    CHECK(summary.find("[Ftrace format, 1 events]") != std::string::npos);

    auto cmdlines = trace_cmd({"dump", "--cmd-lines", "-i", path});
    CHECK(cmdlines.find("4242 loop") != std::string::npos);
    CHECK(cmdlines.find("4343 other task") != std::string::npos);
    auto events = trace_cmd({"dump", "--events", "-i", path});
    CHECK(events.find("sys_enter_getppid") != std::string::npos);
    CHECK(events.find("sys_exit_getppid") != std::string::npos);

    auto lines = parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", path}));
    CHECK(lines.size() == 20);
}

TEST_CASE("the trace.dat writer refuses input it cannot lay out", "[unit][record]") {
    auto in = base_input();
    in.page_size = 3000;
    CHECK_FALSE(plan_trace_dat(in));
    in = base_input();
    in.cpus = {{{kPage + 1, 10}}};  // not whole pages
    auto bad = plan_trace_dat(in);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("CPU 0") != std::string::npos);
    in = base_input();
    in.long_size = 2;
    CHECK_FALSE(plan_trace_dat(in));
}

TEST_CASE("an empty recording still makes a trace.dat that trace-cmd opens", "[unit][record]") {
    auto in = base_input();
    in.cpus.resize(2);
    auto pieces = plan_trace_dat(in);
    REQUIRE(pieces);
    TempDir dir;
    auto path = dir.str() + "/trace.dat";
    write_file(*pieces, {}, path);
    CHECK(parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", path})).empty());
}
