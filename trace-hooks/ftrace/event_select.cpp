#include "trace-hooks/ftrace/event_select.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/glob.h"
#include "common/strings.h"
#include "common/target_events.h"

namespace ct::hooks::ftrace {
namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

bool is_glob(std::string_view pattern) { return pattern.find_first_of("*?[") != std::string_view::npos; }

std::string full_name(const EventName& e) { return fmt::format("{}:{}", e.system, e.name); }

// Levenshtein distance, for suggesting the event a typo meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

// " (did you mean sched:sched_process_exec?)" when a known event is a few edits away.
std::string suggestion(std::string_view wanted, const std::vector<EventName>& available) {
    constexpr std::size_t kMaxEdits = 3;
    std::size_t best = kMaxEdits + 1;
    std::string best_name;
    for (const auto& e : available) {
        auto name = full_name(e);
        if (auto d = edit_distance(wanted, name); d < best) {
            best = d;
            best_name = std::move(name);
        }
    }
    return best <= kMaxEdits ? fmt::format(" (did you mean {}?)", best_name) : std::string();
}

}  // namespace

std::vector<EventName> parse_available_events(std::string_view text) {
    std::vector<EventName> out;
    for (const auto& line : split_any(text, "\n")) {
        auto entry = trim(line);
        auto colon = entry.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) continue;
        out.push_back({std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1))});
    }
    std::ranges::sort(out);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<std::string_view> target_field(const EventName& event) {
    return ct::target_field(event.system, event.name);
}

Result<std::vector<SelectedEvent>> select_events(const std::vector<EventRequest>& requests,
                                                 const std::vector<EventName>& available) {
    std::map<EventName, std::pair<std::string, std::string>> chosen;  // event -> (filter, pattern)
    for (const auto& request : requests) {
        const std::string_view pattern = request.pattern;
        const auto colon = pattern.find(':');
        if (colon == std::string_view::npos || pattern.find(':', colon + 1) != std::string_view::npos || colon == 0 ||
            colon + 1 == pattern.size())
            return bad(fmt::format("invalid event \"{}\": expected SYSTEM:EVENT, e.g. sched:sched_process_exec or "
                                   "'signal:*'",
                                   pattern));
        const auto system = pattern.substr(0, colon);
        const auto name = pattern.substr(colon + 1);
        std::size_t matches = 0;
        for (const auto& e : available) {
            if (!glob_match(system, e.system) || !glob_match(name, e.name)) continue;
            ++matches;
            if (request.filter.size() && e.system == "sched" && e.name == kForkEvent)
                return bad(fmt::format("-f on sched:{} (from -e {}): tracer-node needs every fork to tell which "
                                       "container a new process belongs to; filter the other events instead",
                                       kForkEvent, pattern));
            auto [it, fresh] = chosen.try_emplace(e, request.filter, request.pattern);
            if (!fresh && it->second.first != request.filter)
                return bad(fmt::format("event {} is selected by -e {} and by -e {} with different filters",
                                       full_name(e), it->second.second, pattern));
        }
        if (matches == 0) {
            if (is_glob(pattern))
                return bad(fmt::format("event pattern \"{}\" matches no event of this kernel", pattern));
            return bad(fmt::format("unknown event \"{}\"{}", pattern, suggestion(pattern, available)));
        }
    }
    std::vector<SelectedEvent> out;
    out.reserve(chosen.size());
    for (auto& [event, filter_and_pattern] : chosen) {
        auto scope = target_field(event) ? EventScope::kTarget : EventScope::kTask;
        out.push_back({event, std::move(filter_and_pattern.first), scope});
    }
    return out;
}

std::vector<std::string> describe_events(const std::vector<EventName>& available) {
    std::vector<std::string> out = {
        "Trace any kernel tracepoints of the given containers, each event with all its fields",
        "-e, --event SYSTEM:EVENT : an event to trace, repeatable; shell globs allowed, e.g. -e 'sched:sched_process_*'",
        "-f, --filter FILTER : an ftrace filter for the -e right before it, e.g. -e signal:signal_generate -f 'sig == 10'",
        "  (fields of the event's format; && || ! ( ) == != < <= > >= & ~; it only narrows what is traced)",
        "-t, --time TIME : Duration of the trace in milliseconds, optional argument",
        fmt::format("-b, --buffer-kb KB : per-CPU ring buffer (default {}, at most {})", kDefaultBufferKb, kMaxBufferKb),
        "Events are traced for the containers' processes and their children; signal:signal_generate and",
        "oom:mark_victim for the processes they are sent to / chosen as victim, whoever causes them.",
    };
    if (available.empty()) {
        out.push_back("No events could be listed (tracefs is not readable here).");
        return out;
    }
    std::size_t systems = 0;
    for (std::size_t k = 0; k < available.size(); ++k) systems += k == 0 || available[k].system != available[k - 1].system;
    out.push_back(fmt::format("Events of this kernel ({} in {} systems): SYSTEM (count): EVENT, ...", available.size(),
                              systems));
    for (auto it = available.begin(); it != available.end();) {
        auto end = std::find_if(it, available.end(), [&](const EventName& e) { return e.system != it->system; });
        const auto count = static_cast<std::size_t>(end - it);
        std::vector<std::string_view> names;
        for (auto e = it; e != end && names.size() < kListedPerSystem; ++e) names.push_back(e->name);
        std::string line = fmt::format("{} ({}): {}", it->system, count, fmt::join(names, ", "));
        if (count > names.size()) line += fmt::format(", ... ({} more: -e '{}:*' takes all)", count - names.size(), it->system);
        out.push_back(std::move(line));
        it = end;
    }
    return out;
}

}  // namespace ct::hooks::ftrace
