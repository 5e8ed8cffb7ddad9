// Pure parser for ftrace's text output (trace / trace_pipe), default "irq-info" layout:
//   "          <comm>-<pid>     [<cpu>] <flags> <secs>.<usecs>: <event>: <details>"
// Syscall events print without an event name: "sys_getppid()" (enter, with "arg: value, ...")
// and "sys_getppid -> 0x4d2" (exit); they are normalised to sys_enter_X / sys_exit_X with
// fields {"args": {...}} or {"ret": n}.
#pragma once

#include <optional>
#include <string_view>

#include "tracer-node/export/trace_event.h"

namespace ct::node {

// nullopt for lines that are not events (comments "# ...", "CPU 1 buffer started", blanks).
std::optional<TraceEvent> parse_trace_line(std::string_view line);

}  // namespace ct::node
