// RawDecoder on a hand-built ring-buffer page and the kernel's own format texts: names, pids,
// timestamps and fields must come out as the text path produces them.
#include <catch2/catch.hpp>
#include <cstring>

#include "tracer-node/capture/raw_decode.h"

namespace {

using namespace ct::node;

const char* kHeaderPage =
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

const char* kEnterOpenat =
    "name: sys_enter_openat\nID: 782\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
    "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n"
    "\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n\n"
    "print fmt: \"dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx\", ((unsigned long)(REC->dfd)), "
    "((unsigned long)(REC->filename)), ((unsigned long)(REC->flags)), ((unsigned long)(REC->mode))\n";

const char* kExitGetppid =
    "name: sys_exit_getppid\nID: 304\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
    "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\n"
    "print fmt: \"0x%lx\", REC->ret\n";

// A page: 16-byte header, then events of 4-byte header (type_len = words of data, time delta).
struct PageBuilder {
    std::vector<char> bytes = std::vector<char>(16, 0);
    void add(std::uint32_t delta, const std::vector<char>& data) {
        std::uint32_t header = static_cast<std::uint32_t>(data.size() / 4) | (delta << 5);
        bytes.insert(bytes.end(), reinterpret_cast<char*>(&header), reinterpret_cast<char*>(&header) + 4);
        bytes.insert(bytes.end(), data.begin(), data.end());
    }
    std::vector<char> finish(std::uint64_t ts) {
        std::memcpy(bytes.data(), &ts, 8);
        std::uint64_t commit = bytes.size() - 16;
        std::memcpy(bytes.data() + 8, &commit, 8);
        bytes.resize(4096, 0);
        return bytes;
    }
};

template <class T>
void put(std::vector<char>& d, size_t off, T v) {
    std::memcpy(d.data() + off, &v, sizeof v);
}

// A zeroed record of `size` bytes with its common fields: common_type at 0, common_pid at 4.
std::vector<char> record(size_t size, std::uint16_t type, std::int32_t pid = 0) {
    std::vector<char> r(size, 0);
    put(r, 0, type);
    put(r, 4, pid);
    return r;
}

}  // namespace

TEST_CASE("raw decoder turns syscall records into the text path's event names and fields", "[unit]") {
    auto decoder = RawDecoder::from_formats(
        kHeaderPage, {{"syscalls", "sys_enter_openat", kEnterOpenat}, {"syscalls", "sys_exit_getppid", kExitGetppid}});
    REQUIRE(decoder);

    auto enter = record(48, 782, 4242);
    put<std::int32_t>(enter, 8, 257);
    put<std::uint64_t>(enter, 16, 0xffffff9c);
    put<std::uint64_t>(enter, 24, 0x7ffd1234);
    auto exit = record(24, 304, 4242);
    put<std::int32_t>(exit, 8, 110);
    put<std::int64_t>(exit, 16, -14);
    auto unknown = record(8, 9999);

    PageBuilder page;
    page.add(0, enter);
    page.add(500, exit);
    page.add(1, unknown);
    auto bytes = page.finish(1'000'000'000ULL);

    std::vector<TraceEvent> out;
    auto counts = (*decoder)->decode(1, bytes.data(), bytes.size(), out);
    CHECK(counts.events == 2);
    CHECK(counts.unknown == 1);
    CHECK((*decoder)->count(bytes.data(), bytes.size()) == 3);
    REQUIRE(out.size() == 2);

    CHECK(out[0].event == "sys_enter_openat");
    CHECK(out[0].pid == 4242);
    CHECK(out[0].cpu == 1);
    CHECK(out[0].timestamp_ns == 1'000'000'000ULL);
    CHECK(out[0].details == "dfd: 0xffffff9c, filename: 0x7ffd1234, flags: 0x0, mode: 0x0");
    CHECK(out[0].fields.at("nr").as_int64() == 257);
    CHECK(out[0].fields.at("args").as_object().at("filename").as_string() == "0x7ffd1234");

    CHECK(out[1].event == "sys_exit_getppid");
    CHECK(out[1].timestamp_ns == 1'000'000'500ULL);
    CHECK(out[1].fields.at("ret").as_int64() == -14);
    CHECK(out[1].details == "0xfffffffffffffff2");
}

TEST_CASE("raw decoder takes formats of several systems and names the one that does not parse", "[export][unit]") {
    const char* fork_format =
        "name: sched_process_fork\nID: 320\nformat:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
        "\tfield:pid_t parent_pid;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:pid_t child_pid;\toffset:12;\tsize:4;\tsigned:1;\n\n"
        "print fmt: \"parent_pid=%d child_pid=%d\", REC->parent_pid, REC->child_pid\n";
    auto decoder = RawDecoder::from_formats(
        kHeaderPage, {{"syscalls", "sys_exit_getppid", kExitGetppid}, {"sched", "sched_process_fork", fork_format}});
    REQUIRE(decoder);
    auto fork = record(16, 320, 7);
    put<std::int32_t>(fork, 8, 7);
    put<std::int32_t>(fork, 12, 8);
    PageBuilder page;
    page.add(0, fork);
    auto bytes = page.finish(5);
    std::vector<TraceEvent> out;
    CHECK((*decoder)->decode(0, bytes.data(), bytes.size(), out).events == 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].event == "sched_process_fork");
    CHECK(out[0].fields.at("child_pid").as_int64() == 8);

    auto bad = RawDecoder::from_formats(kHeaderPage, {{"syscalls", "sys_exit_getppid", kExitGetppid},
                                                      {"syscalls", "sys_enter_broken", "not a format"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("syscalls:sys_enter_broken") != std::string::npos);
}
