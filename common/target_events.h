// Target-scoped tracepoints: what the trace_events hook (trace-hooks/ftrace) and tracer-node's
// capture (tracer-node/capture) agree on about events the kernel writes in one task's context
// about another task (docs/hooks.md, "trace_events"). The hook keeps such events in a companion
// instance `<main instance>kCompanionSuffix`, filtered by the target field; tracer-node reads
// that instance with the main one and attributes each of its events to the task the target field
// names. One table for both sides: extend it here. Pure constants; any thread.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace ct {

struct TargetScopedEvent {
    std::string_view system;
    std::string_view name;
    std::string_view field;  // the integer field naming the task the event is about
};

inline constexpr std::array<TargetScopedEvent, 2> kTargetScopedEvents = {{
    {"signal", "signal_generate", "pid"},  // written by the sender; `pid` is the signal's target
    {"oom", "mark_victim", "pid"},         // written by the OOM killer; `pid` is the victim
}};

// The target field of `system:name`, or nullopt for an event written by the task it is about.
constexpr std::optional<std::string_view> target_field(std::string_view system, std::string_view name) {
    for (const auto& e : kTargetScopedEvents)
        if (e.system == system && e.name == name) return e.field;
    return std::nullopt;
}

// What a companion instance's name adds to its main instance's name.
inline constexpr std::string_view kCompanionSuffix = "_t";

}  // namespace ct
