#include "tracer-node/capture/raw_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "common/file_io.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/trace_line_parse.h"

extern "C" {
#include "tracer-node/capture/tracefs_events.h"
}

namespace ct::node {

namespace {

constexpr std::size_t kMaxPagesPerPoll = 16;  // ~4k events: bounds one batch's work, memory and latency
constexpr std::size_t kMaxHeldEvents = 16384;  // merge window bound in events (see poll)
constexpr std::size_t kMaxFreeBuffers = 256;   // page buffers kept for reuse (1 MiB of 4 KiB pages)
constexpr int kFinishPasses = 50;                // drain passes waiting for "entries: 0" at the end
constexpr auto kFinishStep = std::chrono::milliseconds(1);
constexpr auto kOffCheckInterval = std::chrono::milliseconds(10);

constexpr std::size_t kMaxFormatBytes = 1 << 20;  // format files are a few KiB

Result<std::string> read_tracefs_file(const std::string& path) {
    std::string text;
    if (int err = read_file(path, text, kMaxFormatBytes); err != 0)
        return fail_errno(fmt::format("reading \"{}\"", path), err);
    return text;
}

// For files whose absence only means "nothing to say" (stats, comm of a gone task): "" then.
std::string read_small_file(const std::string& path) { return read_tracefs_file(path).value_or(""); }

// The lifecycle events the run consumes and never delivers: not counted when dropped.
std::set<std::string> bookkeeping_events(const CaptureOptions& options) {
    std::set<std::string> out;
    for (auto name : kLifecycleEvents)
        if (!options.export_lifecycle.contains(std::string(name))) out.emplace(name);
    return out;
}

}  // namespace

Result<std::unique_ptr<RawCapture>> RawCapture::open(const std::string& instance_dir, const CaptureOptions& options) {
    auto instances = ftrace::run_instances(instance_dir);
    std::vector<Cpu> cpus;
    for (const auto& dir : instances) {
        auto buffers = ftrace::cpu_buffers(dir);
        if (!buffers) return std::unexpected(buffers.error());
        const std::size_t subbuf = ftrace::subbuf_size(dir);
        for (auto& b : *buffers) {
            int fd = ::open(b.raw_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) return fail_errno(fmt::format("opening raw trace buffer \"{}\"", b.raw_path));
            cpus.push_back({std::move(b), FD(fd), subbuf, dir == instance_dir});
        }
    }

    // The kernel wakes the reader when a CPU's buffer is this full; drain_interval bounds the
    // wait otherwise. Only a wake-up threshold: the instance's memory and events are unchanged.
    // The main instance's only: a companion's events are rare and wait for the interval.
    if (auto set = ftrace::set_wake_percent(instance_dir, options.wake_percent); !set)
        spdlog::warn("{} (the reader wakes every {} ms instead)", set.error().message,
                     std::chrono::duration_cast<std::chrono::milliseconds>(options.drain_interval).count());

    // Only the formats of the events the hook enabled, parsed here: libtracefs would parse every
    // format of their systems plus kallsyms and printk formats (millions of symbols, megabytes
    // and a noticeable time per session start) that syscall events never need.
    // Nothing listed: every format on the machine, through libtracefs.
    // Event ids are the kernel's, the same in every instance: one decoder for all of them.
    auto tracing_dir = ftrace::tracing_dir_of(instance_dir);
    std::vector<EventFormat> formats;
    for (const auto& dir : instances) {
        auto enabled = ftrace::read_enabled_formats(dir);
        if (!enabled) return std::unexpected(enabled.error());
        formats.insert(formats.end(), std::make_move_iterator(enabled->begin()), std::make_move_iterator(enabled->end()));
    }
    const auto key = [](const EventFormat& f) { return std::tie(f.system, f.name); };
    std::ranges::sort(formats, {}, key);
    formats.erase(std::ranges::unique(formats, {}, key).begin(), formats.end());
    Result<std::unique_ptr<RawDecoder>> decoder;
    if (formats.empty()) {
        tep_handle* tep = ctx_load_local_events(tracing_dir.c_str());
        if (!tep) return fail_errno(fmt::format("reading event formats under \"{}\"", tracing_dir));
        decoder = RawDecoder::create(tep);
    } else {
        auto header_page = read_tracefs_file(tracing_dir + "/events/header_page");
        if (!header_page) return std::unexpected(header_page.error());
        decoder = RawDecoder::from_formats(*header_page, formats);
        // The kernel's own texts not parsing is our failure, not the client's.
        if (!decoder)
            return fail(Errc::kInternal, fmt::format("parsing event formats under \"{}\": {}", tracing_dir,
                                                     decoder.error().message));
    }
    if (!decoder) return std::unexpected(decoder.error());
    (*decoder)->skip_in_count(bookkeeping_events(options));
    return std::unique_ptr<RawCapture>(
        new RawCapture(std::move(instances), options, std::move(*decoder), std::move(cpus)));
}

RawCapture::RawCapture(std::vector<std::string> instance_dirs, CaptureOptions options,
                       std::unique_ptr<RawDecoder> decoder, std::vector<Cpu> cpus)
    : instance_dirs_(std::move(instance_dirs)),
      options_(std::move(options)),
      decoder_(std::move(decoder)),
      cpus_(std::move(cpus)),
      budget_(options_.queue_budget ? options_.queue_budget
                                    : std::make_shared<ByteBudget>(CaptureOptions::kDefaultQueueBytes)),
      names_([root = options_.procfs_root](pid_t pid) -> std::string {
          if (pid == 0) return "<idle>";
          // A task names itself: any bytes. Event strings are UTF-8 (the exported JSON must be).
          auto comm = to_valid_utf8(trim(read_small_file(fmt::format("{}/{}/comm", root, pid))));
          return comm.empty() ? "<...>" : comm;  // gone already; ftrace prints the same when it can't tell
      }) {
    thread_ = std::thread([this] { reader(); });
}

RawCapture::~RawCapture() { abort(); }

void RawCapture::hook_exited() { hook_exited_ = true; }

void RawCapture::abort() {
    abort_ = true;
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // Count what was read but will never be handed out (the reader thread is gone).
    const auto bookkeeping = bookkeeping_events(options_);
    std::uint64_t discarded = std::count_if(held_.begin() + static_cast<std::ptrdiff_t>(held_head_), held_.end(),
                                            [&](const TraceEvent& e) { return !bookkeeping.contains(std::string(e.name())); });
    held_.clear();
    held_head_ = 0;
    std::lock_guard lock(mutex_);
    for (const auto& p : queue_) discarded += decoder_->count(p.bytes.data(), p.bytes.size());
    queue_.clear();
    budget_->give_back(queued_bytes_);
    queued_bytes_ = 0;
    queue_dropped_ += discarded;
}

std::string RawCapture::spare_buffer() {
    if (spare_.empty()) {
        std::lock_guard lock(mutex_);
        spare_.swap(free_buffers_);
    }
    if (spare_.empty()) return {};
    std::string b = std::move(spare_.back());
    spare_.pop_back();
    return b;
}

bool RawCapture::drain_all(std::vector<Page>& into) {
    const std::size_t first = into.size();
    const std::size_t header = decoder_->header_size();
    for (auto& c : cpus_) {
        if (!c.fd) continue;
        // Until the CPU is empty, the page the kernel writes to included: every event up to now
        // is then in hand, which the merge window relies on.
        while (true) {
            std::string buf = spare_buffer();  // read straight into a page of the queue
            buf.resize(c.subbuf_size);
            ssize_t n = ::read(c.fd.get(), buf.data(), buf.size());
            if (n <= 0) {
                spare_.push_back(std::move(buf));
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    spdlog::warn("reading {}: {}", c.buffer.raw_path, std::strerror(errno));
                    c.fd.reset();
                }
                break;
            }
            // Keep only the used part: header + commit bytes (+ 8 for a stored missed-events count).
            std::size_t used = static_cast<std::size_t>(n);
            if (used >= header && header >= 16) {
                std::uint64_t commit = 0;
                std::memcpy(&commit, buf.data() + 8, 8);
                std::size_t data = static_cast<std::size_t>(commit & ((1ULL << 30) - 1));
                used = std::min(used, header + data + 8);
            }
            buf.resize(used);
            into.push_back({c.buffer.cpu, std::move(buf), c.main});
        }
    }
    // Pages in the order of their first events (a page starts with its timestamp): decoding
    // then meets the CPUs' events nearly in time order, and the merge window only has to cover
    // one page's span. Stable: each CPU's pages keep their order.
    auto start_of = [](const Page& p) {
        std::uint64_t ts = 0;
        if (p.bytes.size() >= 8) std::memcpy(&ts, p.bytes.data(), 8);
        return ts;
    };
    std::stable_sort(into.begin() + static_cast<std::ptrdiff_t>(first), into.end(),
                     [&](const Page& a, const Page& b) { return start_of(a) < start_of(b); });
    return into.size() > first;
}

