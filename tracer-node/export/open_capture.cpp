#include "tracer-node/export/capture_source.h"
#include "tracer-node/export/raw_capture.h"
#include "tracer-node/export/text_capture.h"

namespace ct::node {

Result<std::unique_ptr<CaptureSource>> open_capture(const std::string& path, const CaptureOptions& options) {
    // A tracefs instance's text pipe: read the same instance's binary per-CPU buffers instead.
    if (auto instance = instance_dir_of(path); options.raw && !instance.empty()) {
        auto raw = RawCapture::open(instance, options);
        if (!raw) return std::unexpected(raw.error());
        return std::unique_ptr<CaptureSource>(std::move(*raw));
    }
    auto text = TextCapture::open(path);
    if (!text) return std::unexpected(text.error());
    return std::unique_ptr<CaptureSource>(std::move(*text));
}

}  // namespace ct::node
