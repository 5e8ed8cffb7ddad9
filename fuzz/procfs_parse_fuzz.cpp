// The /proc and cgroup parsers (procfs_parse.h) on arbitrary text. The first byte picks the
// parser so one corpus covers them all (seeds: fuzz/corpus/procfs_parse, one file per parser,
// with that byte in front).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tracer-node/discovery/procfs_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ct::node;
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 5) {
        case 0: {
            auto status = parse_status(text);
            if (status && status->name.size() > text.size()) __builtin_trap();
            break;
        }
        case 1: {
            auto stat = parse_stat(text);
            if (stat && stat->comm.size() > text.size()) __builtin_trap();
            break;
        }
        case 2:
            (void)parse_ns_inode(text, "uts");
            (void)parse_ns_inode(text);
            break;
        case 3: {
            // Either field may be empty, never both (procfs_parse.h).
            auto id = parse_cgroup_path(text);
            if (id && id->pod_uid.empty() && id->container_id.empty()) __builtin_trap();
            break;
        }
        case 4: {
            auto id = parse_cgroup(text);
            if (id && id->pod_uid.empty() && id->container_id.empty()) __builtin_trap();
            break;
        }
    }
    return 0;
}
