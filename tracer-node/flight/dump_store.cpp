#include "tracer-node/flight/dump_store.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "common/strings.h"
#include "tracer-node/capture/trace_line_parse.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_decode.h"

namespace ct::node::flight {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kDumpFilePrefix = "dump-";
constexpr std::string_view kDumpFileSuffix = ".json";

std::int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Result<std::string> read_text(const std::string& path) {
    std::string text;
    if (int err = read_file(path, text, 1 << 20); err != 0) return fail_errno(fmt::format("reading \"{}\"", path), err);
    return text;
}

Status write_text(const std::string& path, std::string_view text) {
    FD fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening \"{}\"", path));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno(fmt::format("writing \"{}\" to \"{}\"", trim(text), path));
    return {};
}

Status write_file_atomic(const std::string& path, std::string_view text) {
    const auto tmp = path + ".tmp";
    {
        FD fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) return fail_errno(fmt::format("creating \"{}\"", tmp));
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd.get()) != 0)
            return fail_errno(fmt::format("writing \"{}\"", tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno(fmt::format("renaming \"{}\"", tmp));
    return {};
}

std::string dump_file_name(std::string_view dump_id) {
    return fmt::format("{}{}{}", kDumpFilePrefix, dump_id, kDumpFileSuffix);
}

std::optional<std::string> parse_dump_file_name(std::string_view name) {
    if (!name.starts_with(kDumpFilePrefix) || !name.ends_with(kDumpFileSuffix)) return std::nullopt;
    auto id = name.substr(kDumpFilePrefix.size(), name.size() - kDumpFilePrefix.size() - kDumpFileSuffix.size());
    if (!parse_u64(id)) return std::nullopt;
    return std::string(id);
}

// A task's name now; "<...>" (as ftrace prints unknown tasks) when it is gone.
std::string comm_of(const std::string& procfs_root, pid_t tid) {
    std::string comm;
    if (read_file(fmt::format("{}/{}/comm", procfs_root, tid), comm, 256) != 0) return "<...>";
    auto name = std::string(trim(comm));
    return name.empty() ? "<...>" : name;
}

}  // namespace

std::string encode_dump(const Dump& d) {
    json::object o{{"id", d.id},
                   {"session", d.session_id},
                   {"reason", d.reason},
                   {"time-ns", d.time_unix_ns},
                   {"events", d.events},
                   {"lost", d.lost}};
    if (d.from_unix_ns) o["from-ns"] = *d.from_unix_ns;
    if (d.to_unix_ns) o["to-ns"] = *d.to_unix_ns;
    if (d.trigger) {
        json::object fields;
        for (const auto& [k, v] : d.trigger->fields) fields[k] = v;
        o["trigger"] = json::object{
            {"event", d.trigger->event}, {"timestamp-ns", d.trigger->timestamp_ns}, {"fields", std::move(fields)}};
        if (d.trigger->cpu >= 0) o["trigger"].as_object()["cpu"] = d.trigger->cpu;
    }
    return json::serialize(o) + "\n";
}

Result<Dump> decode_dump(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec || !v.is_object()) return fail(Errc::kInvalidArgument, "dump description is not a JSON object");
    const auto& o = v.get_object();
    try {
        Dump d;
        d.id = std::string(o.at("id").as_string());
        d.session_id = std::string(o.at("session").as_string());
        d.reason = std::string(o.at("reason").as_string());
        d.time_unix_ns = o.at("time-ns").to_number<std::int64_t>();
        d.events = o.at("events").to_number<std::uint64_t>();
        d.lost = o.at("lost").to_number<std::uint64_t>();
        if (auto* f = o.if_contains("from-ns")) d.from_unix_ns = f->to_number<std::int64_t>();
        if (auto* t = o.if_contains("to-ns")) d.to_unix_ns = t->to_number<std::int64_t>();
        if (auto* t = o.if_contains("trigger")) {
            TriggerEvent te;
            te.event = std::string(t->at("event").as_string());
            te.timestamp_ns = t->at("timestamp-ns").to_number<std::uint64_t>();
            for (const auto& [k, fv] : t->at("fields").as_object()) te.fields[std::string(k)] = fv.to_number<std::int64_t>();
            if (auto* cpu = t->as_object().if_contains("cpu")) te.cpu = cpu->to_number<int>();
            d.trigger = std::move(te);
        }
        return d;
    } catch (const std::exception& e) {
        return fail(Errc::kInvalidArgument, fmt::format("dump description: {}", e.what()));
    }
}

