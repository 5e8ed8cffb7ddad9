#include "tracer-node/record/export_stream.h"

#include <cstring>
#include <map>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/pull_stream.h"
#include "common/strings.h"
#include "tracer-node/capture/raw_decode.h"
#include "tracer-node/capture/task_names.h"
#include "tracer-node/capture/trace_line_parse.h"
#include "tracer-node/record/chrome_trace_writer.h"
#include "tracer-node/record/scope_scrub.h"
#include "tracer-node/record/zstd_codec.h"

namespace ct::node::record {

namespace {

// Whether `run` can share a file (one set of formats) with `base`.
bool compatible(const RunMeta& base, const RunMeta& run) {
    if (run.page_size != base.page_size || run.header_page != base.header_page) return false;
    std::map<std::pair<std::string, std::string>, const std::string*> texts;
    for (const auto& f : base.formats) texts[{f.system, f.name}] = &f.text;
    for (const auto& f : run.formats)
        if (auto it = texts.find({f.system, f.name}); it != texts.end() && *it->second != f.text) return false;
    return true;
}

std::vector<std::string> format_texts(const RunMeta& meta) {
    std::vector<std::string> texts;
    for (const auto& f : meta.formats) texts.push_back(f.text);
    return texts;
}

// A run's out-of-scope records, hidden in its pages before anything reads them (scope_scrub.h).
class RunScrub {
public:
    explicit RunScrub(const RecordedRun& run)
        : excluded_(run.excluded),
          page_size_(run.meta.page_size),
          commit_bytes_(commit_bytes_of(run.meta.header_page)),
          pid_offset_(excluded_.empty() ? -1 : common_pid_offset(format_texts(run.meta))) {}
    bool active() const { return !excluded_.empty(); }

    // Rewrites each page of `pages` (whole pages); returns the records hidden. Formats that do not
    // say where common_pid is cannot be scrubbed: then every page is emptied instead.
    std::size_t scrub(std::string& pages) const {
        std::size_t hidden = 0;
        for (std::size_t at = 0; at + page_size_ <= pages.size(); at += page_size_) {
            if (pid_offset_ < 0) empty_page(pages.data() + at);
            else hidden += scrub_page(pages.data() + at, page_size_, commit_bytes_, pid_offset_, excluded_);
        }
        return pid_offset_ < 0 ? pages.size() / std::max<std::size_t>(page_size_, 1) : hidden;
    }
    // Every page of `pages` without records (commit 0), its time kept.
    void empty_all(std::string& pages) const {
        for (std::size_t at = 0; at + page_size_ <= pages.size(); at += page_size_) empty_page(pages.data() + at);
    }

private:
    void empty_page(char* page) const { std::memset(page + 8, 0, page_size_ - 8); }

    ExcludedEvents excluded_;
    std::size_t page_size_;
    int commit_bytes_;
    int pid_offset_;
};

class DatStream : public http::PullSource {
public:
    DatStream(Recording recording, DatPlan plan, std::vector<DatPiece> pieces)
        : recording_(std::move(recording)), plan_(std::move(plan)), pieces_(std::move(pieces)) {
        for (const auto& run : recording_.runs) scrubs_.emplace_back(run);
    }

