// RawCapture: reads a tracefs instance's per-CPU binary ring buffers
// (per_cpu/cpuN/trace_pipe_raw) instead of its text trace_pipe — the text pipe formats every
// event in the kernel and loses most of them under load; the raw buffers keep up.
// Two stages so a slow exporter never makes the kernel overwrite events:
//   reader thread (owned here): every poll_interval drains every CPU's buffer page by page into
//     an in-memory queue bounded by the node-wide CaptureOptions::queue_budget; a page that does
//     not fit is dropped and its events are counted (queue_dropped), never silently lost. A pass
//     stops on a CPU at its first partly filled page: the one the kernel is writing to.
//   poll() (the capture run's thread): decodes queued pages (RawDecoder), merges the CPUs in
//     timestamp order within merge_window_ns, resolves comm (from fork/exec events, else /proc),
//     hands out TraceEvents.
// End: when the instance's tracing_on reads 0 (the hook is stopping) or hook_exited() is
// called, the reader drains until every CPU is empty, reads the kernel's loss counters
// (per_cpu/cpuN/stats overrun / dropped events) and closes its files so the hook can remove
// the instance; poll() returns false once everything queued was handed out.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/fd.h"
#include "tracer-node/capture/capture_source.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_decode.h"

namespace ct::node {

class RawCapture : public CaptureSource {
public:
    // instance_dir: ".../instances/<name>". Errors: kIo when the per-CPU buffers cannot be
    // opened or the event formats cannot be read; kInternal when they do not parse.
    static Result<std::unique_ptr<RawCapture>> open(const std::string& instance_dir, const CaptureOptions& options);
    ~RawCapture() override;

    bool poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) override;
    void hook_exited() override;
    // Stops now; events read but not handed out, and those left in the kernel's buffers, are
    // counted in queue_dropped. Call from the thread that calls poll().
    void abort() override;
    CaptureLoss loss() const override;

private:
    struct Page {
        int cpu;
        std::string bytes;
    };
    struct Cpu {
        ftrace::CpuBuffer buffer;
        FD fd;
    };

    RawCapture(std::string instance_dir, CaptureOptions options, std::unique_ptr<RawDecoder> decoder,
               std::vector<Cpu> cpus, std::size_t subbuf_size);
    void reader();
    bool drain_all(std::vector<Page>& into);  // one pass over the CPUs; true when it read anything
    void finish_reader();
    void set_comm(TraceEvent& e);
    // Moves fresh_ (not empty) into held_, keeping held_ in (timestamp, arrival) order. Returns
    // the newest fresh timestamp.
    std::uint64_t hold_fresh();

    std::string instance_dir_;
    CaptureOptions options_;
    std::unique_ptr<RawDecoder> decoder_;
    std::vector<Cpu> cpus_;  // reader thread only
    std::size_t subbuf_size_;

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

    // poll() thread only.
    // Decoded and held back for the merge window, in (timestamp, arrival) order: each event is
    // moved in once and out once, whatever the window holds.
    std::deque<TraceEvent> held_;
    std::vector<TraceEvent> fresh_;  // this poll's decoded events
    std::vector<TraceEvent> tail_;   // held events newer than the oldest fresh one, while merging
    std::vector<std::pair<std::uint64_t, std::uint32_t>> order_;  // (timestamp, fresh_ position), sorted
    std::unordered_map<pid_t, std::string> comms_;
    pid_t last_comm_pid_ = 0;
    const std::string* last_comm_ = nullptr;  // comms_[last_comm_pid_], or null
};

}  // namespace ct::node
