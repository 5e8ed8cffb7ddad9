// Test helpers for the viewer exports (docs/viewers.md): real trace-cmd reading a trace.dat, and
// a real trace viewer's parser (npm @paulirish/trace_engine, Chrome DevTools' trace model)
// loading a trace.json. Both tools come from scripts/deps.sh / scripts/trace-engine.sh.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tracer-node/capture/raw_decode.h"

namespace ct::test {

// A ring-buffer sub-buffer built by hand, as the kernel lays it out (header_page: u64 timestamp,
// u64 commit, data): records of a 4-byte header (type_len = data words 1..28, time delta << 5)
// and their data. finish() pads it to `page_size`.
class RingPage {
public:
    explicit RingPage(std::uint64_t timestamp_ns);
    // Appends a record `delta_ns` after the previous one (or the page's timestamp); false when it
    // does not fit in a page of `page_size`.
    bool add(std::uint32_t delta_ns, const std::string& data, std::size_t page_size = 4096);
    std::string finish(std::size_t page_size = 4096) const;
    std::uint64_t last_ns() const { return last_ns_; }

private:
    std::string bytes_;
    std::uint64_t last_ns_;
};

// The record of a syscall event: common fields (type, pid), __syscall_nr, then `tail` bytes.
std::string syscall_record(std::uint16_t type, pid_t pid, std::int32_t nr, const std::string& tail = {});

// The kernel's own texts (6.x, x86_64) for hand-built recordings: the ring buffer's header_page
// and header_event, and the formats of ftrace/print (ID 5), syscalls/sys_enter_getppid (305) and
// syscalls/sys_exit_getppid (304).
extern const char* const kHeaderPage;
extern const char* const kHeaderEvent;
std::vector<ct::node::EventFormat> getppid_formats();

// Pages of `pairs` getppid enter/exit pairs of `pid`, 700 ns apart from `start_ns`, the exits
// returning `ret(i)`; what each event's timestamp is goes to `timestamps` (enter, exit, ...).
std::vector<std::string> getppid_pages(pid_t pid, int pairs, std::uint64_t start_ns,
                                       const std::function<std::int64_t(int)>& ret,
                                       std::vector<std::uint64_t>* timestamps = nullptr);

// A directory tree shaped like tracefs for an instance with the getppid events enabled on
// `cpus` CPUs: <root>/events/... and <root>/instances/inst/...; returns the instance directory.
std::string fake_tracefs_instance(const std::string& root, int cpus);

// One event line of `trace-cmd report -t` ("comm-pid [cpu] secs.nanos: event: details").
struct ReportLine {
    std::string comm;
    pid_t pid = 0;
    int cpu = -1;
    std::uint64_t timestamp_ns = 0;
    std::string event;
    std::string details;
};

// Pure: the event lines of a report; other lines (cpus=N, headers) are skipped.
std::vector<ReportLine> parse_trace_cmd_report(const std::string& text);

// Runs `trace-cmd <args...>`; REQUIREs exit 0 and returns stdout (stderr is added to the
// failure message).
std::string trace_cmd(const std::vector<std::string>& args);

// Loads `json_path` with trace_engine (installed into the build tree on first use) and returns
// its summary as JSON text: {"threads":[{"pid","tid","name","entries":{"<name>":count}}],
// "bounds":{"min","max"}}. REQUIREs the load to succeed (the parser throws on bad input).
std::string trace_engine_summary(const std::string& json_path);

}  // namespace ct::test