    std::optional<std::string> next(std::chrono::milliseconds) override {
        if (next_ >= pieces_.size()) return std::nullopt;
        std::string out;
        while (next_ < pieces_.size() && out.size() < kPieceBytes) {
            const auto& p = pieces_[next_++];
            if (p.cpu < 0) {
                out += p.bytes;
                continue;
            }
            const auto& chunk = recording_.chunks[plan_.chunks[static_cast<std::size_t>(p.cpu)][p.chunk]];
            auto frame = recording_.read_frame(chunk);
            if (frame) frame = hide_out_of_scope(std::move(*frame), chunk);
            if (!frame) {
                // The sizes are announced already: a file without this chunk would be wrong.
                // End it short; trace-cmd reports the file as truncated.
                spdlog::error("trace.dat of session {}: {}", recording_.session_id, frame.error().message);
                next_ = pieces_.size();
                break;
            }
            out += *frame;
        }
        return out;
    }
    void close() override { next_ = pieces_.size(); }

private:
    // The frame with its run's out-of-scope records hidden, in exactly its size (the file has
    // announced it): recompressed, then padded with a skippable frame.
    Result<std::string> hide_out_of_scope(std::string frame, const RecordedChunk& chunk) {
        const auto& scrub = scrubs_[chunk.run];
        if (!scrub.active()) return frame;
        if (auto unpacked = unzstd_.decompress(frame, chunk.header.usize, pages_); !unpacked)
            return std::unexpected(unpacked.error());
        if (scrub.scrub(pages_) == 0) return frame;
        auto fit = [&]() -> std::optional<std::string> {
            for (int level : {3, 19}) {
                std::string out;
                if (!ZstdCompressor(level).compress(pages_, out)) continue;
                if (out.size() == frame.size() || out.size() + 8 <= frame.size()) {
                    append_skippable_frame(out, frame.size() - out.size());
                    return out;
                }
            }
            return std::nullopt;
        };
        if (auto out = fit()) return std::move(*out);
        // Zeroed records made the pages compress worse (never seen): the chunk's pages go empty.
        spdlog::warn("trace.dat of session {}: a chunk of CPU {} left out: its pages with out-of-scope events hidden "
                     "no longer fit its size",
                     recording_.session_id, chunk.header.cpu);
        scrub.empty_all(pages_);
        if (auto out = fit()) return std::move(*out);
        return fail(Errc::kInternal, "a chunk with out-of-scope events could not be rewritten in its size");
    }

    Recording recording_;
    DatPlan plan_;
    std::vector<DatPiece> pieces_;
    std::size_t next_ = 0;
    std::vector<RunScrub> scrubs_;  // per run
    ZstdDecompressor unzstd_;
    std::string pages_;  // a chunk being rewritten
};

// One run's pages, decoded a chunk at a time per CPU and merged in timestamp order.
class RunEvents {
public:
    RunEvents(const Recording& recording, std::size_t run, std::unique_ptr<RawDecoder> decoder)
        : recording_(recording),
          meta_(recording.runs[run].meta),
          decoder_(std::move(decoder)),
          cpus_(meta_.cpus),
          scrub_(recording.runs[run]) {
        for (std::size_t i = 0; i < recording.chunks.size(); ++i)
            if (recording.chunks[i].run == run) cpus_[recording.chunks[i].header.cpu].chunks.push_back(i);
    }

    // The next event in timestamp order; null at the end. Valid until the next call.
    TraceEvent* next() {
        Cpu* best = nullptr;
        for (auto& c : cpus_) {
            if (!fill(c)) continue;
            if (!best || c.events[c.pos].timestamp_ns < best->events[best->pos].timestamp_ns) best = &c;
        }
        return best ? &best->events[best->pos++] : nullptr;
    }
    std::uint64_t errors() const { return errors_; }

private:
    struct Cpu {
        std::vector<std::size_t> chunks;  // indices into Recording::chunks
        std::size_t next_chunk = 0;
        std::string pages;  // the current chunk, decompressed
        std::size_t page_count = 0, next_page = 0;
        std::vector<TraceEvent> events;  // of the current page
        std::size_t pos = 0;
    };

