// RawCapture: reads a tracefs instance's per-CPU binary ring buffers
// (per_cpu/cpuN/trace_pipe_raw) instead of its text trace_pipe — the text pipe formats every
// event in the kernel and loses most of them under load; the raw buffers keep up. A hook run's
// companion instance (ftrace::run_instances: trace_events' target-scoped events) is read with it,
// its per-CPU buffers as more CPUs of the same merge, into the same events in timestamp order.
// Two stages so a slow exporter never makes the kernel overwrite events:
//   reader thread (owned here): sleeps in poll(2) on every CPU's trace_pipe_raw until the kernel
//     wakes it (a CPU's buffer is CaptureOptions::wake_percent full: the instance's
//     buffer_percent) or drain_interval has passed, then drains every CPU's buffer page by page
//     (the partly filled page the kernel writes to included) into an in-memory queue bounded by
//     the node-wide CaptureOptions::queue_budget, the pages of one drain ordered by their start
//     time. A page that does not fit is dropped and its events are counted (queue_dropped),
//     never silently lost.
//   poll() (the capture run's thread): decodes queued pages (RawDecoder), merges the CPUs in
//     timestamp order within merge_window_ns, names the tasks (TaskNames: fork/exec events, else
//     /proc), hands out TraceEvents.
// Ordering: each drain takes every CPU's data up to that moment, so an event can only be
// overtaken by one of another CPU read in the same or the next drain: drain_interval (10 ms) is
// within the merge window (20 ms). docs/api.md "Capture" states what is guaranteed.
// End: when the main instance's tracing_on reads 0 (the hook is stopping) or hook_exited() is
// called, the reader drains until every CPU of every instance is empty, reads the kernel's loss
// counters (per_cpu/cpuN/stats overrun / dropped events, summed over the instances) and closes
// its files so the hook can remove the instances; poll() returns false once everything queued
// was handed out.
// Page tap (CaptureOptions::page_tap): the main instance's pages only. A recording is one
// instance's per-CPU page streams (docs/viewers.md) described by that instance's event formats;
// the companion's pages would interleave with the main's on the same CPU out of time order and
// carry events the recording's formats do not list.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <string>
#include <mutex>
#include <thread>
#include <utility>

#include "common/fd.h"
#include "tracer-node/capture/capture_source.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_decode.h"
#include "tracer-node/capture/task_names.h"

namespace ct::node {

class RawCapture : public CaptureSource {
public:
    // instance_dir: ".../instances/<name>", the main instance (its companion is found by
    // ftrace::run_instances). Errors: kIo when the per-CPU buffers cannot be opened or the event
    // formats cannot be read; kInternal when they do not parse.
    static Result<std::unique_ptr<RawCapture>> open(const std::string& instance_dir, const CaptureOptions& options);
    ~RawCapture() override;

    bool poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) override;
    void hook_exited() override;
    // Stops now; events read but not handed out, and those left in the kernel's buffers, are
    // counted in queue_dropped. Call from the thread that calls poll().
    void abort() override;
    CaptureLoss loss() const override;
    std::uint64_t evictions() const override { return names_.evictions(); }

private:
    struct Page {
        int cpu;
        std::string bytes;
        bool tap = true;  // the main instance's: goes to the page tap
    };
    // One CPU's buffer of one of the instances.
    struct Cpu {
        ftrace::CpuBuffer buffer;
        FD fd;
        std::size_t subbuf_size = 0;  // its instance's
        bool main = true;             // of the main instance (not the companion)
    };

    RawCapture(std::vector<std::string> instance_dirs, CaptureOptions options, std::unique_ptr<RawDecoder> decoder,
               std::vector<Cpu> cpus);
    void reader();
    // One pass over the CPUs, reading each until it is empty; appends the pages ordered by their
    // start time (each CPU's in its order). True when it read anything.
    bool drain_all(std::vector<Page>& into);
    std::string spare_buffer();  // reader thread: a page buffer to reuse, or an empty string
    void finish_reader();
    CaptureLoss instances_loss() const;  // the kernel's counters, summed over the instances
    // Puts the events decoded behind held_[first] (at least one) in (timestamp, arrival) order
    // with the held ones. Returns the newest timestamp.
    std::uint64_t hold_new(std::size_t first);
    // The same for events in fresh_ (not empty), merged into held_.
    std::uint64_t hold_fresh();

    std::vector<std::string> instance_dirs_;  // the run's instances, the main one first
    CaptureOptions options_;
    std::unique_ptr<RawDecoder> decoder_;
    std::vector<Cpu> cpus_;  // reader thread only; every instance's, the main one's first

    mutable std::mutex mutex_;  // guards the queue, the flags below and final_loss_
    std::condition_variable cv_;
    std::deque<Page> queue_;
    std::shared_ptr<ByteBudget> budget_;  // holds queued_bytes_ of it
    std::size_t queued_bytes_ = 0;
    bool reader_done_ = false;
    CaptureLoss final_loss_;
    bool have_final_loss_ = false;
    std::atomic<std::uint64_t> queue_dropped_{0};
    std::atomic<std::uint64_t> unparsed_{0};
    std::atomic<bool> hook_exited_{false};
    std::atomic<bool> abort_{false};
    std::thread thread_;

    std::vector<std::string> free_buffers_;  // guarded by mutex_: page buffers poll() is done with
    std::vector<std::string> spare_;         // reader thread only: taken from free_buffers_

    // poll() thread only.
    std::vector<Page> taken_;  // the pages of the last poll (their buffers go back to the reader)
    // Decoded and held back for the merge window, from held_head_ on, in (timestamp, arrival)
    // order: each event is moved in once and out once, whatever the window holds.
    std::vector<TraceEvent> held_;
    std::size_t held_head_ = 0;
    std::vector<TraceEvent> fresh_;  // this poll's decoded events, while merging
    std::vector<TraceEvent> tail_;   // held events newer than the oldest fresh one, while merging
    std::vector<std::pair<std::uint64_t, std::uint32_t>> order_;  // (timestamp, fresh_ position), sorted
    TaskNames names_;
};

}  // namespace ct::node
