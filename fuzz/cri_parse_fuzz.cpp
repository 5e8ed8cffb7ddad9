// The CRI verbose-info parser (cri_parse.h) on arbitrary JSON text, and the pod-map assembly
// with what it returns: a parsed pid must be positive (the contract), and inserting the
// container under fuzzed names must keep the map's keys consistent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tracer-node/discovery/cri/cri_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ct::node;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto info = cri::parse_verbose_info(text);
    if (!info) return 0;
    if (info->pid <= 0) __builtin_trap();
    // Pod/namespace/container names from the sandbox id: two inserts that may clash.
    const std::string& id = info->sandbox_id;
    PodMap pods;
    auto half = id.substr(0, id.size() / 2);
    cri::insert_container(pods, ContainerInfo{half, id, "ns-a", id, {info->pid}, {}});
    cri::insert_container(pods, ContainerInfo{half, id, "ns-b", id, {info->pid, info->pid}, {}});
    cri::insert_container(pods, ContainerInfo{half, id, "ns-a", id, {}, {}});
    size_t containers = 0;
    for (const auto& [key, pod] : pods) containers += pod.containers.size();
    if (containers != 2) __builtin_trap();  // one per namespace; the same-name restart kept one
    return 0;
}