void RawCapture::reader() {
    std::vector<Page> got;
    auto next_off_check = std::chrono::steady_clock::now();
    auto enqueue = [&] {
        if (got.empty()) return;
        std::uint64_t dropped = 0;
        {
            std::lock_guard lock(mutex_);
            for (auto& p : got) {
                if (!budget_->try_take(p.bytes.size())) {
                    dropped += decoder_->count(p.bytes.data(), p.bytes.size());
                    continue;
                }
                queued_bytes_ += p.bytes.size();
                queue_.push_back(std::move(p));
            }
        }
        if (dropped) queue_dropped_ += dropped;
        got.clear();
        cv_.notify_all();
    };
    std::vector<pollfd> fds;
    for (const auto& c : cpus_) fds.push_back({c.fd.get(), POLLIN, 0});
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.drain_interval);
    const timespec timeout{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    while (!abort_) {
        // Asleep until a CPU's buffer is wake_percent full, or drain_interval at most.
        if (::ppoll(fds.data(), fds.size(), &timeout, nullptr) < 0 && errno != EINTR) {
            spdlog::warn("waiting on {}'s buffers: {}", instance_dirs_.front(), std::strerror(errno));
            std::this_thread::sleep_for(options_.drain_interval);
        }
        if (abort_) break;
        bool any = drain_all(got);
        enqueue();
        if (any) continue;
        auto now = std::chrono::steady_clock::now();
        if (hook_exited_ || (now >= next_off_check && ftrace::finishing(instance_dirs_.front()))) {
            // Producers are done: events may still be landing on other CPUs for a moment, so
            // drain until the kernel counts no unread entries anywhere.
            for (int pass = 0; pass < kFinishPasses && !abort_; ++pass) {
                drain_all(got);
                enqueue();
                bool empty = true;
                for (const auto& c : cpus_) {
                    auto entries = ftrace::read_cpu_stats(c.buffer).entries;
                    if (c.fd && entries && *entries > 0) empty = false;
                }
                if (empty) break;
                std::this_thread::sleep_for(kFinishStep);
            }
            break;
        }
        if (now >= next_off_check) next_off_check = now + kOffCheckInterval;
    }
    finish_reader();
}

