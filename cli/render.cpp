#include "cli/render.h"

#include <algorithm>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace ct::cli {

namespace json = boost::json;

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// A member as text: strings as they are, null/absent as "-", numbers in JSON.
std::string member_text(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return "-";
    if (v->is_string()) return std::string(v->as_string());
    return json::serialize(*v);
}

// "1813.739531000" -> "1813.739531": microseconds are enough to read, nanoseconds stay in -o json.
std::string short_time(std::string t) {
    auto dot = t.find('.');
    if (dot != std::string::npos && t.size() > dot + 7) t.resize(dot + 7);
    return t;
}

}  // namespace

std::string pid_list(const std::vector<pid_t>& pids, size_t limit) {
    std::string out;
    for (size_t i = 0; i < pids.size() && i < limit; ++i) out += (i ? "," : "") + std::to_string(pids[i]);
    if (pids.size() > limit) out += fmt::format(" +{}", pids.size() - limit);
    return out.empty() ? "-" : out;
}

std::string pods_table(std::vector<ContainerEntry> containers) {
    std::sort(containers.begin(), containers.end(), [](const auto& a, const auto& b) {
        return std::tie(a.node, a.pod_namespace, a.pod, a.name) < std::tie(b.node, b.pod_namespace, b.pod, b.name);
    });
    Table t({"NODE", "NAMESPACE", "POD", "CONTAINER", "PIDS"});
    for (const auto& c : containers)
        t.add_row({or_dash(c.node), or_dash(c.pod_namespace), c.pod, c.name, pid_list(c.tasks)});
    return t.render();
}

std::string hooks_table(const std::vector<HookEntry>& hooks) {
    Table t({"HOOK", "MANAGER", "DESCRIPTION"});
    for (const auto& h : hooks) t.add_row({h.name, h.manager, h.description.empty() ? "" : h.description.front()});
    return t.render();
}

std::string sessions_table(const std::vector<SessionEntry>& sessions) {
    Table t({"ID", "NODE", "HOOK", "RUNNING", "DELIVERED", "LOST", "CONTEXT", "CONTAINERS"});
    auto count = [](const std::optional<std::uint64_t>& n) { return n ? std::to_string(*n) : std::string("-"); };
    for (const auto& s : sessions) {
        std::string containers;
        for (const auto& [pod, name] : s.containers) containers += (containers.empty() ? "" : ",") + pod + "/" + name;
        t.add_row({s.id, or_dash(s.node), s.hook, s.running ? "yes" : "no", count(s.delivered), count(s.lost),
                   or_dash(s.context), or_dash(containers)});
    }
    return t.render();
}

json::object filter_pods(const json::object& answer, const PodSelector& selector) {
    auto containers = parse_pods(answer);
    json::object out;
    if (!containers) return out;
    for (const auto& c : *containers)
        if (!out.contains(c.pod_key) && selector.matches(c.pod_key, c.pod, c.pod_namespace))
            out[c.pod_key] = answer.at(c.pod_key);
    return out;
}

std::vector<ContainerEntry> filter_containers(std::vector<ContainerEntry> containers, const PodSelector& selector) {
    std::erase_if(containers, [&](const ContainerEntry& c) { return !selector.matches(c.pod_key, c.pod, c.pod_namespace); });
    return containers;
}

EventColumns::EventColumns()
    : table_({"TIME", "NODE", "POD", "CONTAINER", "PID", "COMM", "EVENT", "DETAILS"}, {15, 8, 16, 10, 7, 15, 20, 0}) {}

std::string EventColumns::row(std::string_view json_line) {
    boost::system::error_code ec;
    auto v = json::parse(json_line, ec);
    if (ec || !v.is_object()) return terminal_safe(json_line) + "\n";
    const auto& e = v.as_object();
    return table_.row({short_time(member_text(e, "timestamp")), member_text(e, "node"), member_text(e, "pod"),
                       member_text(e, "container"), member_text(e, "pid"), member_text(e, "task"),
                       member_text(e, "event"), member_text(e, "details")});
}

}  // namespace ct::cli
