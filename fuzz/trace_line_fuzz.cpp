// ftrace's text output, one line per input (trace_line_parse.h): parse_trace_line, then what the
// pipeline does with an event (process_change, EventJsonWriter). The JSON must parse (and so be UTF-8).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "tracer-node/capture/trace_line_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ct::node;
    TextEventTypes types;  // the event points to its type: it lives for this input
    auto event = parse_trace_line({reinterpret_cast<const char*>(data), size}, types);
    if (!event) return 0;
    (void)process_change(*event);
    const EventContext context{"fuzz-node", "42", "trace_syscalls", "fuzz"};
    const EventOwner owner{"pod", "default", "container"};
    std::string json;
    EventJsonWriter(context).append(json, *event, &owner);
    boost::system::error_code ec;
    (void)boost::json::parse(json, ec);
    if (ec) __builtin_trap();  // an exported event must be valid JSON
    return 0;
}