void RawCapture::finish_reader() {
    // Loss counters live in the instances: read them before closing lets the hook remove them.
    auto loss = instances_loss();
    if (abort_) {
        // Aborted: what is still in the kernel's buffers is lost to us; count it.
        std::uint64_t unread = 0;
        for (const auto& c : cpus_)
            if (auto entries = ftrace::read_cpu_stats(c.buffer).entries) unread += *entries;
        queue_dropped_ += unread;
    }
    cpus_.clear();
    {
        std::lock_guard lock(mutex_);
        final_loss_ = loss;
        have_final_loss_ = true;
        reader_done_ = true;
    }
    cv_.notify_all();
}

CaptureLoss RawCapture::instances_loss() const {
    CaptureLoss sum;
    for (const auto& dir : instance_dirs_) {
        auto l = read_instance_loss(dir);
        sum.overrun += l.overrun;
        sum.dropped += l.dropped;
    }
    return sum;
}

CaptureLoss RawCapture::loss() const {
    CaptureLoss l;
    bool final = false;
    {
        std::lock_guard lock(mutex_);
        final = have_final_loss_;
        if (final) l = final_loss_;
    }
    if (!final) l = instances_loss();
    l.unparsed = unparsed_;
    l.queue_dropped = queue_dropped_;
    return l;
}

