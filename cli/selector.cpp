#include "cli/selector.h"

#include <fmt/format.h>

#include "common/glob.h"

namespace ct::cli {

std::string PodSelector::pattern() const {
    return namespace_glob.empty() ? pod_glob : namespace_glob + "/" + pod_glob;
}

bool PodSelector::matches(std::string_view pod_key, std::string_view pod_name, std::string_view pod_namespace) const {
    if (!namespace_glob.empty() && !glob_match(namespace_glob, pod_namespace)) return false;
    return glob_match(pod_glob, pod_name) || glob_match(pod_glob, pod_key);
}

Result<PodSelector> parse_pod_selector(std::string_view text) {
    auto invalid = [&](std::string_view why) {
        return fail(Errc::kInvalidArgument,
                    fmt::format("invalid pod selector \"{}\": {} (expected [namespace-glob/]pod-glob, e.g. "
                                "\"default/web-*\" or \"web-*\")",
                                text, why));
    };
    if (text.empty()) return invalid("empty");
    PodSelector s;
    auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        s.pod_glob = std::string(text);
        return s;
    }
    if (text.find('/', slash + 1) != std::string_view::npos) return invalid("more than one \"/\"");
    s.namespace_glob = std::string(text.substr(0, slash));
    if (s.namespace_glob.empty()) return invalid("empty namespace before \"/\"");
    auto pod = text.substr(slash + 1);
    s.pod_glob = pod.empty() ? "*" : std::string(pod);
    return s;
}

}  // namespace ct::cli
