// CaptureSource: reads a hook's trace output and yields TraceEvents. One per session run,
// used by that run's capture thread only.
// End of capture: a tracefs instance ends when its hook writes 0 to the instance's tracing_on
// and the buffers are empty (the hook then removes the instance, which needs our files
// closed); a plain file ends after hook_exited() once everything written has been read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tracer-node/capture/byte_budget.h"
#include "tracer-node/export/trace_event.h"

namespace ct::node {

struct CaptureLoss {
    std::uint64_t overrun = 0;   // events the kernel overwrote before we read them
    std::uint64_t dropped = 0;   // events the kernel dropped (buffer full, no overwrite)
    std::uint64_t unparsed = 0;  // lines/records we could not make sense of
    std::uint64_t queue_dropped = 0;  // events tracer-node's own bounded capture queue dropped
    std::uint64_t total() const { return overrun + dropped + unparsed + queue_dropped; }
};

// How to read a trace file. Defaults suit production; tests shrink the limits.
struct CaptureOptions {
    std::string procfs_root = "/proc";           // where comm of a task is looked up (raw path)
    // Raw pages read from the kernel and waiting for decoding, over every capture of the node
    // (one budget shared by the sessions, so memory does not grow with their number); a page
    // that does not fit is dropped and its events counted. Null: a private kDefaultQueueBytes.
    std::shared_ptr<ByteBudget> queue_budget;
    static constexpr std::size_t kDefaultQueueBytes = 128u << 20;
    // Raw reader: it sleeps until the kernel wakes it (a CPU's buffer is wake_percent full: the
    // instance's buffer_percent, which it sets) or drain_interval has passed, then drains every
    // CPU. drain_interval is how long an event may wait in the kernel (latency) and must stay
    // within merge_window_ns (ordering, docs/api.md "Capture").
    std::chrono::microseconds drain_interval{10'000};
    int wake_percent = 25;
    std::uint64_t merge_window_ns = 20'000'000;  // how long events wait for older ones from other CPUs
    bool raw = true;                             // false: always read text trace_pipe
    // Lifecycle events (kLifecycleEvents) the user asked for, as CaptureRunOptions::export_lifecycle:
    // a dropped one counts as lost. The others are the hook's bookkeeping, never delivered, so
    // dropping one loses no event and is not counted.
    std::set<std::string> export_lifecycle;
    // Raw reader only: called with every sub-buffer (one CPU's ring-buffer page, as read from
    // trace_pipe_raw) just before it is decoded, per CPU in order, on the thread that calls
    // poll(); what the queue had to drop never reaches it. For keeping the pages as they are
    // (recording) at no extra decode. Must not block for long.
    std::function<void(int cpu, std::string_view subbuf)> page_tap;
};

class CaptureSource {
public:
    virtual ~CaptureSource() = default;
    // Waits up to `wait` for data and appends what it read to `out`. Returns false once the
    // source has ended (all data delivered, files closed).
    virtual bool poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) = 0;
    // The hook process is gone: deliver what remains, then end.
    virtual void hook_exited() = 0;
    // Stop now, dropping what is unread; closes files.
    virtual void abort() = 0;
    virtual CaptureLoss loss() const = 0;
    // Entries the source's per-task caches had to push out (PidCache); the poll() thread only.
    virtual std::uint64_t evictions() const { return 0; }
};

// Opens the right source for `path`: for a tracefs instance's trace_pipe, the per-CPU binary
// buffers of that instance and of its companion when it has one (RawCapture, lossless under
// load); any other file, or an instance's pipe with options.raw off (its main instance only), is
// read as ftrace text lines (TextCapture). Errors: kIo when the file cannot be opened, or the instance's
// buffers/event formats cannot be read.
Result<std::unique_ptr<CaptureSource>> open_capture(const std::string& path, const CaptureOptions& options = {});

// The kernel's loss counters of a tracefs instance now (overrun, dropped events); zero when gone.
CaptureLoss read_instance_loss(const std::string& instance_dir);

}  // namespace ct::node