bool RawCapture::poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) {
    bool done = false;
    {
        std::unique_lock lock(mutex_);
        // The last poll's pages are decoded: their buffers go back to the reader.
        for (auto& p : taken_)
            if (free_buffers_.size() < kMaxFreeBuffers) free_buffers_.push_back(std::move(p.bytes));
        taken_.clear();
        cv_.wait_for(lock, wait, [&] { return !queue_.empty() || reader_done_ || abort_; });
        while (!queue_.empty() && taken_.size() < kMaxPagesPerPoll) {
            queued_bytes_ -= queue_.front().bytes.size();
            budget_->give_back(queue_.front().bytes.size());
            taken_.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        done = (reader_done_ && queue_.empty()) || abort_;
    }
    if (abort_) return false;  // abort() counts what is left
    if (options_.page_tap)
        for (const auto& p : taken_)
            if (p.tap) options_.page_tap(p.cpu, p.bytes);
    // Decoded straight behind what is held; hold_new() puts them in order.
    const std::size_t first_new = held_.size();
    for (const auto& p : taken_) {
        auto counts = decoder_->decode(p.cpu, p.bytes.data(), p.bytes.size(), held_);
        if (counts.unknown) unparsed_ += counts.unknown;
    }
    const bool decoded_any = held_.size() > first_new;
    const std::uint64_t newest = decoded_any ? hold_new(first_new) : 0;
    const auto held = held_.begin() + static_cast<std::ptrdiff_t>(held_head_);
    const std::size_t holding = held_.size() - held_head_;
    if (holding == 0) return !done;
    // Hold back the newest events a little: an older one may still be on another CPU's page.
    // With nothing new this time, or at the end, everything goes.
    std::size_t emit = holding;
    if (!done && decoded_any && newest > options_.merge_window_ns) {
        auto oldest_kept = std::upper_bound(held, held_.end(), newest - options_.merge_window_ns,
                                            [](std::uint64_t t, const TraceEvent& e) { return t < e.timestamp_ns; });
        emit = static_cast<std::size_t>(oldest_kept - held);
        // A fast workload puts more than a batch into the window (20 ms at millions of events
        // a second): hold back at most kMaxHeldEvents, so a session's memory does not scale
        // with its event rate. When several CPUs run at full speed and the reader falls behind,
        // their skew in the queue can exceed that: their events then come out a few ms out of
        // order (each CPU's own stay in order; docs/api.md).
        if (holding - emit > kMaxHeldEvents) emit = holding - kMaxHeldEvents;
    }
    if (out.empty()) out.reserve(emit);  // not on a filled one: reserving exactly each time would be quadratic
    for (std::size_t k = 0; k < emit; ++k) {
        names_.name(held_[held_head_]);
        out.push_back(std::move(held_[held_head_++]));
    }
    // Handed-out events leave the front; the vector moves what stays down once it is mostly gone.
    if (held_head_ == held_.size()) {
        held_.clear();
        held_head_ = 0;
    } else if (held_head_ > held_.size() / 2) {
        held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(held_head_));
        held_head_ = 0;
    }
    return true;
}

std::uint64_t RawCapture::hold_new(std::size_t first) {
    const auto by_time = [](const TraceEvent& a, const TraceEvent& b) { return a.timestamp_ns < b.timestamp_ns; };
    const auto begin_new = held_.begin() + static_cast<std::ptrdiff_t>(first);
    // Usually in order already, and after what is held: one busy CPU, or pages of several that
    // do not overlap in time. Nothing moves then.
    if (std::is_sorted(begin_new, held_.end(), by_time) &&
        (first == held_head_ || held_[first - 1].timestamp_ns <= begin_new->timestamp_ns))
        return held_.back().timestamp_ns;
    fresh_.assign(std::make_move_iterator(begin_new), std::make_move_iterator(held_.end()));
    held_.erase(begin_new, held_.end());
    return hold_fresh();
}

std::uint64_t RawCapture::hold_fresh() {
    // Sort this poll's events by (timestamp, decode position): equal times keep their order. A
    // workload on one CPU gives them in order already (checking is linear).
    order_.clear();
    for (std::uint32_t i = 0; i < fresh_.size(); ++i) order_.emplace_back(fresh_[i].timestamp_ns, i);
    if (!std::ranges::is_sorted(order_)) std::ranges::sort(order_);
    // Held events newer than the oldest fresh one (pages of another CPU, read earlier) are taken
    // out and merged back with the fresh ones; held ones go first on equal times (read first).
    auto overlap = std::upper_bound(held_.begin() + static_cast<std::ptrdiff_t>(held_head_), held_.end(),
                                    order_.front().first,
                                    [](std::uint64_t t, const TraceEvent& e) { return t < e.timestamp_ns; });
    tail_.assign(std::make_move_iterator(overlap), std::make_move_iterator(held_.end()));
    held_.erase(overlap, held_.end());
    std::size_t t = 0;
    for (const auto& [timestamp, i] : order_) {
        for (; t < tail_.size() && tail_[t].timestamp_ns <= timestamp; ++t) held_.push_back(std::move(tail_[t]));
        held_.push_back(std::move(fresh_[i]));
    }
    for (; t < tail_.size(); ++t) held_.push_back(std::move(tail_[t]));
    tail_.clear();
    return order_.back().first;
}

}  // namespace ct::node
