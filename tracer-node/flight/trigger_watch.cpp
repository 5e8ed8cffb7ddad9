#include "tracer-node/flight/trigger_watch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "tracer-node/capture/ftrace_instance.h"
#include "tracer-node/capture/raw_decode.h"

namespace ct::node::flight {

namespace {

Status write_text(const std::string& path, std::string_view text) {
    FD fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("opening \"{}\"", path));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno(fmt::format("writing \"{}\"", path));
    return {};
}

std::string pid_terms(const std::set<pid_t>& pids) {
    std::string out;
    for (pid_t p : pids) out += fmt::format("{}pid=={}", out.empty() ? "" : "||", p);
    return out;
}

}  // namespace

const std::vector<int>& fatal_signals() {
    static const std::vector<int> kSignals{SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGSEGV};
    return kSignals;
}

std::string signal_name(int sig) {
    switch (sig) {
        case SIGILL: return "SIGILL";
        case SIGABRT: return "SIGABRT";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGKILL: return "SIGKILL";
        case SIGSEGV: return "SIGSEGV";
        default: return fmt::format("signal {}", sig);
    }
}

TriggerFilters trigger_filters(const std::set<pid_t>& pids) {
    std::string sigs;
    for (int s : fatal_signals()) sigs += fmt::format("{}sig=={}", sigs.empty() ? "" : "||", s);
    if (pids.empty()) return {"sig==0&&pid==0", "pid==0", true};  // nothing to watch (yet)
    auto terms = pid_terms(pids);
    TriggerFilters f{fmt::format("({})&&({})", sigs, terms), terms, true};
    if (f.signal.size() > kMaxFilterBytes) f = {sigs, "pid>0", false};
    return f;
}

std::string trigger_reason(const TriggerEvent& event, const std::optional<EventOwner>& owner) {
    auto field = [&](const char* name) {
        auto it = event.fields.find(name);
        return it == event.fields.end() ? std::int64_t{0} : it->second;
    };
    auto whose = owner ? fmt::format("{}/{}", owner->pod, owner->container) : std::string("unknown container");
    if (event.event == "mark_victim") return fmt::format("OOM kill of pid {} ({})", field("pid"), whose);
    return fmt::format("signal {} to pid {} ({})", signal_name(static_cast<int>(field("sig"))), field("pid"), whose);
}

struct TriggerWatch::Reader {
    std::unique_ptr<RawDecoder> decoder;
    std::vector<std::pair<int, FD>> cpus;  // per CPU trace_pipe_raw, non-blocking
};