TriggerLine trigger_line(const TriggerEvent& t) {
    std::vector<EventField> fields;
    std::string details;
    for (const auto& [name, value] : t.fields) {
        fields.push_back({name, FieldKind::kSigned, false});
        details += fmt::format("{}{}={}", details.empty() ? "" : " ", name, value);
    }
    TriggerLine line{std::make_shared<const EventType>(t.event, std::move(fields), EventType::Details::kStored), {}};
    line.event.type = line.type.get();
    line.event.timestamp_ns = t.timestamp_ns;
    line.event.cpu = t.cpu;
    if (auto pid = t.fields.find("pid"); pid != t.fields.end()) line.event.pid = static_cast<pid_t>(pid->second);
    line.event.values.add_string(details);
    for (const auto& [name, value] : t.fields) line.event.values.add_int(static_cast<std::uint64_t>(value));
    return line;
}

struct DumpStore::Session {
    std::mutex mu;  // one dump or removal at a time; guards the fields below
    std::string id;
    std::string dir;
    std::shared_ptr<record::Recorder> recorder;  // keyed by dump id
    std::vector<Dump> dumps;                     // oldest first
    // The attached run (a flight-recorder run in progress).
    std::optional<EventContext> context;
    std::string instance_dir;
    OwnerOf owner_of;
    std::unique_ptr<RawDecoder> decoder;  // the run's formats, made at its first dump
    std::uint64_t overrun_seen = 0;       // the instance's overrun at the previous dump
};

Result<std::shared_ptr<DumpStore>> DumpStore::open(DumpStoreOptions options) {
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec) return fail(Errc::kIo, fmt::format("creating dump directory \"{}\": {}", options.dir, ec.message()));
    fs::permissions(options.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    std::shared_ptr<DumpStore> store(new DumpStore(std::move(options)));
    std::vector<std::string> ids;
    for (const auto& entry : fs::directory_iterator(store->options_.dir, ec)) {
        auto id = record::parse_session_dir_name(entry.path().filename().string());
        if (id && entry.is_directory(ec)) ids.push_back(*id);
    }
    if (ec) return fail(Errc::kIo, fmt::format("listing dump directory \"{}\": {}", store->options_.dir, ec.message()));
    std::size_t loaded = 0;
    for (const auto& id : ids) {
        auto s = store->find_or_create(id);
        if (!s) return std::unexpected(s.error());
        loaded += (*s)->dumps.size();
    }
    if (loaded > 0) spdlog::info("loaded {} flight-recorder dumps from {}", loaded, store->options_.dir);
    return store;
}

DumpStore::DumpStore(DumpStoreOptions options) : options_(std::move(options)) {}
DumpStore::~DumpStore() = default;

