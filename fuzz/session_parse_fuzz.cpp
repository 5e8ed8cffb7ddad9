// The trace-session request parsers (sessions/session.h): POST body, PUT body, id text, and the
// container selection a parsed spec makes over a fixed pod map. First byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tracer-node/sessions/session.h"

namespace {

ct::node::PodMap fixture_pods() {
    using namespace ct::node;
    PodMap pods;
    for (auto [pod, ns] : {std::pair{"jaeger-operator-7b46f44865-jvgz8", "observability"},
                           std::pair{"jaeger-599bd8cddd-f6tcj", "default"}, std::pair{"other", "kube-system"}}) {
        PodInfo info{pod, ns, {}};
        for (const char* c : {"jaeger-operator", "kube-rbac-proxy", "jaeger"})
            info.containers[c] = ContainerInfo{c, pod, ns, "", {42}, {1}};
        pods[pod] = info;
    }
    return pods;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ct::node;
    if (size == 0) return 0;
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0: {
            auto spec = parse_session_spec(text);
            if (!spec) return 0;
            static const PodMap pods = fixture_pods();
            auto selection = select_containers(pods, spec->pod, spec->container);
            for (const auto& [pod, containers] : selection)
                if (!pods.contains(pod) || containers.empty()) __builtin_trap();
            break;
        }
        case 1:
            (void)parse_run_request(text);
            break;
        case 2: {
            auto id = parse_session_id(text);
            // A parsed id prints back as the text it came from: ids are canonical decimal.
            if (!id || !*id) break;
            if (std::to_string(**id) != text) __builtin_trap();
            break;
        }
    }
    return 0;
}
