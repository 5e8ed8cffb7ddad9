// The raw ring-buffer decoder (capture/raw_decode.h) on arbitrary sub-buffers. Event formats are
// this kernel's own texts (fuzz/data/raw_formats, copied from /sys/kernel/tracing/events); seeds
// are real trace_pipe_raw pages. Input: byte 0 picks the decoder (syscalls or sched formats) and
// the CPU; the rest is one sub-buffer, passed with its real length as RawCapture does. Every
// decoded event must export as valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tracer-node/capture/raw_decode.h"
#include "tracer-node/capture/trace_line_parse.h"

namespace {

using namespace ct::node;

std::string read_format(const std::string& name) {
    std::ifstream in(std::string(CT_FUZZ_DATA_DIR "/raw_formats/") + name);
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().empty()) std::abort();  // a missing fixture is a setup error, not a finding
    return text.str();
}

std::unique_ptr<RawDecoder> make_decoder(const std::vector<std::string>& events, const std::string& system) {
    std::vector<EventFormat> formats;
    for (const auto& e : events) formats.push_back({system, e, read_format(e + ".format")});
    auto decoder = RawDecoder::from_formats(read_format("header_page"), formats);
    if (!decoder) std::abort();
    return std::move(*decoder);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static RawDecoder* decoders[2] = {
        make_decoder({"sys_enter_openat", "sys_exit_openat", "sys_enter_getppid", "sys_exit_getppid",
                      "sys_enter_write", "sys_exit_write"},
                     "syscalls")
            .release(),
        make_decoder({"sched_process_fork", "sched_process_exec", "sched_process_exit", "sched_switch"}, "sched")
            .release(),
    };
    if (size == 0) return 0;
    RawDecoder& decoder = *decoders[data[0] & 1];
    const int cpu = data[0] >> 1;
    // A private copy with the input's exact length, so reads past the sub-buffer are caught.
    std::vector<std::uint8_t> subbuf(data + 1, data + size);
    std::vector<TraceEvent> events;
    auto counts = decoder.decode(cpu, subbuf.data(), subbuf.size(), events);
    if (counts.events != events.size()) __builtin_trap();
    const EventContext context{"fuzz-node", "42", "trace_syscalls", "fuzz"};
    EventJsonWriter writer(context);
    for (const auto& e : events) {
        (void)process_change(e);  // what capture does with lifecycle events
        std::string json;
        writer.append(json, e, nullptr);
        boost::system::error_code ec;
        (void)boost::json::parse(json, ec);
        if (ec) __builtin_trap();  // an exported event must be valid JSON
    }
    auto records = decoder.count(subbuf.data(), subbuf.size());
    if (records < counts.events + counts.unknown) __builtin_trap();  // count() sees every record decode() saw
    return 0;
}
