#include "tracer-node/api/render.h"

#include "common/strings.h"

namespace ct::node {

namespace json = boost::json;

namespace {

json::array pids(const std::vector<Pid>& list) {
    json::array a;
    for (Pid p : list) a.emplace_back(p);
    return a;
}

json::value lines_or_null(const std::optional<std::vector<std::string>>& lines) {
    if (!lines) return nullptr;
    json::array a;
    for (const auto& l : *lines) a.emplace_back(l);
    return a;
}

}  // namespace

json::object render_pods(const PodMap& pods, std::string_view node_name) {
    json::object out;
    for (const auto& [key, pod] : pods) {
        json::object containers;
        for (const auto& [name, c] : pod.containers) {
            json::object o{{"Id", c.name}, {"Parent", pids(c.parents)}, {"Pod", c.pod}, {"Tasks", pids(c.tasks)}};
            if (!c.pod_namespace.empty()) o["Namespace"] = c.pod_namespace;
            if (!c.runtime_id.empty()) o["RuntimeId"] = c.runtime_id;
            if (!node_name.empty()) o["Node"] = node_name;
            containers[name] = std::move(o);
        }
        out[key] = json::object{{"Containers", std::move(containers)}};
    }
    return out;
}

json::object render_hooks(const std::vector<HookInfo>& hooks) {
    json::object out;
    for (const auto& h : hooks) {
        auto& group = out[h.group];
        if (!group.is_object()) group = json::object{{"Tracers", json::object{}}};
        json::array description;
        for (const auto& line : h.description) description.emplace_back(line);
        group.as_object()["Tracers"].as_object()[h.name] =
            json::object{{"Description", std::move(description)}, {"Name", h.name}};
    }
    return out;
}

json::object render_stats(const SessionStats& st) {
    json::object exporters;
    for (const auto& [kind, c] : st.exporters)
        exporters[kind] = json::object{{"Exported", c.exported}, {"Dropped", c.dropped}, {"Errors", c.errors}};
    return json::object{{"Delivered", st.delivered},     {"Lost", st.lost},
                        {"Overrun", st.overrun},         {"Dropped", st.dropped},
                        {"Unparsed", st.unparsed},       {"QueueDropped", st.queue_dropped},
                        {"OutOfScope", st.out_of_scope}, {"Runs", st.runs},
                        {"Exporters", std::move(exporters)}};
}

json::object render_session(const SessionView& s) {
    json::object containers;
    for (const auto& [pod, names] : s.containers) {
        json::array a;
        for (const auto& n : names) a.emplace_back(n);
        containers[pod] = std::move(a);
    }
    json::array params;
    for (const auto& p : split_whitespace(s.spec.args)) params.emplace_back(p);
    return json::object{
        {"Containers", std::move(containers)},
        {"Context", s.spec.context},
        {"Error", lines_or_null(s.error)},
        {"Id", std::to_string(s.id)},
        {"Node", s.node},
        {"Output", lines_or_null(s.output)},
        {"Running", s.running},
        {"TraceHook", s.spec.hook},
        {"TraceParams", std::move(params)},
        {"Stats", render_stats(s.stats)},
        // Extensions (docs/flight-recorder.md).
        {"TraceMode", api::trace_mode_name(s.spec.mode)},
        {"RingSize", s.spec.ring_size.empty() ? json::value(nullptr) : json::value(s.spec.ring_size)},
    };
}

json::object render_sessions(const std::vector<SessionView>& sessions) {
    json::object out;
    for (const auto& s : sessions) out[std::to_string(s.id)] = render_session(s);
    return out;
}

}  // namespace ct::node
