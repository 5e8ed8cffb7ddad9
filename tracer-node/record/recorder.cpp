#include "tracer-node/record/recorder.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "common/strings.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_decode.h"
#include "tracer-node/record/clock_offset.h"
#include "tracer-node/record/recording_scan.h"
#include "tracer-node/record/zstd_codec.h"

namespace ct::node::record {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxTracefsText = 1 << 20;

Result<std::string> read_text(const std::string& path) {
    std::string text;
    if (int err = read_file(path, text, kMaxTracefsText); err != 0)
        return fail_errno(fmt::format("reading \"{}\"", path), err);
    return text;
}

std::int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string uname_text() {
    utsname u{};
    if (::uname(&u) != 0) return {};
    return fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
}

// Writes all of `parts` at the end of `fd`. 0 or an errno value.
int write_all(int fd, std::initializer_list<std::string_view> parts) {
    iovec iov[4];
    int n = 0;
    for (auto p : parts) iov[n++] = {const_cast<char*>(p.data()), p.size()};
    int first = 0;
    while (first < n) {
        ssize_t w = ::writev(fd, iov + first, n - first);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        auto left = static_cast<std::size_t>(w);
        while (first < n && left >= iov[first].iov_len) left -= iov[first++].iov_len;
        if (first < n) {
            iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return 0;
}

// Atomically (temp file + rename) writes `text` to `path`. 0 or an errno value.
int write_file_atomic(const std::string& path, std::string_view text) {
    const auto tmp = path + ".tmp";
    FD fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return errno;
    if (int err = write_all(fd.get(), {text}); err != 0) return err;
    if (::fsync(fd.get()) != 0) return errno;
    if (::rename(tmp.c_str(), path.c_str()) != 0) return errno;
    return 0;
}

// The thread group of a task from <procfs>/<tid>/status; the tid itself when gone.
pid_t thread_group_of(const std::string& procfs_root, pid_t tid) {
    std::string status;
    if (read_file(fmt::format("{}/{}/status", procfs_root, tid), status, 1 << 16) != 0) return tid;
    auto at = status.find("\nTgid:");
    if (at == std::string::npos) return tid;
    auto line = std::string_view(status).substr(at + 6);
    auto value = parse_u64(trim(line.substr(0, line.find('\n'))));
    return value && *value > 0 && *value <= INT32_MAX ? static_cast<pid_t>(*value) : tid;
}

}  // namespace

struct Recorder::Segment {
    std::uint64_t seq = 0;
    std::uint64_t run = 0;
    std::string path;
    std::uint64_t bytes = 0;
    std::uint64_t events = 0;
    std::vector<ScannedChunk> chunks;
};

// Tasks a run keeps in memory; tasks.jsonl holds them all (issue 15.3: a fork-heavy container
// must not grow tracer-node without bound).
constexpr std::size_t kMaxTasksInMemory = 4096;

struct Recorder::Run {
    RunMeta meta;
    std::string dir;
    std::vector<TaskInfo> tasks;
    std::unordered_map<pid_t, std::size_t> task_of;  // tid -> index in tasks
    // The table overflowed and was emptied: its tasks are in tasks.jsonl only (read by snapshot()).
    bool spilled = false;

    // Out-of-scope events (scope_scrub.h): spans per task, oldest first, all in memory (a span
    // only splits when the task's events are exported in between: one or two per task).
    ExcludedSpanBuilder excluded;

    // The open run only (the session's active one).
    FD tasks_fd;
    FD excluded_fd;
    std::unique_ptr<RawDecoder> counter;  // counts a page's records (no decode)
    std::vector<std::string> pending;     // per CPU: chunk_pages pages of page_size
    std::vector<std::uint32_t> pending_pages, pending_events;
    const TaskInfo* last_task = nullptr;  // most events repeat the previous task

    // Adds or updates a task; true when it changed. A new task past kMaxTasksInMemory empties the
    // table first: a task seen again is then noted (and appended to tasks.jsonl) again, where the
    // later line wins.
    bool note_task(TaskInfo task) {
        if (task_of.size() >= kMaxTasksInMemory && !task_of.contains(task.tid)) {
            tasks.clear();
            task_of.clear();
            last_task = nullptr;
            spilled = true;
        }
        auto [it, added] = task_of.emplace(task.tid, tasks.size());
        if (added) {
            tasks.push_back(std::move(task));
            return true;
        }
        auto& known = tasks[it->second];
        if (known.comm == task.comm && known.owner == task.owner) return false;
        known = std::move(task);
        return true;
    }
};

struct Recorder::Session {
    std::mutex mu;
    std::string id;
    std::string dir;
    std::vector<std::shared_ptr<Run>> runs;  // by run number
    std::deque<Segment> segments;            // by sequence number; the open one last
    FD segment_fd;                           // the open segment, appending
    std::uint64_t bytes = 0;                 // of every segment
    std::uint64_t next_segment = 1;
    std::uint64_t last_run = 0;
    ExportCounts counts;
    std::string damage;
    bool deleted = false;
    std::shared_ptr<Run> active;
    std::unique_ptr<ZstdCompressor> compressor;
    std::string frame;  // compression scratch
};

Result<std::shared_ptr<Recorder>> Recorder::open(RecorderOptions options) {
    if (options.chunk_pages == 0) options.chunk_pages = 1;
    // A chunk of the largest sub-buffers must fit in a segment, and a segment in the limit.
    if (options.session_limit < (1u << 20))
        return fail(Errc::kInvalidArgument,
                    fmt::format("record limit {} bytes is below the 1 MiB minimum", options.session_limit));
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec) return fail(Errc::kIo, fmt::format("creating record directory \"{}\": {}", options.dir, ec.message()));
    fs::permissions(options.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    std::shared_ptr<Recorder> r(new Recorder(std::move(options)));
    for (const auto& entry : fs::directory_iterator(r->options_.dir, ec)) {
        auto id = parse_session_dir_name(entry.path().filename().string());
        if (!id || !entry.is_directory(ec)) continue;  // not ours: a record dir may hold other things
        auto scanned = scan_session_dir(entry.path().string());
        auto s = std::make_shared<Session>();
        s->id = *id;
        s->dir = entry.path().string();
        s->damage = std::move(scanned.damage);
        // Numbers go on after everything on disk, also what a damaged recording left unread.
        s->last_run = scanned.last_run;
        s->next_segment = scanned.last_segment + 1;
        if (!s->damage.empty()) spdlog::error("recording of trace session {} is damaged: {}", s->id, s->damage);
        for (auto& sr : scanned.runs) {
            auto run = std::make_shared<Run>();
            run->meta = std::move(sr.meta);
            run->dir = std::move(sr.dir);
            for (auto& t : sr.tasks) run->note_task(std::move(t));
            run->excluded = ExcludedSpanBuilder(std::move(sr.excluded));
            s->last_run = std::max(s->last_run, run->meta.run);
            s->runs.push_back(std::move(run));
        }
        for (auto& seg : scanned.segments) {
            Segment g{seg.seq, seg.run, std::move(seg.path), seg.bytes, 0, std::move(seg.chunks)};
            for (const auto& c : g.chunks) g.events += c.header.events;
            s->bytes += g.bytes;
            s->counts.exported += g.events;
            s->next_segment = std::max(s->next_segment, g.seq + 1);
            s->segments.push_back(std::move(g));
        }
        s->compressor = std::make_unique<ZstdCompressor>(r->options_.zstd_level);
        r->sessions_.emplace(s->id, std::move(s));
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing record directory \"{}\": {}", r->options_.dir, ec.message()));
    if (!r->sessions_.empty()) spdlog::info("loaded the recordings of {} trace sessions from {}", r->sessions_.size(), r->options_.dir);
    return r;
}

Recorder::Recorder(RecorderOptions options)
    : options_(std::move(options)),
      // The oldest pages go a segment at a time: a sixteenth of the limit keeps the recording
      // within 94..100% of it once full.
      segment_bytes_(std::clamp<std::uint64_t>(options_.session_limit / 16, 64 << 10, 16 << 20)) {}

Recorder::~Recorder() {
    // Runs still open (their captures ended without on_run_stop): their pending chunks go to disk.
    for (const auto& id : sessions())
        if (auto s = find(id)) {
            std::lock_guard lock(s->mu);
            close_run(*s);
        }
}

std::shared_ptr<Recorder::Session> Recorder::find(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    return it == sessions_.end() ? nullptr : it->second;
}

std::shared_ptr<Recorder::Session> Recorder::find_or_create(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    auto& s = sessions_[session_id];
    if (!s) {
        s = std::make_shared<Session>();
        s->id = session_id;
        s->dir = (fs::path(options_.dir) / session_dir_name(session_id)).string();
        s->compressor = std::make_unique<ZstdCompressor>(options_.zstd_level);
    }
    return s;
}

Result<PageTap> Recorder::start_run(const EventContext& context, const std::string& instance_dir) {
    // What a trace.dat needs, read before the first page arrives.
    auto run = std::make_shared<Run>();
    RunMeta& m = run->meta;
    m.node = context.node;
    m.session_id = context.session_id;
    m.hook = context.hook;
    m.instance = instance_dir;
    auto formats = ftrace::read_enabled_formats(instance_dir);
    if (!formats) return std::unexpected(formats.error());
    m.formats = std::move(*formats);
    const auto tracing_dir = ftrace::tracing_dir_of(instance_dir);
    auto header_page = read_text(tracing_dir + "/events/header_page");
    if (!header_page) return std::unexpected(header_page.error());
    m.header_page = std::move(*header_page);
    auto header_event = read_text(tracing_dir + "/events/header_event");
    if (!header_event) return std::unexpected(header_event.error());
    m.header_event = std::move(*header_event);
    auto buffers = ftrace::cpu_buffers(instance_dir);
    if (!buffers) return std::unexpected(buffers.error());
    m.cpus = static_cast<std::uint32_t>(buffers->back().cpu + 1);  // sorted by CPU
    // Sub-buffers are a page unless the instance says otherwise (as RawCapture reads them).
    m.page_size = static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
    if (auto kb = read_text(instance_dir + "/buffer_subbuf_size_kb"))
        if (auto v = parse_u64(trim(*kb)); v && *v * 1024 > m.page_size && *v <= 1024) m.page_size = static_cast<std::uint32_t>(*v * 1024);
    auto clock = read_text(instance_dir + "/trace_clock");
    if (!clock) return std::unexpected(clock.error());
    m.trace_clock = selected_clock(*clock);
    if (clock_counts_ns(m.trace_clock)) {
        if (auto offset = measure_clock_offset(buffers->front().stats_path))
            m.realtime_offset_ns = offset->realtime_minus_trace_ns;
        else
            spdlog::warn("session {}: no clock offset for its recording: {}", context.session_id, offset.error().message);
    }
    m.started_unix_ns = realtime_ns();
    m.uname = uname_text();
    auto counter = RawDecoder::from_formats(m.header_page, m.formats);
    if (!counter) return std::unexpected(Error::wrap(counter.error(), fmt::format("event formats of {}", instance_dir)));
    run->counter = std::move(*counter);
    run->pending.resize(m.cpus);
    run->pending_pages.assign(m.cpus, 0);
    run->pending_events.assign(m.cpus, 0);

    auto s = find_or_create(context.session_id);
    std::lock_guard lock(s->mu);
    if (s->deleted) return fail(Errc::kNotFound, fmt::format("trace session {} is being deleted", context.session_id));
    close_run(*s);
    m.run = ++s->last_run;
    run->dir = (fs::path(s->dir) / run_dir_name(m.run)).string();
    std::error_code ec;
    fs::create_directories(run->dir, ec);
    if (ec) return fail(Errc::kIo, fmt::format("creating \"{}\": {}", run->dir, ec.message()));
    if (int err = write_file_atomic(run->dir + "/meta.json", encode_meta(m)); err != 0)
        return fail_errno(fmt::format("writing \"{}/meta.json\"", run->dir), err);
    const auto tasks_path = run->dir + "/tasks.jsonl";
    run->tasks_fd = FD(::open(tasks_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!run->tasks_fd) return fail_errno(fmt::format("opening \"{}\"", tasks_path));
    const auto excluded_path = run->dir + "/excluded.jsonl";
    run->excluded_fd = FD(::open(excluded_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!run->excluded_fd) return fail_errno(fmt::format("opening \"{}\"", excluded_path));
    s->runs.push_back(run);
    s->active = run;
    spdlog::info("session {}: recording run {} of {} ({} CPUs, {} byte pages, clock {}, offset to realtime {})",
                 context.session_id, m.run, instance_dir, m.cpus, m.page_size, m.trace_clock,
                 m.realtime_offset_ns ? fmt::format("{} ns", *m.realtime_offset_ns) : std::string("unknown"));
    return PageTap([self = shared_from_this(), s, run](int cpu, std::string_view subbuf) {
        self->tap(*s, run, cpu, subbuf);
    });
}

void Recorder::tap(Session& s, const std::shared_ptr<Run>& run, int cpu, std::string_view subbuf) {
    std::lock_guard lock(s.mu);
    if (s.deleted || s.active != run || cpu < 0 || static_cast<std::uint32_t>(cpu) >= run->meta.cpus) return;
    const auto c = static_cast<std::uint32_t>(cpu);
    const std::size_t page = run->meta.page_size;
    auto& buf = run->pending[c];
    if (buf.empty()) buf.resize(page * options_.chunk_pages);
    const std::size_t n = std::min(subbuf.size(), page);
    char* dst = buf.data() + run->pending_pages[c] * page;
    std::memcpy(dst, subbuf.data(), n);
    std::memset(dst + n, 0, page - n);  // trace-cmd reads whole pages; the commit field says what is used
    run->pending_events[c] += static_cast<std::uint32_t>(run->counter->count(subbuf.data(), n));
    if (++run->pending_pages[c] == options_.chunk_pages) flush_cpu(s, *run, c);
}

Status Recorder::open_segment(Session& s, Run& run) {
    s.segment_fd.reset();
    const auto seq = s.next_segment++;
    auto path = (fs::path(run.dir) / segment_name(seq)).string();
    FD fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) return fail_errno(fmt::format("creating \"{}\"", path));
    if (int err = write_all(fd.get(), {kSegmentMagic}); err != 0) {
        ::unlink(path.c_str());
        return fail_errno(fmt::format("writing \"{}\"", path), err);
    }
    s.segments.push_back({seq, run.meta.run, std::move(path), kSegmentMagic.size(), 0, {}});
    s.bytes += kSegmentMagic.size();
    s.segment_fd = std::move(fd);
    return {};
}

void Recorder::flush_cpu(Session& s, Run& run, std::uint32_t cpu) {
    const std::uint32_t pages = run.pending_pages[cpu];
    if (pages == 0) return;
    ChunkHeader h{cpu, pages, run.pending_events[cpu], pages * run.meta.page_size, 0};
    run.pending_pages[cpu] = 0;
    run.pending_events[cpu] = 0;
    auto failed = [&](const Error& e) {
        // Counted, logged once a while: a full disk would otherwise log every chunk.
        if (s.counts.errors++ % 1000 == 0) spdlog::error("session {}: recording: {}", s.id, e.message);
        s.counts.dropped += h.events;
    };
    if (auto done = s.compressor->compress(std::string_view(run.pending[cpu].data(), h.usize), s.frame); !done)
        return failed(done.error());
    h.zsize = static_cast<std::uint32_t>(s.frame.size());
    if (!s.segment_fd || s.segments.back().run != run.meta.run || s.segments.back().bytes >= segment_bytes_) {
        if (auto opened = open_segment(s, run); !opened) return failed(opened.error());
    }
    auto& seg = s.segments.back();
    const auto header = encode_chunk_header(h);
    if (int err = write_all(s.segment_fd.get(), {header, s.frame}); err != 0) {
        // A partial append would make the rest of the segment unreadable: start a new one.
        s.segment_fd.reset();
        if (::truncate(seg.path.c_str(), static_cast<off_t>(seg.bytes)) != 0)
            spdlog::warn("session {}: cutting a failed append off \"{}\": {}", s.id, seg.path, std::strerror(errno));
        return failed(Error{Errc::kIo, fmt::format("writing \"{}\": {}", seg.path, std::strerror(err))});
    }
    seg.chunks.push_back({seg.bytes + kChunkHeaderSize, h});
    seg.bytes += kChunkHeaderSize + h.zsize;
    seg.events += h.events;
    s.bytes += kChunkHeaderSize + h.zsize;
    s.counts.exported += h.events;
    enforce_limit(s);
}

void Recorder::enforce_limit(Session& s) {
    while (s.bytes > options_.session_limit && s.segments.size() > 1) {
        Segment old = std::move(s.segments.front());
        s.segments.pop_front();
        if (::unlink(old.path.c_str()) != 0 && errno != ENOENT)
            spdlog::warn("session {}: removing recorded segment \"{}\": {}", s.id, old.path, std::strerror(errno));
        s.bytes -= old.bytes;
        s.counts.dropped += old.events;
        // A closed run left without pages has nothing to export any more: its directory goes too.
        bool kept = std::ranges::any_of(s.segments, [&](const Segment& g) { return g.run == old.run; });
        if (kept || (s.active && s.active->meta.run == old.run)) continue;
        std::erase_if(s.runs, [&](const std::shared_ptr<Run>& r) {
            if (r->meta.run != old.run) return false;
            std::error_code ec;
            fs::remove_all(r->dir, ec);
            return true;
        });
    }
}

void Recorder::close_run(Session& s) {
    if (!s.active) return;
    auto& run = *s.active;
    for (std::uint32_t c = 0; c < run.meta.cpus; ++c) flush_cpu(s, run, c);
    s.segment_fd.reset();
    run.tasks_fd.reset();
    run.excluded_fd.reset();
    run.excluded.close_all();
    run.counter.reset();
    run.pending = {};
    run.last_task = nullptr;
    if (!s.deleted) {
        FD ended(::open((run.dir + "/ended").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        if (!ended) spdlog::warn("session {}: marking run {} ended: {}", s.id, run.meta.run, std::strerror(errno));
    }
    s.active = nullptr;
}

void Recorder::on_run_stop(const EventContext& context) {
    auto s = find(context.session_id);
    if (!s) return;
    std::lock_guard lock(s->mu);
    close_run(*s);
}

void Recorder::export_events(const EventContext& context, std::span<const EnrichedEvent> events) {
    auto s = find(context.session_id);
    if (!s) return;
    std::lock_guard lock(s->mu);
    auto run = s->active;
    if (!run || s->deleted) return;
    for (const auto& e : events) {
        const auto& ev = e.event;
        // Exported now: the task's out-of-scope span, if any, is over.
        run->excluded.in_scope(ev.pid);
        if (run->last_task && run->last_task->tid == ev.pid && run->last_task->comm == ev.comm) continue;
        std::optional<EventOwner> owner;
        if (e.owner) owner = *e.owner;
        auto known = run->task_of.find(ev.pid);
        pid_t tgid = known != run->task_of.end() ? run->tasks[known->second].tgid
                                                 : thread_group_of(options_.procfs_root, ev.pid);
        if (run->note_task({ev.pid, tgid, ev.comm, std::move(owner)})) {
            auto line = encode_task(run->tasks[run->task_of.at(ev.pid)]) + "\n";
            if (int err = write_all(run->tasks_fd.get(), {line}); err != 0 && s->counts.errors++ % 1000 == 0)
                spdlog::error("session {}: recording task names: {}", s->id, std::strerror(err));
        }
        run->last_task = &run->tasks[run->task_of.at(ev.pid)];
    }
}

void Recorder::export_out_of_scope(const EventContext& context, std::span<const TraceEvent* const> events) {
    auto s = find(context.session_id);
    if (!s) return;
    std::lock_guard lock(s->mu);
    auto run = s->active;
    if (!run || s->deleted) return;
    // Grow each task's open span (events come in time order); write each span touched once.
    std::vector<std::size_t> touched;
    for (const TraceEvent* e : events) touched.push_back(run->excluded.out_of_scope(e->pid, e->timestamp_ns));
    std::ranges::sort(touched);
    touched.erase(std::ranges::unique(touched).begin(), touched.end());
    // Later lines of the same span (same Tid and From) only grow it: the scan merges them.
    std::string lines;
    for (auto i : touched) lines += encode_excluded(run->excluded.spans()[i]) + "\n";
    if (int err = write_all(run->excluded_fd.get(), {lines}); err != 0 && s->counts.errors++ % 1000 == 0)
        spdlog::error("session {}: recording out-of-scope events: {}", s->id, std::strerror(err));
}

// Every task of a run whose table spilled, from its tasks.jsonl (whole lines: they are written
// under the session's lock, which the caller holds). Unreadable lines are skipped and logged.
std::vector<TaskInfo> Recorder::tasks_on_disk(const Run& run) {
    std::vector<TaskInfo> out;
    std::string text;
    const auto path = run.dir + "/tasks.jsonl";
    if (int err = read_file(path, text, std::size_t(1) << 30); err != 0) {
        spdlog::error("recording {}: reading \"{}\": {}", run.meta.session_id, path, std::strerror(err));
        return out;
    }
    std::unordered_map<pid_t, std::size_t> index;
    for (std::size_t start = 0; start < text.size();) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) break;
        auto task = decode_task(std::string_view(text).substr(start, end - start));
        start = end + 1;
        if (!task) continue;
        auto [it, added] = index.emplace(task->tid, out.size());
        if (added) out.push_back(std::move(*task));
        else out[it->second] = std::move(*task);  // the later line wins
    }
    return out;
}

Result<Recording> Recorder::snapshot(const std::string& session_id) {
    auto s = find(session_id);
    if (!s) return fail(Errc::kNotFound, fmt::format("nothing was recorded for trace session {}", session_id));
    std::lock_guard lock(s->mu);
    if (s->deleted) return fail(Errc::kNotFound, fmt::format("nothing was recorded for trace session {}", session_id));
    if (!s->damage.empty())
        return fail(Errc::kIo, fmt::format("the recording of trace session {} is damaged: {}", session_id, s->damage));
    // What the tap holds in pending chunks is part of "recorded so far".
    if (s->active)
        for (std::uint32_t c = 0; c < s->active->meta.cpus; ++c) flush_cpu(*s, *s->active, c);
    Recording r;
    r.session_id = session_id;
    std::unordered_map<std::uint64_t, std::size_t> run_index;
    for (const auto& run : s->runs) {
        run_index[run->meta.run] = r.runs.size();
        r.runs.push_back({run->meta, run->spilled ? tasks_on_disk(*run) : run->tasks, run->excluded.spans()});
    }
    for (const auto& seg : s->segments) {
        auto ri = run_index.find(seg.run);
        if (ri == run_index.end()) continue;
        FD fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return fail_errno(fmt::format("opening \"{}\"", seg.path));
        r.segments.push_back({seg.path, std::make_shared<const FD>(std::move(fd))});
        for (const auto& c : seg.chunks) r.chunks.push_back({ri->second, r.segments.size() - 1, c.offset, c.header});
    }
    return r;
}

std::vector<std::string> Recorder::sessions() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [id, s] : sessions_) out.push_back(id);
    return out;
}

