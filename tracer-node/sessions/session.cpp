#include "tracer-node/sessions/session.h"

#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/glob.h"
#include "common/http.h"
#include "common/strings.h"

namespace ct::node {

namespace json = boost::json;

Result<SessionSpec> parse_session_spec(const std::string& body) {
    auto object = http::parse_json_object(body);
    if (!object) return std::unexpected(object.error());
    static const std::set<std::string> kKnown = {"pod", "container", "trace-hook", "trace-arguments",
                                                 "trace-user-context"};
    for (const auto& [key, value] : *object)
        if (!kKnown.contains(std::string(key)))
            return fail(Errc::kInvalidArgument,
                        fmt::format("unknown field \"{}\" (expected pod, container, trace-hook, trace-arguments, "
                                    "trace-user-context)",
                                    std::string(key)));
    auto field = [&](const char* name, bool required) -> Result<std::string> {
        auto it = object->find(name);
        if (it == object->end() || it->value().is_null()) {
            if (required) return fail(Errc::kInvalidArgument, fmt::format("missing field \"{}\"", name));
            return std::string();
        }
        if (!it->value().is_string())
            return fail(Errc::kInvalidArgument, fmt::format("field \"{}\" must be a string, got {}", name,
                                                            json::serialize(it->value())));
        std::string value(it->value().as_string());
        if (required && trim(value).empty())
            return fail(Errc::kInvalidArgument, fmt::format("field \"{}\" must not be empty", name));
        return value;
    };
    SessionSpec spec;
    auto pod = field("pod", true);
    if (!pod) return std::unexpected(pod.error());
    auto container = field("container", true);
    if (!container) return std::unexpected(container.error());
    auto hook = field("trace-hook", true);
    if (!hook) return std::unexpected(hook.error());
    auto args = field("trace-arguments", false);
    if (!args) return std::unexpected(args.error());
    auto context = field("trace-user-context", false);
    if (!context) return std::unexpected(context.error());
    spec.pod = *pod;
    spec.container = *container;
    spec.hook = *hook;
    spec.args = *args;
    spec.context = *context;
    return spec;
}

Result<bool> parse_run_request(const std::string& body) {
    auto object = http::parse_json_object(body);
    if (!object) return std::unexpected(object.error());
    auto it = object->find("Run");
    if (it == object->end()) return fail(Errc::kInvalidArgument, "missing field \"Run\" (expected {\"Run\": true|false})");
    if (!it->value().is_bool())
        return fail(Errc::kInvalidArgument,
                    fmt::format("field \"Run\" must be true or false, got {}", json::serialize(it->value())));
    for (const auto& [key, value] : *object)
        if (key != "Run") return fail(Errc::kInvalidArgument, fmt::format("unknown field \"{}\"", std::string(key)));
    return it->value().as_bool();
}

Selection select_containers(const PodMap& pods, const std::string& pod_pattern, const std::string& container_pattern) {
    std::string ns_glob, pod_glob = pod_pattern;
    if (auto slash = pod_pattern.find('/'); slash != std::string::npos) {
        ns_glob = pod_pattern.substr(0, slash);
        pod_glob = pod_pattern.substr(slash + 1);
    }
    Selection out;
    for (const auto& [key, pod] : pods) {
        if (!ns_glob.empty() && !glob_match(ns_glob, pod.pod_namespace)) continue;
        if (!glob_match(pod_glob, pod.name) && !glob_match(pod_glob, key)) continue;
        for (const auto& [name, c] : pod.containers)
            if (glob_match(container_pattern, name)) out[key].push_back(name);
    }
    return out;
}

Result<std::optional<SessionId>> parse_session_id(const std::string& text) {
    if (text == "all") return std::optional<SessionId>();
    auto id = parse_u64(text);
    if (!id) return fail(Errc::kInvalidArgument, fmt::format("invalid trace session id \"{}\": expected a decimal "
                                                             "unsigned 64-bit number or \"all\"", text));
    return std::optional<SessionId>(*id);
}

}  // namespace ct::node
