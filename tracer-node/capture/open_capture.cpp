#include "tracer-node/capture/capture_source.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_capture.h"
#include "tracer-node/capture/text_capture.h"

namespace ct::node {

Result<std::unique_ptr<CaptureSource>> open_capture(const std::string& path, const CaptureOptions& options) {
    // A tracefs instance's text pipe: read the same instance's binary per-CPU buffers instead.
    if (auto instance = ftrace::instance_dir_of(path); options.raw && !instance.empty()) {
        auto raw = RawCapture::open(instance, options);
        if (!raw) return std::unexpected(raw.error());
        return std::unique_ptr<CaptureSource>(std::move(*raw));
    }
    auto text = TextCapture::open(path);
    if (!text) return std::unexpected(text.error());
    return std::unique_ptr<CaptureSource>(std::move(*text));
}

CaptureLoss read_instance_loss(const std::string& instance_dir) {
    auto stats = ftrace::read_loss(instance_dir);
    return CaptureLoss{.overrun = stats.overrun, .dropped = stats.dropped};
}

}  // namespace ct::node