std::shared_ptr<DumpStore::Session> DumpStore::find(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    return it == sessions_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<DumpStore::Session>> DumpStore::find_or_create(const std::string& session_id) {
    if (auto s = find(session_id)) return s;
    auto s = std::make_shared<Session>();
    s->id = session_id;
    s->dir = (fs::path(options_.dir) / record::session_dir_name(session_id)).string();
    auto recorder = record::Recorder::open(
        {.dir = s->dir, .session_limit = options_.max_dump_bytes, .procfs_root = options_.procfs_root});
    if (!recorder) return std::unexpected(recorder.error());
    s->recorder = std::move(*recorder);
    // A dump is complete once its description is written; pages without one were cut short.
    std::set<std::string> described;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(s->dir, ec)) {
        auto id = parse_dump_file_name(entry.path().filename().string());
        if (!id) continue;
        auto text = read_text(entry.path().string());
        auto dump = text ? decode_dump(*text) : Result<Dump>(std::unexpected(text.error()));
        if (!dump || dump->id != *id) {
            spdlog::error("removing unreadable flight-recorder dump \"{}\": {}", entry.path().string(),
                          dump ? "its id differs from its name" : dump.error().message);
            fs::remove(entry.path(), ec);
            s->recorder->forget_session(*id);
            continue;
        }
        described.insert(*id);
        s->dumps.push_back(std::move(*dump));
    }
    for (const auto& id : s->recorder->sessions())
        if (!described.contains(id)) s->recorder->forget_session(id);
    std::ranges::sort(s->dumps, {}, [](const Dump& d) { return parse_u64(d.id).value_or(0); });
    std::lock_guard lock(mutex_);
    auto [it, added] = sessions_.emplace(session_id, s);  // a racing caller's copy wins
    if (added) kept_ += s->dumps.size();
    return it->second;
}

void DumpStore::attach(const EventContext& context, const std::string& instance_dir, OwnerOf owner_of) {
    auto s = find_or_create(context.session_id);
    if (!s) {
        spdlog::error("session {}: flight recorder cannot keep dumps: {}", context.session_id, s.error().message);
        return;
    }
    std::lock_guard lock((*s)->mu);
    (*s)->context = context;
    (*s)->instance_dir = instance_dir;
    (*s)->owner_of = std::move(owner_of);
    (*s)->decoder.reset();
    (*s)->overrun_seen = 0;
}

void DumpStore::detach(const std::string& session_id) {
    auto s = find(session_id);
    if (!s) return;
    std::lock_guard lock(s->mu);  // a dump in progress ends first
    s->context.reset();
    s->instance_dir.clear();
    s->owner_of = nullptr;
    s->decoder.reset();
}

bool DumpStore::attached(const std::string& session_id) const {
    auto s = find(session_id);
    if (!s) return false;
    std::lock_guard lock(s->mu);
    return s->context.has_value();
}