void Recorder::prune(const std::set<std::string>& keep) {
    for (const auto& id : sessions())
        if (!keep.contains(id)) {
            spdlog::info("deleting the recording of trace session {}: the session is gone", id);
            forget_session(id);
        }
}

ExportCounts Recorder::session_counts(const std::string& session_id) const {
    auto s = find(session_id);
    if (!s) return {};
    std::lock_guard lock(s->mu);
    return s->counts;
}

ExportCounts Recorder::total_counts() const {
    std::vector<std::shared_ptr<Session>> all;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, s] : sessions_) all.push_back(s);
    }
    ExportCounts t = totals_;
    for (const auto& s : all) {
        std::lock_guard lock(s->mu);
        t.exported += s->counts.exported;
        t.dropped += s->counts.dropped;
        t.errors += s->counts.errors;
    }
    return t;
}

void Recorder::forget_session(const std::string& session_id) {
    std::shared_ptr<Session> s;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;
        s = std::move(it->second);
        sessions_.erase(it);
    }
    std::lock_guard lock(s->mu);
    s->deleted = true;
    close_run(*s);
    // Counted in the totals still: the node did record them.
    {
        std::lock_guard totals_lock(mutex_);
        totals_.exported += s->counts.exported;
        totals_.dropped += s->counts.dropped;
        totals_.errors += s->counts.errors;
    }
    std::error_code ec;
    fs::remove_all(s->dir, ec);
    if (ec) spdlog::error("deleting the recording of trace session {} (\"{}\"): {}", session_id, s->dir, ec.message());
}

}  // namespace ct::node::record
