#include "tests/support/oci_image.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/subprocess.h"

namespace ct::test {

namespace {

std::string json_array(const std::vector<std::string>& items) {
    boost::json::array array;
    for (const auto& s : items) array.emplace_back(s);
    return boost::json::serialize(array);
}

}  // namespace

Status build_oci_image(const std::string& out_tar, const OciImageSpec& spec) {
    SpawnOptions options;
    options.argv = {CT_SOURCE_DIR "/tests/support/make_oci_image.sh", out_tar, spec.reference,
                    json_array(spec.entrypoint), json_array(spec.cmd)};
    auto run = run_capture(options, std::chrono::seconds(60));
    if (!run) return std::unexpected(Error::wrap(run.error(), fmt::format("building image {}", spec.reference)));
    if (!run->status.ok())
        return fail(Errc::kInternal, fmt::format("building image {}: make_oci_image.sh {}: {}", spec.reference,
                                                 run->status.describe(), run->err));
    return {};
}

OciImageSpec busybox_image_spec() { return {kBusyboxImage, {}, {"/bin/sh"}}; }

OciImageSpec pause_image_spec() { return {kPauseImage, {"/bin/sleep", "2147483647"}, {}}; }

}  // namespace ct::test
