#include "cli/model.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace ct::cli {

namespace json = boost::json;

namespace {

Error shape_error(std::string_view what, std::string_view where) {
    return Error{Errc::kInvalidArgument, fmt::format("unexpected answer: {} in {}", what, where)};
}

std::string string_or(const json::object& o, std::string_view key, std::string fallback = {}) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return fallback;
    return std::string(it->value().as_string());
}

std::optional<std::uint64_t> count_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (it->value().is_uint64()) return it->value().as_uint64();
    if (it->value().is_int64() && it->value().as_int64() >= 0) return static_cast<std::uint64_t>(it->value().as_int64());
    return std::nullopt;
}

std::vector<std::string> strings_of(const json::value& v) {
    std::vector<std::string> out;
    if (v.is_string()) out.emplace_back(v.as_string());
    if (v.is_array())
        for (const auto& item : v.as_array())
            out.push_back(item.is_string() ? std::string(item.as_string()) : json::serialize(item));
    return out;
}

}  // namespace

Result<std::vector<ContainerEntry>> parse_pods(const json::value& answer) {
    if (!answer.is_object()) return std::unexpected(shape_error("not an object", "GET /v1/pods"));
    std::vector<ContainerEntry> out;
    for (const auto& [key, pod] : answer.as_object()) {
        const json::object* containers = nullptr;
        if (pod.is_object())
            if (auto it = pod.as_object().find("Containers"); it != pod.as_object().end() && it->value().is_object())
                containers = &it->value().as_object();
        if (!containers) return std::unexpected(shape_error(fmt::format("pod \"{}\" without Containers", std::string(key)), "GET /v1/pods"));
        for (const auto& [name, c] : *containers) {
            if (!c.is_object()) continue;
            const auto& o = c.as_object();
            ContainerEntry e{.pod_key = std::string(key),
                             .pod = string_or(o, "Pod", std::string(key)),
                             .name = std::string(name),
                             .pod_namespace = string_or(o, "Namespace"),
                             .node = string_or(o, "Node")};
            if (auto t = o.find("Tasks"); t != o.end() && t->value().is_array()) {
                for (const auto& pid : t->value().as_array()) {
                    if (pid.is_int64()) e.tasks.push_back(static_cast<pid_t>(pid.as_int64()));
                    else if (pid.is_uint64()) e.tasks.push_back(static_cast<pid_t>(pid.as_uint64()));
                }
            }
            out.push_back(std::move(e));
        }
    }
    return out;
}

Result<std::vector<SessionEntry>> parse_sessions(const json::value& answer) {
    if (!answer.is_object()) return std::unexpected(shape_error("not an object", "a trace session answer"));
    std::vector<SessionEntry> out;
    for (const auto& [key, value] : answer.as_object()) {
        if (!value.is_object())
            return std::unexpected(shape_error(fmt::format("session \"{}\" is not an object", std::string(key)),
                                               "a trace session answer"));
        const auto& o = value.as_object();
        SessionEntry s{.id = string_or(o, "Id", std::string(key)),
                       .node = string_or(o, "Node"),
                       .hook = string_or(o, "TraceHook"),
                       .context = string_or(o, "Context")};
        if (auto it = o.find("Running"); it != o.end() && it->value().is_bool()) s.running = it->value().as_bool();
        if (auto it = o.find("Containers"); it != o.end() && it->value().is_object())
            for (const auto& [pod, names] : it->value().as_object())
                for (const auto& name : strings_of(names)) s.containers.emplace_back(std::string(pod), name);
        if (auto it = o.find("TraceParams"); it != o.end()) s.params = strings_of(it->value());
        if (auto it = o.find("Error"); it != o.end()) s.error = strings_of(it->value());
        if (auto it = o.find("Stats"); it != o.end() && it->value().is_object()) {
            const auto& stats = it->value().as_object();
            s.delivered = count_at(stats, "Delivered");
            s.lost = count_at(stats, "Lost");
            if (auto* stream = stats.if_contains("Exporters"); stream && stream->is_object())
                if (auto* st = stream->as_object().if_contains("stream"); st && st->is_object())
                    s.stream_dropped = count_at(st->as_object(), "Dropped");
        }
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::vector<HookEntry>> parse_hooks(const json::value& answer) {
    if (!answer.is_object()) return std::unexpected(shape_error("not an object", "GET /v1/trace-hooks"));
    std::vector<HookEntry> out;
    for (const auto& [manager, value] : answer.as_object()) {
        const json::value* tracers = value.is_object() ? value.as_object().if_contains("Tracers") : nullptr;
        if (!tracers || !tracers->is_object())
            return std::unexpected(
                shape_error(fmt::format("\"{}\" without Tracers", std::string(manager)), "GET /v1/trace-hooks"));
        for (const auto& [name, hook] : tracers->as_object()) {
            HookEntry h{.manager = std::string(manager), .name = std::string(name)};
            if (hook.is_object())
                if (auto* d = hook.as_object().if_contains("Description")) h.description = strings_of(*d);
            out.push_back(std::move(h));
        }
    }
    return out;
}

}  // namespace ct::cli
