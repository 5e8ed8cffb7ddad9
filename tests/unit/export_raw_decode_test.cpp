// RawDecoder on a hand-built ring-buffer page and the kernel's own format texts: names, pids,
// timestamps and fields must come out as the text path produces them.
#include <catch2/catch.hpp>
#include <cstring>
#include <optional>

#include <boost/json.hpp>

#include <fmt/format.h>

#include "tracer-node/capture/raw_decode.h"

#include <traceevent/event-parse.h>
// kbuffer.h, unlike event-parse.h, has no extern "C" of its own.
extern "C" {
#include <traceevent/kbuffer.h>
}
#include "tracer-node/capture/page_reader.h"
#include "tracer-node/capture/trace_line_parse.h"
#include "tracer-node/record/scope_scrub.h"

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
    // A record too long for type_len (over 112 bytes): type_len 0, its length (+4) in the next word.
    void add_long(std::uint32_t delta, const std::vector<char>& data) {
        word(delta << 5);
        word(static_cast<std::uint32_t>(data.size() + 4));
        bytes.insert(bytes.end(), data.begin(), data.end());
    }
    // A time extension: the delta's bits above 27 (type_len 30).
    void add_extend(std::uint32_t low, std::uint32_t high) {
        word(30 | (low << 5));
        word(high);
    }
    // A discarded event (the kernel's rb_event_discard): padding (type_len 29) with a nonzero
    // delta; its first data word holds the bytes after the header (that word included).
    void add_discarded(std::uint32_t delta, std::uint32_t length) {
        word(29 | (delta << 5));
        word(length);
        bytes.resize(bytes.size() + length - 4, 0);
    }
    void word(std::uint32_t w) { bytes.insert(bytes.end(), reinterpret_cast<char*>(&w), reinterpret_cast<char*>(&w) + 4); }
    std::vector<char> finish(std::uint64_t ts, std::uint64_t flags = 0, std::optional<std::uint64_t> lost = {}) {
        std::memcpy(bytes.data(), &ts, 8);
        std::uint64_t commit = (bytes.size() - 16) | flags;
        std::memcpy(bytes.data() + 8, &commit, 8);
        if (lost) bytes.insert(bytes.end(), reinterpret_cast<char*>(&*lost), reinterpret_cast<char*>(&*lost) + 8);
        bytes.resize(4096, 0);
        return bytes;
    }
};

template <class T>
void put(std::vector<char>& d, size_t off, T v) {
    std::memcpy(d.data() + off, &v, sizeof v);
}

// The event's "fields" member as the JSON writer exports it.
boost::json::value json_fields(const TraceEvent& e) {
    std::string line;
    EventJsonWriter(EventContext{}).append(line, e, nullptr);
    auto o = boost::json::parse(line).as_object();
    return o.contains("fields") ? o.at("fields") : boost::json::value(boost::json::object{});
}

