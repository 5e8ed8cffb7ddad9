#include "tests/support/viewer_tools.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/subprocess.h"

namespace ct::test {

const char* const kHeaderPage =
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

const char* const kHeaderEvent =
    "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n"
    "\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n";

namespace {

const char* const kCommon =
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

void write_text(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

}  // namespace

std::vector<ct::node::EventFormat> getppid_formats() {
    return {{"ftrace", "print",
             std::string("name: print\nID: 5\nformat:\n") + kCommon +
                 "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n"
                 "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n\n"
                 "print fmt: \"%ps: %s\", (void *)REC->ip, REC->buf\n"},
            {"syscalls", "sys_enter_getppid",
             std::string("name: sys_enter_getppid\nID: 305\nformat:\n") + kCommon +
                 "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n"},
            {"syscalls", "sys_exit_getppid",
             std::string("name: sys_exit_getppid\nID: 304\nformat:\n") + kCommon +
                 "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
                 "\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\nprint fmt: \"0x%lx\", REC->ret\n"}};
}

std::vector<std::string> getppid_pages(pid_t pid, int pairs, std::uint64_t start_ns,
                                       const std::function<std::int64_t(int)>& ret,
                                       std::vector<std::uint64_t>* timestamps) {
    std::vector<std::string> pages;
    RingPage page(start_ns);
    for (int i = 0; i < pairs * 2; ++i) {
        std::string rec;
        if (i % 2 == 0) {
            rec = syscall_record(305, pid, 110, std::string(4, '\0'));
        } else {
            std::int64_t value = ret(i / 2);
            std::string tail(4, '\0');
            tail.append(reinterpret_cast<const char*>(&value), 8);
            rec = syscall_record(304, pid, 110, tail);
        }
        std::uint32_t delta = i == 0 ? 0 : 700;
        if (!page.add(delta, rec)) {
            pages.push_back(page.finish());
            page = RingPage(page.last_ns() + delta);
            page.add(0, rec);
        }
        if (timestamps) timestamps->push_back(page.last_ns());
    }
    pages.push_back(page.finish());
    return pages;
}

std::string fake_tracefs_instance(const std::string& root, int cpus) {
    namespace fs = std::filesystem;
    fs::path tracing(root);
    write_text(tracing / "events/header_page", kHeaderPage);
    write_text(tracing / "events/header_event", kHeaderEvent);
    for (const auto& f : getppid_formats()) write_text(tracing / "events" / f.system / f.name / "format", f.text);
    auto inst = tracing / "instances/inst";
    write_text(inst / "set_event", "syscalls:sys_enter_getppid\nsyscalls:sys_exit_getppid\n");
    write_text(inst / "trace_clock", "[local] global counter uptime perf mono mono_raw boot tai x86-tsc\n");
    for (int c = 0; c < cpus; ++c) {
        auto dir = inst / "per_cpu" / ("cpu" + std::to_string(c));
        write_text(dir / "trace_pipe_raw", "");
        write_text(dir / "stats", "entries: 0\noverrun: 0\nnow ts:  5721.825704\ndropped events: 0\n");
    }
    return inst.string();
}

RingPage::RingPage(std::uint64_t timestamp_ns) : bytes_(16, '\0'), last_ns_(timestamp_ns) {
    std::memcpy(bytes_.data(), &timestamp_ns, 8);
}

bool RingPage::add(std::uint32_t delta_ns, const std::string& data, std::size_t page_size) {
    if (data.size() % 4 != 0 || data.size() / 4 > 28 || delta_ns >= (1u << 27)) return false;
    if (bytes_.size() + 4 + data.size() > page_size) return false;
    std::uint32_t header = static_cast<std::uint32_t>(data.size() / 4) | (delta_ns << 5);
    bytes_.append(reinterpret_cast<const char*>(&header), 4);
    bytes_ += data;
    last_ns_ += delta_ns;
    return true;
}

std::string RingPage::finish(std::size_t page_size) const {
    std::string page = bytes_;
    std::uint64_t commit = page.size() - 16;
    std::memcpy(page.data() + 8, &commit, 8);
    page.resize(page_size, '\0');
    return page;
}

std::string syscall_record(std::uint16_t type, pid_t pid, std::int32_t nr, const std::string& tail) {
    std::string r(12, '\0');
    std::memcpy(r.data(), &type, 2);
    std::memcpy(r.data() + 4, &pid, 4);
    std::memcpy(r.data() + 8, &nr, 4);
    return r + tail;
}

std::vector<ReportLine> parse_trace_cmd_report(const std::string& text) {
    // "            loop-4242  [000] 12345.000001000: sys_enter_getppid:    details"
    static const std::regex line_re(R"(^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+([^:\s]+):\s?(.*)$)");
    std::vector<ReportLine> out;
    std::istringstream in(text);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (!std::regex_match(line, m, line_re)) continue;
        out.push_back({m[1].str(), static_cast<pid_t>(std::stol(m[2].str())), std::stoi(m[3].str()),
                       std::stoull(m[4].str()) * 1'000'000'000ULL + std::stoull(m[5].str()), m[6].str(), m[7].str()});
    }
    return out;
}

std::string trace_cmd(const std::vector<std::string>& args) {
    SpawnOptions o;
    o.argv = {"trace-cmd"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    auto r = run_capture(o, std::chrono::seconds(120), 256u << 20);
    REQUIRE(r);
    INFO("trace-cmd stderr: " << r->err);
    REQUIRE(r->status.ok());
    return r->out;
}

std::string trace_engine_summary(const std::string& json_path) {
    const std::string tools = std::string(CT_BINARY_DIR) + "/tools";
    SpawnOptions install;
    install.argv = {"bash", std::string(CT_SOURCE_DIR) + "/scripts/trace-engine.sh", tools};
    auto dir = run_capture(install, std::chrono::minutes(5));
    REQUIRE(dir);
    INFO("trace-engine.sh: " << dir->err);
    REQUIRE(dir->status.ok());
    std::string module = dir->out;
    while (!module.empty() && (module.back() == '\n' || module.back() == ' ')) module.pop_back();
    SpawnOptions run;
    run.argv = {"node", std::string(CT_SOURCE_DIR) + "/tests/support/trace_engine_summary.mjs", json_path};
    run.extra_env = {"TRACE_ENGINE=" + module};
    auto r = run_capture(run, std::chrono::minutes(5), 64u << 20);
    REQUIRE(r);
    INFO("trace_engine stderr: " << r->err);
    REQUIRE(r->status.ok());
    return r->out;
}

}  // namespace ct::test