Result<Dump> DumpStore::dump(const std::string& session_id, std::string reason, std::optional<TriggerEvent> trigger,
                             bool holdoff) {
    auto s = find(session_id);
    auto not_running = [&] {
        return fail(Errc::kConflict, fmt::format("trace session {} has no flight-recorder run to dump: it is not "
                                                 "running, or its trace-mode is not \"flight-recorder\"",
                                                 session_id));
    };
    if (!s) return not_running();
    std::lock_guard lock(s->mu);
    if (!s->context) return not_running();
    const auto now = realtime_ns();
    if (holdoff && !s->dumps.empty() &&
        now - s->dumps.back().time_unix_ns < std::chrono::nanoseconds(options_.holdoff).count()) {
        spdlog::info("session {}: {}: within the dump holdoff of dump {}", session_id, reason, s->dumps.back().id);
        return s->dumps.back();
    }
    const auto& instance = s->instance_dir;
    if (!s->decoder) {
        auto header_page = read_text(ftrace::tracing_dir_of(instance) + "/events/header_page");
        if (!header_page) return std::unexpected(header_page.error());
        auto formats = ftrace::read_enabled_formats(instance);
        if (!formats) return std::unexpected(formats.error());
        auto decoder = RawDecoder::from_formats(*header_page, *formats);
        if (!decoder) return std::unexpected(decoder.error());
        s->decoder = std::move(*decoder);
    }
    auto buffers = ftrace::cpu_buffers(instance);
    if (!buffers) return std::unexpected(buffers.error());

    Dump d;
    d.session_id = session_id;
    d.reason = std::move(reason);
    d.trigger = std::move(trigger);
    d.time_unix_ns = now;
    // Ids are times, kept increasing: they sort as the dumps were made.
    auto last = s->dumps.empty() ? 0 : parse_u64(s->dumps.back().id).value_or(0);
    d.id = std::to_string(std::max<std::uint64_t>(static_cast<std::uint64_t>(now), last + 1));
    EventContext context = *s->context;
    context.session_id = d.id;  // the dump's own recording
    auto tap = s->recorder->start_run(context, instance);
    if (!tap) return std::unexpected(tap.error());

    // Stop writing so that the read ends; the ring is read empty, then writing goes on.
    const auto tracing_on = instance + "/tracing_on";
    if (auto off = write_text(tracing_on, "0"); !off) {
        s->recorder->forget_session(d.id);
        return std::unexpected(off.error());
    }
    d.time_unix_ns = realtime_ns();  // the moment the ring was frozen
    const auto page_size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<char> page(page_size);
    std::vector<TraceEvent> events;
    std::uint64_t first_ts = UINT64_MAX, last_ts = 0;
    // Task names from the hook's own fork/exec events (the task may be gone by now), else /proc.
    std::unordered_map<pid_t, std::string> tids, forked;  // exec names win over fork names
    Status read_ok;
    for (const auto& cpu : *buffers) {
        FD fd(::open(cpu.raw_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!fd) {
            read_ok = fail_errno(fmt::format("opening \"{}\"", cpu.raw_path));
            break;
        }
        while (true) {
            ssize_t n = ::read(fd.get(), page.data(), page.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // empty (EAGAIN) or gone
            (*tap)(cpu.cpu, std::string_view(page.data(), static_cast<std::size_t>(n)));
            events.clear();
            s->decoder->decode(cpu.cpu, page.data(), static_cast<std::size_t>(n), events);
            for (const auto& e : events) {
                first_ts = std::min(first_ts, e.timestamp_ns);
                last_ts = std::max(last_ts, e.timestamp_ns);
                tids.try_emplace(e.pid);
                auto change = process_change(e);
                if (change && change->kind == ProcessChange::kExec) tids[change->pid] = change->comm;
                else if (change && change->kind == ProcessChange::kFork) forked[change->pid] = change->comm;
            }
        }
    }
    auto overrun = ftrace::read_loss(instance).overrun;
    if (auto on = write_text(tracing_on, "1"); !on) spdlog::error("session {}: {}", session_id, on.error().message);
    // Task names and owners, as the recorder learns them from delivered events.
    for (auto& [tid, name] : forked)
        if (auto& known = tids[tid]; known.empty()) known = std::move(name);
    std::vector<TraceEvent> task_events(tids.size());
    std::vector<std::optional<EventOwner>> owners(tids.size());  // sized once: pointers stay valid
    std::vector<EnrichedEvent> tasks;
    tasks.reserve(tids.size());
    std::size_t i = 0;
    for (const auto& [tid, name] : tids) {
        task_events[i].pid = tid;
        task_events[i].comm = name.empty() ? comm_of(options_.procfs_root, tid) : name;
        if (s->owner_of) owners[i] = s->owner_of(tid);
        tasks.push_back({task_events[i], owners[i] ? &*owners[i] : nullptr});
        ++i;
    }
    s->recorder->export_events(context, tasks);
    s->recorder->on_run_stop(context);
    if (!read_ok) {
        s->recorder->forget_session(d.id);
        return std::unexpected(read_ok.error());
    }
    d.events = s->recorder->session_counts(d.id).exported;
    d.lost = overrun >= s->overrun_seen ? overrun - s->overrun_seen : overrun;
    s->overrun_seen = overrun;
    if (first_ts <= last_ts) {
        auto rec = s->recorder->snapshot(d.id);
        std::int64_t offset = 0;
        if (rec && !rec->runs.empty() && rec->runs.front().meta.realtime_offset_ns)
            offset = *rec->runs.front().meta.realtime_offset_ns;
        d.from_unix_ns = static_cast<std::int64_t>(first_ts) + offset;
        d.to_unix_ns = static_cast<std::int64_t>(last_ts) + offset;
    }
    if (auto saved = write_file_atomic((fs::path(s->dir) / dump_file_name(d.id)).string(), encode_dump(d)); !saved) {
        s->recorder->forget_session(d.id);
        return std::unexpected(saved.error());
    }
    s->dumps.push_back(d);
    ++kept_;
    spdlog::info("session {}: dump {} ({}): {} events, {} lost", session_id, d.id, d.reason, d.events, d.lost);
    enforce_limit(*s);
    if (options_.exporters)
        options_.exporters->export_dump(*s->context, {.dump_id = d.id,
                                                      .reason = d.reason,
                                                      .time_unix_ns = d.time_unix_ns,
                                                      .events = d.events,
                                                      .lost = d.lost,
                                                      .from_unix_ns = d.from_unix_ns,
                                                      .to_unix_ns = d.to_unix_ns});
    return d;
}

void DumpStore::enforce_limit(Session& s) {
    while (s.dumps.size() > std::max<std::size_t>(options_.limit, 1)) {
        auto old = std::move(s.dumps.front());
        s.dumps.erase(s.dumps.begin());
        --kept_;
        std::error_code ec;
        fs::remove(fs::path(s.dir) / dump_file_name(old.id), ec);
        s.recorder->forget_session(old.id);
        std::uint64_t total;
        {
            std::lock_guard lock(mutex_);
            total = ++removed_;
        }
        spdlog::info("session {}: removed its oldest dump {} (--dump-limit {}; {} removed since start)", s.id, old.id,
                     options_.limit, total);
    }
}

std::vector<Dump> DumpStore::list(const std::string& session_id) const {
    auto s = find(session_id);
    if (!s) return {};
    std::lock_guard lock(s->mu);
    return s->dumps;
}

Result<Dump> DumpStore::get(const std::string& session_id, const std::string& dump_id) const {
    for (auto& d : list(session_id))
        if (d.id == dump_id) return std::move(d);
    return fail(Errc::kNotFound, fmt::format("trace session {} has no dump {}", session_id, dump_id));
}

std::uint64_t DumpStore::removed() const {
    std::lock_guard lock(mutex_);
    return removed_;
}

std::size_t DumpStore::kept() const { return kept_.load(); }

Result<record::Recording> DumpStore::recording(const std::string& session_id, const std::string& dump_id) {
    auto s = find(session_id);
    auto missing = [&] {
        return fail(Errc::kNotFound, fmt::format("trace session {} has no dump {}", session_id, dump_id));
    };
    if (!s) return missing();
    std::lock_guard lock(s->mu);
    if (std::ranges::none_of(s->dumps, [&](const Dump& d) { return d.id == dump_id; })) return missing();
    return s->recorder->snapshot(dump_id);
}

void DumpStore::forget_session(const std::string& session_id) {
    std::shared_ptr<Session> s;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return;
        s = std::move(it->second);
        sessions_.erase(it);
    }
    std::lock_guard lock(s->mu);
    kept_ -= s->dumps.size();
    for (const auto& id : s->recorder->sessions()) s->recorder->forget_session(id);
    std::error_code ec;
    fs::remove_all(s->dir, ec);
    if (ec) spdlog::error("deleting the dumps of trace session {} (\"{}\"): {}", session_id, s->dir, ec.message());
}

void DumpStore::prune(const std::set<std::string>& keep) {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, s] : sessions_)
            if (!keep.contains(id)) ids.push_back(id);
    }
    for (const auto& id : ids) {
        spdlog::info("deleting the flight-recorder dumps of trace session {}: the session is gone", id);
        forget_session(id);
    }
}

}  // namespace ct::node::flight