Result<std::unique_ptr<TriggerWatch>> TriggerWatch::start(TriggerWatchOptions options, OnTrigger on_trigger) {
    std::random_device rd;
    auto name = fmt::format("{}{}_{:08x}{:08x}", options.instance_prefix, ::getpid(), rd(), rd());
    auto dir = options.tracing_dir + "/instances/" + name;
    if (::mkdir(dir.c_str(), 0700) != 0) return fail_errno(fmt::format("creating ftrace instance \"{}\"", dir));
    std::unique_ptr<TriggerWatch> watch(new TriggerWatch(std::move(options), std::move(on_trigger), dir));
    auto setup = [&]() -> Status {
        if (auto ok = write_text(dir + "/buffer_size_kb", "64"); !ok) return ok;
        watch->refresh_filters();
        if (auto ok = write_text(dir + "/events/signal/signal_generate/enable", "1"); !ok) return ok;
        if (auto ok = write_text(dir + "/events/oom/mark_victim/enable", "1"); !ok) return ok;
        auto header_page = [&]() -> Result<std::string> {
            std::string text;
            auto path = ftrace::tracing_dir_of(dir) + "/events/header_page";
            if (int err = read_file(path, text, 1 << 16); err != 0) return fail_errno(fmt::format("reading \"{}\"", path), err);
            return text;
        }();
        if (!header_page) return std::unexpected(header_page.error());
        auto formats = ftrace::read_enabled_formats(dir);
        if (!formats) return std::unexpected(formats.error());
        auto decoder = RawDecoder::from_formats(*header_page, *formats);
        if (!decoder) return std::unexpected(decoder.error());
        watch->reader_ = std::make_unique<Reader>();
        watch->reader_->decoder = std::move(*decoder);
        auto buffers = ftrace::cpu_buffers(dir);
        if (!buffers) return std::unexpected(buffers.error());
        for (const auto& b : *buffers) {
            FD fd(::open(b.raw_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
            if (!fd) return fail_errno(fmt::format("opening \"{}\"", b.raw_path));
            watch->reader_->cpus.emplace_back(b.cpu, std::move(fd));
        }
        return write_text(dir + "/tracing_on", "1");
    };
    if (auto ok = setup(); !ok) return std::unexpected(ok.error());  // the destructor removes the instance
    watch->thread_ = std::thread([w = watch.get()] { w->loop(); });
    return watch;
}

TriggerWatch::TriggerWatch(TriggerWatchOptions options, OnTrigger on_trigger, std::string instance_dir)
    : options_(std::move(options)), on_trigger_(std::move(on_trigger)), instance_dir_(std::move(instance_dir)) {}

TriggerWatch::~TriggerWatch() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    reader_.reset();  // closes its files: the instance can go
    if (auto removed = ftrace::remove(instance_dir_, std::chrono::seconds(2)); !removed)
        spdlog::error("removing the flight recorder's trigger instance: {}", removed.error().message);
}

void TriggerWatch::refresh_filters() {
    auto now = ftrace::read_event_pids(options_.hook_instance);
    if (filters_written_ && now == pids_) return;
    previous_pids_ = std::move(pids_);
    pids_ = std::move(now);
    std::erase_if(owners_, [&](const auto& o) { return !pids_.contains(o.first) && !previous_pids_.contains(o.first); });
    if (options_.owner_of)
        for (pid_t p : pids_)
            if (!owners_.contains(p)) owners_.emplace(p, options_.owner_of(p));
    auto f = trigger_filters(pids_);
    pids_in_filter_ = f.pids_in_filter;
    for (auto [file, text] : {std::pair{"/events/signal/signal_generate/filter", &f.signal},
                              std::pair{"/events/oom/mark_victim/filter", &f.oom}})
        if (auto ok = write_text(instance_dir_ + file, *text); !ok)
            spdlog::warn("flight recorder trigger filter: {}", ok.error().message);
    filters_written_ = true;
}

void TriggerWatch::read_events() {
    std::vector<char> page(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
    std::vector<TraceEvent> events;
    for (auto& [cpu, fd] : reader_->cpus) {
        while (true) {
            ssize_t n = ::read(fd.get(), page.data(), page.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            events.clear();
            reader_->decoder->decode(cpu, page.data(), static_cast<std::size_t>(n), events);
            for (const auto& e : events) {
                TriggerEvent t{std::string(e.name()), e.timestamp_ns, {}, cpu};
                visit_fields(e, [&](const FieldValue& v) {
                    if (v.field->kind == FieldKind::kSigned || v.field->kind == FieldKind::kUnsigned ||
                        v.field->kind == FieldKind::kHex)
                        t.fields[v.field->name] = v.as_signed();
                });
                auto pid = static_cast<pid_t>(t.fields["pid"]);
                // Without pids in the kernel's filter, the target is checked here.
                if (!pids_in_filter_ && !pids_.contains(pid) && !previous_pids_.contains(pid)) continue;
                std::optional<EventOwner> owner;
                if (auto it = owners_.find(pid); it != owners_.end() && it->second) owner = it->second;
                else if (options_.owner_of) owner = options_.owner_of(pid);
                on_trigger_(t, owner);
            }
        }
    }
}

void TriggerWatch::loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        lock.unlock();
        read_events();
        refresh_filters();
        lock.lock();
        cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    }
}

}  // namespace ct::node::flight