    // Makes c.events[c.pos] the CPU's next event; false when it has none left.
    bool fill(Cpu& c) {
        while (c.pos >= c.events.size()) {
            c.events.clear();
            c.pos = 0;
            if (c.next_page < c.page_count) {
                const auto cpu = static_cast<int>(&c - cpus_.data());
                decoder_->decode(cpu, c.pages.data() + c.next_page * meta_.page_size, meta_.page_size, c.events);
                ++c.next_page;
                continue;
            }
            if (c.next_chunk >= c.chunks.size()) return false;
            const auto& chunk = recording_.chunks[c.chunks[c.next_chunk++]];
            auto frame = recording_.read_frame(chunk);
            Status unpacked = frame ? unzstd_.decompress(*frame, chunk.header.usize, c.pages)
                                    : Status(std::unexpected(frame.error()));
            if (!unpacked) {
                if (errors_++ == 0)
                    spdlog::error("export of session {}: skipping a chunk of CPU {}: {}", recording_.session_id,
                                  chunk.header.cpu, unpacked.error().message);
                c.page_count = c.next_page = 0;
                continue;
            }
            if (scrub_.active()) scrub_.scrub(c.pages);
            c.page_count = chunk.header.usize / meta_.page_size;
            c.next_page = 0;
        }
        return true;
    }

    const Recording& recording_;
    const RunMeta& meta_;
    std::unique_ptr<RawDecoder> decoder_;
    std::vector<Cpu> cpus_;
    RunScrub scrub_;
    ZstdDecompressor unzstd_;
    std::uint64_t errors_ = 0;
};

// The decoder of one recorded run; null (logged, naming the export `what`) when its formats do
// not parse.
std::unique_ptr<RawDecoder> run_decoder(const Recording& rec, const RecordedRun& run, std::string_view what) {
    auto decoder = RawDecoder::from_formats(run.meta.header_page, run.meta.formats);
    if (decoder) return std::move(*decoder);
    spdlog::error("{} of session {}: run {}: {}", what, rec.session_id, run.meta.run, decoder.error().message);
    return nullptr;
}

// A stream of a recording's events, written a step (an event, or a run's start or end) at a
// time until a piece is full: the subclass writes, this serves the pieces.
class StepStream : public http::PullSource {
public:
    std::optional<std::string> next(std::chrono::milliseconds) override {
        if (done_) return std::nullopt;
        std::string out;
        while (!done_ && out.size() < kPieceBytes) step(out);
        return out;
    }
    void close() override {
        done_ = true;
        run_.reset();
    }

protected:
    // Appends the next step's text; sets done_ at the end.
    virtual void step(std::string& out) = 0;
    bool done_ = false;
    std::unique_ptr<RunEvents> run_;  // the run being written
};

// Owners of a run's tasks as the live capture has them (CaptureRun::run): the recording's, or a
// parent's, from a fork event of the run. Fed every event of the run in time order.
class RunOwners {
public:
    explicit RunOwners(const RecordedRun& run) {
        for (const auto& t : run.tasks) tasks_[t.tid] = &t;
    }
    // Notes a fork (the child gets its parent's owner) before the event is judged; returns the
    // event's process change, for done() after.
    std::optional<ProcessChange> note(const TraceEvent& e) {
        if (!e.type || e.type->lifecycle() == EventType::Lifecycle::kNone) return std::nullopt;
        auto change = process_change(e);
        if (change && change->kind == ProcessChange::kFork)
            if (const auto* parent = owner_of(e.pid)) inherited_[change->pid] = parent;
        return change;
    }
    // The event has been judged: an exit ends its task's inherited owner.
    void done(const std::optional<ProcessChange>& change) {
        if (change && change->kind == ProcessChange::kExit) inherited_.erase(change->pid);
    }
    const EventOwner* owner_of(pid_t pid) const {
        if (auto it = inherited_.find(pid); it != inherited_.end()) return it->second;
        auto it = tasks_.find(pid);
        return it != tasks_.end() && it->second->owner ? &*it->second->owner : nullptr;
    }
    const TaskInfo* task(pid_t pid) const {
        auto it = tasks_.find(pid);
        return it != tasks_.end() ? it->second : nullptr;
    }

private:
    std::unordered_map<pid_t, const TaskInfo*> tasks_;
    std::unordered_map<pid_t, const EventOwner*> inherited_;  // tid -> its parent's owner (fork)
};

class JsonStream : public StepStream {
public:
    JsonStream(std::vector<Recording> recordings, JsonExportOptions options)
        : recordings_(std::move(recordings)),
          options_(std::move(options)),
          writer_({.pid_base = options_.pid_base, .process_prefix = options_.process_prefix,
                   .sort_index = options_.sort_index}) {}

private:
    // Opens the document, or writes one event, or moves to the next run, or ends the document.
    void step(std::string& out) override {
        if (!opened_) {
            if (!options_.events_only) ChromeTraceWriter::open_document(out);
            opened_ = true;
        }
        if (!run_ && !open_next_run()) {
            if (!options_.events_only) {
                auto other = options_.other_data;
                other.emplace_back("clock", options_.realtime ? "CLOCK_REALTIME (each run's measured offset applied)"
                                                              : "the trace clock of the recorded ftrace instances");
                if (errors_) other.emplace_back("unreadable_chunks", std::to_string(errors_));
                if (unknown_offsets_) other.emplace_back("runs_without_clock_offset", std::to_string(unknown_offsets_));
                writer_.close_document(out, other);
            }
            done_ = true;
            return;
        }
        const TraceEvent* e = run_->next();
        if (!e) {
            writer_.flush(out);  // syscalls of this run still waiting for their exit
            errors_ += run_->errors();
            run_.reset();
            return;
        }
        // The hook's fork and exec events keep names right; users did not ask for them (the
        // JSON-lines sink leaves them out too).
        if (auto change = process_change(*e)) {
            if (!change->comm.empty()) comms_[change->pid] = change->comm;
            return;
        }
        ChromeTask task{e->pid, "<...>", nullptr};
        if (auto it = tasks_.find(e->pid); it != tasks_.end()) {
            task.tgid = it->second->tgid;
            task.comm = it->second->comm;
            task.owner = it->second->owner ? &*it->second->owner : nullptr;
        } else if (auto c = comms_.find(e->pid); c != comms_.end()) {
            task.comm = c->second;
        }
        writer_.add(out, *e, task, offset_);
    }

