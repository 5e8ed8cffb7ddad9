// Test images without a registry: OCI image-layout tarballs built from the host's static busybox
// by make_oci_image.sh (next to this file), ready for `ctr -n k8s.io images import`.
// Thread-safety: free functions; distinct output paths may be built concurrently.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace ct::test {

inline constexpr const char* kBusyboxImage = "docker.io/library/busybox:local";
inline constexpr const char* kPauseImage = "registry.k8s.io/pause:local";

struct OciImageSpec {
    std::string reference;                // full name, e.g. kBusyboxImage
    std::vector<std::string> entrypoint;  // image config Entrypoint
    std::vector<std::string> cmd;         // image config Cmd
};

// Writes the tarball to `out_tar`. Errors: kIo/kInternal with the script's stderr.
Status build_oci_image(const std::string& out_tar, const OciImageSpec& spec);

// busybox (Cmd ["/bin/sh"]) and pause (Entrypoint ["/bin/sleep","2147483647"]).
OciImageSpec busybox_image_spec();
OciImageSpec pause_image_spec();

}  // namespace ct::test
