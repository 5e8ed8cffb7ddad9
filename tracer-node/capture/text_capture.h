// TextCapture: reads ftrace text lines (trace_pipe or any file a hook names) and parses them.
// Tasks ftrace could not name ("<...>") get the name their fork or exec event gave them. Owns the
// EventTypes of its events (TextEventTypes).
#pragma once

#include <atomic>
#include <string>

#include "common/fd.h"
#include "tracer-node/capture/capture_source.h"
#include "tracer-node/capture/task_names.h"
#include "tracer-node/capture/trace_line_parse.h"

namespace ct::node {

class TextCapture : public CaptureSource {
public:
    // Errors: kIo naming the path.
    static Result<std::unique_ptr<TextCapture>> open(const std::string& path);

    bool poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) override;
    void hook_exited() override { hook_exited_ = true; }
    void abort() override { fd_.reset(); }
    CaptureLoss loss() const override;
    std::uint64_t evictions() const override { return names_.evictions(); }

private:
    TextCapture(FD fd, std::string path, std::string instance_dir);
    bool finished_reading();
    void consume(const char* data, size_t size, std::vector<TraceEvent>& out);

    FD fd_;
    std::string path_;
    std::string instance_dir_;  // "" when not a tracefs instance
    std::string partial_;       // an unterminated last line, kept for the next read
    std::atomic<bool> hook_exited_{false};
    std::uint64_t unparsed_ = 0;
    CaptureLoss final_loss_;    // instance counters read just before closing
    TextEventTypes types_;
    TaskNames names_{nullptr};  // the line names the task; only "<...>" is looked up here
};

}  // namespace ct::node