    bool open_next_run() {
        while (recording_ < recordings_.size()) {
            const auto& rec = recordings_[recording_];
            if (run_index_ >= rec.runs.size()) {
                ++recording_;
                run_index_ = 0;
                continue;
            }
            const auto& run = rec.runs[run_index_++];
            auto decoder = run_decoder(rec, run, "trace.json");
            if (!decoder) {
                ++errors_;
                continue;
            }
            tasks_.clear();
            comms_.clear();
            for (const auto& t : run.tasks) tasks_[t.tid] = &t;
            offset_ = 0;
            if (options_.realtime) {
                if (run.meta.realtime_offset_ns) offset_ = *run.meta.realtime_offset_ns;
                else ++unknown_offsets_;
            }
            run_ = std::make_unique<RunEvents>(rec, run_index_ - 1, std::move(decoder));
            return true;
        }
        return false;
    }

    std::vector<Recording> recordings_;
    JsonExportOptions options_;
    ChromeTraceWriter writer_;
    bool opened_ = false;
    std::size_t recording_ = 0, run_index_ = 0;
    std::unordered_map<pid_t, const TaskInfo*> tasks_;
    std::unordered_map<pid_t, std::string> comms_;
    std::int64_t offset_ = 0;
    std::uint64_t errors_ = 0, unknown_offsets_ = 0;
};

class JsonLinesStream : public StepStream {
public:
    JsonLinesStream(Recording recording, JsonLinesExportOptions options)
        : recording_(std::move(recording)), options_(std::move(options)), writer_(options_.context) {
        names_.emplace([](pid_t) { return std::string("<...>"); });
    }

private:
    // Writes one event's line (or none), or moves to the next run, or ends.
    void step(std::string& out) override {
        if (!run_ && !open_next_run()) {
            write_extra(out);  // later than every event
            done_ = true;
            return;
        }
        TraceEvent* e = run_->next();
        if (!e) {
            run_.reset();
            return;
        }
        if (options_.extra && !extra_written_ && options_.extra->timestamp_ns < e->timestamp_ns) write_extra(out);
        names_->name(*e);
        // As CaptureRun::run: lifecycle events keep owners right and are bookkeeping unless asked for.
        auto change = owners_->note(*e);
        const bool bookkeeping = change && !options_.export_lifecycle.contains(e->type->name());
        if (const auto* owner = bookkeeping ? nullptr : owners_->owner_of(e->pid);
            owner && options_.scope.contains({owner->pod, owner->container})) {
            writer_.append(out, *e, owner);
            out += '\n';
        }
        owners_->done(change);
    }