// A zeroed record of `size` bytes with its common fields: common_type at 0, common_pid at 4.
std::vector<char> event_record(size_t size, std::uint16_t type, std::int32_t pid = 0) {
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

    auto enter = event_record(48, 782, 4242);
    put<std::int32_t>(enter, 8, 257);
    put<std::uint64_t>(enter, 16, 0xffffff9c);
    put<std::uint64_t>(enter, 24, 0x7ffd1234);
    auto exit = event_record(24, 304, 4242);
    put<std::int32_t>(exit, 8, 110);
    put<std::int64_t>(exit, 16, -14);
    auto unknown = event_record(8, 9999);

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

    CHECK(out[0].name() == "sys_enter_openat");
    CHECK(out[0].pid == 4242);
    CHECK(out[0].cpu == 1);
    CHECK(out[0].timestamp_ns == 1'000'000'000ULL);
    CHECK(out[0].details() == "dfd: 0xffffff9c, filename: 0x7ffd1234, flags: 0x0, mode: 0x0");
    CHECK(json_fields(out[0]) ==
          boost::json::parse(R"({"nr":257,"args":{"dfd":"0xffffff9c","filename":"0x7ffd1234","flags":"0x0","mode":"0x0"}})"));

    CHECK(out[1].name() == "sys_exit_getppid");
    CHECK(out[1].timestamp_ns == 1'000'000'500ULL);
    CHECK(json_fields(out[1]) == boost::json::parse(R"({"nr":110,"ret":-14})"));
    CHECK(out[1].details() == "0xfffffffffffffff2");
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
    auto fork = event_record(16, 320, 7);
    put<std::int32_t>(fork, 8, 7);
    put<std::int32_t>(fork, 12, 8);
    PageBuilder page;
    page.add(0, fork);
    auto bytes = page.finish(5);
    std::vector<TraceEvent> out;
    CHECK((*decoder)->decode(0, bytes.data(), bytes.size(), out).events == 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name() == "sched_process_fork");
    CHECK(json_fields(out[0]).at("child_pid") == 8);
    // Bookkeeping the capture consumes is left out of drop counts.
    CHECK((*decoder)->count(bytes.data(), bytes.size()) == 1);
    (*decoder)->skip_in_count({"sched_process_fork"});
    CHECK((*decoder)->count(bytes.data(), bytes.size()) == 0);

    auto bad = RawDecoder::from_formats(kHeaderPage, {{"syscalls", "sys_exit_getppid", kExitGetppid},
                                                      {"syscalls", "sys_enter_broken", "not a format"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("syscalls:sys_enter_broken") != std::string::npos);
}

namespace {

// This kernel's own format texts (6.18, /sys/kernel/tracing/events/<system>/<event>/format).
const char* kCommon =
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

std::string format(const char* name, int id, const char* fields, const char* print) {
    return fmt::format("name: {}\nID: {}\nformat:\n{}{}\nprint fmt: {}\n", name, id, kCommon, fields, print);
}

const std::string kExec = format(
    "sched_process_exec", 365,
    "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n",
    "\"filename=%s pid=%d old_pid=%d\", __get_str(filename), REC->pid, REC->old_pid");

const std::string kSignal = format(
    "signal_generate", 261,
    "\tfield:int sig;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:int code;\toffset:16;\tsize:4;\tsigned:1;\n"
    "\tfield:char comm[16];\toffset:20;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t pid;\toffset:36;\tsize:4;\tsigned:1;\n"
    "\tfield:int group;\toffset:40;\tsize:4;\tsigned:1;\n"
    "\tfield:int result;\toffset:44;\tsize:4;\tsigned:1;\n",
    "\"sig=%d errno=%d code=%d comm=%s pid=%d grp=%d res=%d\", REC->sig, REC->errno, REC->code, REC->comm, "
    "REC->pid, REC->group, REC->result");

const std::string kSockState = format(
    "inet_sock_set_state", 2287,
    "\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;\n"
    "\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;\n"
    "\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;\n"
    "\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;\n"
    "\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;\n"
    "\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;\n"
    "\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;\n",
    "\"sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 oldstate=%d newstate=%d\", REC->sport, REC->dport, REC->saddr, "
    "REC->daddr, REC->oldstate, REC->newstate");

const std::string kFork = format(
    "sched_process_fork", 366,
    "\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
    "\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n"
    "\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n",
    "\"comm=%s pid=%d child_comm=%s child_pid=%d\", __get_str(parent_comm), REC->parent_pid, __get_str(child_comm), "
    "REC->child_pid");

std::unique_ptr<RawDecoder> generic_decoder() {
    auto decoder = RawDecoder::from_formats(kHeaderPage, {{"sched", "sched_process_exec", kExec},
                                                          {"signal", "signal_generate", kSignal},
                                                          {"sock", "inet_sock_set_state", kSockState},
                                                          {"sched", "sched_process_fork", kFork}});
    REQUIRE(decoder);
    return std::move(*decoder);
}

// Puts `text` at `at` in the record and a __data_loc locator for it (offset | length << 16) at `field`.
void put_dynamic(std::vector<char>& r, std::size_t field, std::size_t at, std::string_view text) {
    std::memcpy(r.data() + at, text.data(), text.size());
    put<std::uint32_t>(r, field, static_cast<std::uint32_t>(at | (text.size() << 16)));
}

std::vector<TraceEvent> decode_one(RawDecoder& decoder, const std::vector<char>& record, DecodeCounts* counts = nullptr) {
    PageBuilder page;
    page.add(0, record);
    auto bytes = page.finish(42);
    std::vector<TraceEvent> out;
    auto c = decoder.decode(0, bytes.data(), bytes.size(), out);
    if (counts) *counts = c;
    return out;
}

}  // namespace

TEST_CASE("raw decoder exports every format field by name: __data_loc strings, ints, signs", "[export][unit]") {
    auto decoder = generic_decoder();
    auto exec = event_record(32, 365, 11);
    put_dynamic(exec, 8, 20, std::string_view("/bin/true\0", 10));
    put<std::int32_t>(exec, 12, 11);
    put<std::int32_t>(exec, 16, 11);
    auto out = decode_one(*decoder, exec);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name() == "sched_process_exec");
    CHECK(out[0].pid == 11);
    CHECK(json_fields(out[0]) == boost::json::parse(R"({"filename":"/bin/true","pid":11,"old_pid":11})"));
    CHECK(out[0].details() == "filename=/bin/true pid=11 old_pid=11");

    auto signal = event_record(48, 261, 99);
    put<std::int32_t>(signal, 8, 9);
    put<std::int32_t>(signal, 16, -6);  // SI_TKILL
    std::memcpy(signal.data() + 20, "victim", 6);
    put<std::int32_t>(signal, 36, 1234);
    put<std::int32_t>(signal, 40, 1);
    put<std::int32_t>(signal, 44, 0);
    out = decode_one(*decoder, signal);
    REQUIRE(out.size() == 1);
    CHECK(json_fields(out[0]) ==
          boost::json::parse(R"({"sig":9,"errno":0,"code":-6,"comm":"victim","pid":1234,"group":1,"result":0})"));
    CHECK(out[0].details() == "sig=9 errno=0 code=-6 comm=victim pid=1234 grp=1 res=0");
    // Written by the sender (99) about its target: the event's subject is the target, whose
    // container owns it (common/target_events.h); an exec is about the task that wrote it.
    CHECK(out[0].pid == 99);
    CHECK(out[0].subject() == 1234);
    CHECK(decode_one(*decoder, exec)[0].subject() == 11);
    // A target field that names no task leaves the event to its writer.
    put<std::int32_t>(signal, 36, 0);
    CHECK(decode_one(*decoder, signal)[0].subject() == 99);
}

TEST_CASE("raw decoder exports byte arrays as arrays of numbers and unsigned fields as unsigned", "[export][unit]") {
    auto decoder = generic_decoder();
    auto sock = event_record(72, 2287, 5);
    put<std::uint64_t>(sock, 8, 0xffff888012345678ULL);
    put<std::int32_t>(sock, 16, 2);
    put<std::int32_t>(sock, 20, 1);
    put<std::uint16_t>(sock, 24, 40000);
    put<std::uint16_t>(sock, 26, 443);
    put<std::uint16_t>(sock, 28, 2);
    put<std::uint16_t>(sock, 30, 6);
    const unsigned char saddr[4] = {127, 0, 0, 1}, daddr[4] = {10, 1, 2, 250};
    std::memcpy(sock.data() + 32, saddr, 4);
    std::memcpy(sock.data() + 36, daddr, 4);
    sock[40 + 15] = static_cast<char>(0xff);
    auto out = decode_one(*decoder, sock);
    REQUIRE(out.size() == 1);
    auto fields = json_fields(out[0]).as_object();
    CHECK(fields.at("skaddr") == 0xffff888012345678ULL);
    CHECK(fields.at("sport") == 40000);
    CHECK(fields.at("oldstate") == 2);
    CHECK(fields.at("saddr") == boost::json::parse("[127,0,0,1]"));
    CHECK(fields.at("daddr") == boost::json::parse("[10,1,2,250]"));
    CHECK(fields.at("saddr_v6") == boost::json::parse("[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,255]"));
    CHECK(fields.at("daddr_v6").as_array().size() == 16);
    CHECK(fields.size() == 11);
}

TEST_CASE("raw decoder: damaged strings come out valid, and a record shorter than its format is not an event",
          "[export][unit]") {
    auto decoder = generic_decoder();
    // Not UTF-8, and a locator past the record's end.
    auto fork = event_record(32, 366, 10);
    put_dynamic(fork, 8, 24, std::string_view("a\xff" "b\0", 4));
    put<std::int32_t>(fork, 12, 10);
    put<std::uint32_t>(fork, 16, 200 | (8u << 16));
    put<std::int32_t>(fork, 20, 12);
    auto out = decode_one(*decoder, fork);
    REQUIRE(out.size() == 1);
    auto fields = json_fields(out[0]).as_object();
    CHECK(fields.at("parent_comm") == "a\xef\xbf\xbd" "b");
    CHECK(fields.at("child_comm") == "");
    CHECK(fields.at("child_pid") == 12);
    auto change = process_change(out[0]);
    REQUIRE(change);
    CHECK(change->kind == ProcessChange::kFork);
    CHECK(change->pid == 12);

    DecodeCounts counts;
    out = decode_one(*decoder, event_record(16, 261, 1), &counts);  // signal_generate needs 48 bytes
    CHECK(out.empty());
    CHECK(counts.unknown == 1);
    CHECK(counts.events == 0);
}

TEST_CASE("raw decoder walks long records, time extensions, discarded events and lost-event counts", "[export][unit]") {
    auto decoder = generic_decoder();
    auto exec = [](std::string_view file) {
        auto r = event_record(20 + ((file.size() + 4) & ~std::size_t{3}), 365, 11);
        put_dynamic(r, 8, 20, file);
        put<std::int32_t>(r, 12, 11);
        put<std::int32_t>(r, 16, 11);
        return r;
    };
    const std::string long_file = "/" + std::string(150, 'x');  // a 176-byte record
    PageBuilder page;
    page.add(10, exec("/a"));
    page.add_extend(5, 2);  // +5 + 2 << 27
    page.add_long(0, exec(long_file));
    page.add_discarded(7, 12);
    page.add(1, exec("/b"));
    auto bytes = page.finish(1000, (1ULL << 31) | (1ULL << 30), 42);
    std::vector<TraceEvent> out;
    auto counts = decoder->decode(0, bytes.data(), bytes.size(), out);
    CHECK(counts.events == 3);
    CHECK(counts.unknown == 0);
    CHECK(counts.missed == 42);
    CHECK(decoder->count(bytes.data(), bytes.size()) == 3);
    REQUIRE(out.size() == 3);
    CHECK(out[0].timestamp_ns == 1010);
    CHECK(out[1].timestamp_ns == 1010 + 5 + (2ULL << 27));
    CHECK(json_fields(out[1]).at("filename") == boost::json::value(long_file));
    CHECK(out[2].timestamp_ns == out[1].timestamp_ns + 7 + 1);
    CHECK(json_fields(out[2]).at("filename") == "/b");

    // libtraceevent's own page reader (kbuffer) finds the same records at the same times.
    {
        kbuffer* kbuf = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
        REQUIRE(kbuf);
        REQUIRE(kbuffer_load_subbuffer(kbuf, bytes.data()) == 0);
        CHECK(kbuffer_missed_events(kbuf) == 42);
        std::vector<unsigned long long> times;
        unsigned long long ts = 0;
        for (void* data = kbuffer_read_event(kbuf, &ts); data; data = kbuffer_next_event(kbuf, &ts)) times.push_back(ts);
        kbuffer_free(kbuf);
        REQUIRE(times.size() == out.size());
        for (std::size_t i = 0; i < times.size(); ++i) CHECK(times[i] == out[i].timestamp_ns);
    }

    // Cut anywhere, the page yields a prefix of its events and nothing else.
    for (std::size_t cut = 0; cut <= 16 + 300; ++cut) {
        std::vector<TraceEvent> part;
        decoder->decode(0, bytes.data(), cut, part);
        CHECK(part.size() <= 3);
        for (std::size_t i = 0; i < part.size(); ++i) CHECK(part[i].timestamp_ns == out[i].timestamp_ns);
    }
}

namespace {

// (pid, timestamp) of every data record of a page, as libtraceevent's kbuffer (trace-cmd's page
// reader) walks it; common_pid at offset 4.
std::vector<std::pair<std::int32_t, unsigned long long>> kbuffer_records(const std::vector<char>& page) {
    std::vector<std::pair<std::int32_t, unsigned long long>> out;
    kbuffer* kbuf = kbuffer_alloc(KBUFFER_LSIZE_8, KBUFFER_ENDIAN_LITTLE);
    REQUIRE(kbuf);
    REQUIRE(kbuffer_load_subbuffer(kbuf, const_cast<char*>(page.data())) == 0);
    unsigned long long ts = 0;
    for (void* data = kbuffer_read_event(kbuf, &ts); data; data = kbuffer_next_event(kbuf, &ts)) {
        std::int32_t pid;
        std::memcpy(&pid, static_cast<char*>(data) + 4, 4);
        out.emplace_back(pid, ts);
    }
    kbuffer_free(kbuf);
    return out;
}

// The same walk by our own PageReader.
std::vector<std::pair<std::int32_t, unsigned long long>> reader_records(const std::vector<char>& page) {
    std::vector<std::pair<std::int32_t, unsigned long long>> out;
    PageReader reader(page.data(), page.size(), 8);
    const char* body;
    std::size_t length;
    std::uint64_t ts;
    while (reader.next(body, length, ts)) {
        std::int32_t pid;
        std::memcpy(&pid, body + 4, 4);
        out.emplace_back(pid, ts);
    }
    return out;
}

}  // namespace

TEST_CASE("scope scrub hides a task's records in a page, the others keep their times for kbuffer and PageReader",
          "[record][unit]") {
    using ct::node::record::ExcludedEvents;
    using ct::node::record::scrub_page;
    constexpr std::int32_t kIn = 10, kOut = 99;
    PageBuilder page;
    page.add(0, event_record(16, 305, kOut));          // first record, 0 ns after the page: hidden with 1 ns
    page.add(2, event_record(16, 305, kIn));           // ... which this one gives back
    page.add(5, event_record(24, 305, kOut));
    page.add_long(0, event_record(140, 305, kOut));    // a long record, 0 ns apart
    page.add(4, event_record(16, 305, kIn));
    page.add_extend(3, 1);                       // +3 + 1 << 27
    page.add_discarded(7, 12);                   // the kernel's own discarded event
    page.add(1, event_record(16, 305, kOut));
    page.add(6, event_record(16, 305, kIn));
    auto original = page.finish(1000);
    const auto before = kbuffer_records(original);
    REQUIRE(before.size() == 7);
    REQUIRE(reader_records(original) == before);

    std::vector<std::pair<std::int32_t, unsigned long long>> kept;
    for (const auto& r : before)
        if (r.first == kIn) kept.push_back(r);

    SECTION("every record of the task") {
        auto bytes = original;
        CHECK(scrub_page(bytes.data(), bytes.size(), 8, 4, ExcludedEvents({{kOut, 0, ~0ull}})) == 4);
        CHECK(kbuffer_records(bytes) == kept);
        CHECK(reader_records(bytes) == kept);
        // Nothing of a hidden record is left: its bytes after the length word are zero.
        std::size_t out_pids = 0;
        for (std::size_t i = 16; i + 4 <= bytes.size(); i += 4) {
            std::int32_t v;
            std::memcpy(&v, bytes.data() + i, 4);
            out_pids += v == kOut;
        }
        CHECK(out_pids == 0);
        // The decoder sees the kept events only.
        auto decoder = RawDecoder::from_formats(kHeaderPage, {});
        REQUIRE(decoder);
        CHECK((*decoder)->count(bytes.data(), bytes.size()) == kept.size());
    }
    SECTION("only within its span of time; other tasks and no spans change nothing") {
        auto bytes = original;
        const auto first = before[0].second;  // the first record (the long one shares the 24-byte one's time)
        CHECK(scrub_page(bytes.data(), bytes.size(), 8, 4, ExcludedEvents({{kOut, first, first}})) == 1);
        auto expected = before;
        expected.erase(expected.begin());
        CHECK(kbuffer_records(bytes) == expected);
        auto untouched = original;
        CHECK(scrub_page(untouched.data(), untouched.size(), 8, 4, ExcludedEvents({{kIn + 1, 0, ~0ull}})) == 0);
        CHECK(scrub_page(untouched.data(), untouched.size(), 8, 4, ExcludedEvents()) == 0);
        CHECK(untouched == original);
    }
}

TEST_CASE("excluded spans: merged per task, looked up by time, kept as JSON lines", "[record][unit]") {
    using namespace ct::node::record;
    ExcludedEvents spans({{7, 100, 200}, {7, 150, 300}, {7, 500, 600}, {8, 10, 10}});
    CHECK(spans.contains(7, 100));
    CHECK(spans.contains(7, 300));
    CHECK_FALSE(spans.contains(7, 301));
    CHECK_FALSE(spans.contains(7, 99));
    CHECK(spans.contains(7, 550));
    CHECK(spans.contains(8, 10));
    CHECK_FALSE(spans.contains(8, 11));
    CHECK_FALSE(spans.contains(9, 150));
    CHECK_FALSE(ExcludedEvents().contains(7, 150));

    ExcludedSpan span{4242, 1'000'000'000'123, 1'000'000'000'456};
    auto line = encode_excluded(span);
    CHECK(line == R"({"Tid":4242,"From":1000000000123,"To":1000000000456})");
    auto back = decode_excluded(line);
    REQUIRE(back);
    CHECK(*back == span);
    CHECK_FALSE(decode_excluded(R"({"Tid":0,"From":1,"To":2})"));
    CHECK_FALSE(decode_excluded(R"({"Tid":5,"From":3,"To":2})"));
    CHECK_FALSE(decode_excluded(R"({"Tid":5,"From":3})"));
    CHECK_FALSE(decode_excluded("[1,2]"));

    // A task's out-of-scope events grow one span until an exported event of it closes the span.
    ExcludedSpanBuilder builder;
    CHECK(builder.out_of_scope(7, 100) == 0);
    CHECK(builder.out_of_scope(8, 110) == 1);
    CHECK(builder.out_of_scope(7, 120) == 0);
    builder.in_scope(7);
    CHECK(builder.out_of_scope(7, 130) == 2);
    CHECK(builder.spans() == std::vector<ExcludedSpan>{{7, 100, 120}, {8, 110, 110}, {7, 130, 130}});

    CHECK(commit_bytes_of(kHeaderPage) == 8);
    CHECK(common_pid_offset({kEnterOpenat}) == 4);
    CHECK(common_pid_offset({kEnterOpenat, "name: x\nformat:\n\tfield:int common_pid;\toffset:8;\tsize:4;\n"}) == -1);
    CHECK(common_pid_offset({"no pid here"}) == -1);
}