    void write_extra(std::string& out) {
        if (!options_.extra || extra_written_) return;
        extra_written_ = true;
        names_->name(*options_.extra);
        writer_.append(out, *options_.extra, owners_ ? owners_->owner_of(options_.extra->pid) : nullptr);
        out += '\n';
    }

    bool open_next_run() {
        while (run_index_ < recording_.runs.size()) {
            const auto& run = recording_.runs[run_index_++];
            auto decoder = run_decoder(recording_, run, "JSON lines");
            if (!decoder) continue;
            owners_.emplace(run);
            names_.emplace([this](pid_t pid) {
                const auto* task = owners_->task(pid);
                return task && !task->comm.empty() ? task->comm : std::string("<...>");
            });
            run_ = std::make_unique<RunEvents>(recording_, run_index_ - 1, std::move(decoder));
            return true;
        }
        return false;
    }

    Recording recording_;
    JsonLinesExportOptions options_;
    EventJsonWriter writer_;
    bool extra_written_ = false;
    std::size_t run_index_ = 0;
    std::optional<RunOwners> owners_;  // of the current run
    std::optional<TaskNames> names_;
};

}  // namespace

Result<JsonQuery> parse_json_query(std::string_view query, JsonQuery q) {
    constexpr std::uint64_t kMaxPidBase = 1ull << 52;  // pids stay exact as JSON numbers (doubles)
    const auto text = to_valid_utf8(query);  // error messages quote it into JSON
    for (auto param : split_any(text, "&")) {
        auto eq = param.find('=');
        auto key = std::string_view(param).substr(0, eq);
        auto value = eq == std::string::npos ? std::string_view() : std::string_view(param).substr(eq + 1);
        auto flag = [&](bool& into) -> Status {
            if (value == "1" || value == "true") into = true;
            else if (value == "0" || value == "false") into = false;
            else return fail(Errc::kInvalidArgument, fmt::format("query parameter {} must be 0 or 1, not \"{}\"", key, value));
            return {};
        };
        Status ok;
        if (key == "clock") {
            if (value == "realtime") q.realtime = true;
            else if (value == "trace") q.realtime = false;
            else ok = fail(Errc::kInvalidArgument, fmt::format("query parameter clock must be trace or realtime, not \"{}\"", value));
        } else if (key == "pid_base" || key == "sort_index") {
            auto n = parse_u64(value);
            if (!n || *n > kMaxPidBase)
                ok = fail(Errc::kInvalidArgument, fmt::format("query parameter {} must be a number up to 2^52, not \"{}\"", key, value));
            else if (key == "pid_base") q.pid_base = *n;
            else q.sort_index = static_cast<std::int64_t>(*n);
        } else if (key == "label") {
            ok = flag(q.label);
        } else if (key == "events_only") {
            ok = flag(q.events_only);
        } else {
            ok = fail(Errc::kInvalidArgument, fmt::format("unknown query parameter \"{}\" (known: clock, pid_base, sort_index, label, events_only)", key));
        }
        if (!ok) return std::unexpected(ok.error());
    }
    return q;
}

DatPlan plan_dat_input(const Recording& recording, const std::string& version) {
    DatPlan plan;
    DatInput& in = plan.input;
    in.version = version;
    in.compression_version = zstd_version();
    if (recording.runs.empty()) return plan;
    const auto& base = recording.runs.back().meta;
    in.page_size = base.page_size;
    in.header_page = base.header_page;
    in.header_event = base.header_event;
    in.trace_clock = base.trace_clock;
    in.uname = base.uname;
    std::vector<bool> included(recording.runs.size());
    std::map<std::pair<std::string, std::string>, EventFormat> formats;
    std::map<pid_t, const TaskInfo*> tasks;  // the latest run's name wins
    std::uint32_t cpus = 0;
    for (std::size_t r = 0; r < recording.runs.size(); ++r) {
        const auto& run = recording.runs[r];
        if (!compatible(base, run.meta)) {
            plan.skipped_runs.push_back(run.meta.run);
            continue;
        }
        included[r] = true;
        cpus = std::max(cpus, run.meta.cpus);
        for (const auto& f : run.meta.formats) formats.try_emplace({f.system, f.name}, f);
        for (const auto& t : run.tasks) tasks[t.tid] = &t;
    }
    for (auto& [key, f] : formats) in.formats.push_back(std::move(f));
    std::vector<TaskInfo> cmdlines;
    for (const auto& [tid, t] : tasks) cmdlines.push_back(*t);
    in.cmdlines = saved_cmdlines(cmdlines);
    in.cpus.resize(cpus);
    plan.chunks.resize(cpus);
    for (std::size_t i = 0; i < recording.chunks.size(); ++i) {
        const auto& c = recording.chunks[i];
        if (!included[c.run]) continue;
        in.cpus[c.header.cpu].push_back({c.header.usize, c.header.zsize});
        plan.chunks[c.header.cpu].push_back(i);
    }
    return plan;
}

Result<std::shared_ptr<http::ChunkStream>> trace_dat_stream(Recording recording, const std::string& version) {
    auto plan = plan_dat_input(recording, version);
    if (!plan.skipped_runs.empty())
        spdlog::warn("trace.dat of session {}: {} runs recorded with other formats than the newest are left out",
                     recording.session_id, plan.skipped_runs.size());
    auto pieces = plan_trace_dat(plan.input);
    if (!pieces) return std::unexpected(pieces.error());
    return http::pull_stream(std::make_shared<DatStream>(std::move(recording), std::move(plan), std::move(*pieces)));
}

void exclude_out_of_scope(Recording& recording, const std::set<ContainerRef>& scope) {
    for (std::size_t i = 0; i < recording.runs.size(); ++i) {
        auto decoder = run_decoder(recording, recording.runs[i], "scope check");
        if (!decoder) continue;  // its exports skip it too
        ExcludedSpanBuilder spans;
        {
            RunEvents events(recording, i, std::move(decoder));
            RunOwners owners(recording.runs[i]);
            while (const TraceEvent* e = events.next()) {
                auto change = owners.note(*e);
                const auto* owner = owners.owner_of(e->pid);
                if (owner && scope.contains({owner->pod, owner->container})) spans.in_scope(e->pid);
                else spans.out_of_scope(e->pid, e->timestamp_ns);
                owners.done(change);
            }
        }
        auto& excluded = recording.runs[i].excluded;
        excluded.insert(excluded.end(), spans.spans().begin(), spans.spans().end());
    }
}

std::shared_ptr<http::ChunkStream> jsonl_stream(Recording recording, JsonLinesExportOptions options) {
    return http::pull_stream(std::make_shared<JsonLinesStream>(std::move(recording), std::move(options)));
}

std::shared_ptr<http::ChunkStream> trace_json_stream(std::vector<Recording> recordings, JsonExportOptions options) {
    return http::pull_stream(std::make_shared<JsonStream>(std::move(recordings), std::move(options)));
}

}  // namespace ct::node::record
