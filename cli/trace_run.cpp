#include "cli/trace_run.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/container_watch.h"
#include "cli/model.h"
#include "cli/render.h"
#include "cli/signals.h"

namespace ct::cli {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// After the sessions stopped, how long their streams may take to hand over what was drained.
constexpr auto kStreamTailLimit = 10s;
// The longest the waiting loop sleeps: how soon a reader that left (| head) is noticed.
constexpr auto kWakeEvery = 250ms;

enum class Mode { kTrace, kDetach, kAttach };

enum class End {
    kStartFailed,
    kSignal,           // SIGINT / SIGTERM / SIGHUP
    kTimeout,
    kContainersEnded,
    kStreamsEnded,     // the server ended every stream (the sessions stopped, or went away)
    kReaderGone,       // stdout's reader left (EPIPE)
    kOutputFailed,     // stdout failed otherwise
};

void say(const std::string& line) { std::fprintf(stderr, "ctrace: %s\n", line.c_str()); }

class TraceRun {
public:
    TraceRun(const ApiClient& api, Output& out, Mode mode, StreamSettings settings)
        : api_(api), out_(out), mode_(mode), settings_(std::move(settings)) {}

    int trace(const SessionSpec& spec);  // also detach (Mode::kDetach)
    int attach(const std::string& id);

private:
    // --- signals (their own thread) ---
    void on_signal(int signal, int count);
    bool interrupted() const {
        std::lock_guard lock(mutex_);
        return signals_ > 0;
    }
    void abandon_streams() {
        std::lock_guard lock(mutex_);
        abandon_ = true;
        cv_.notify_all();
    }
    std::string session_list() const;  // "123 (node a), 456 (node b)"; mutex_ held

    // --- steps (the caller's thread) ---
    Status create(const SessionSpec& spec);
    Status start();
    void open_streams();
    End wait_for_end();
    void join_streams(std::optional<Clock::duration> grace);
    int finish(End end, bool drain);

    // --- stream threads ---
    void stream(size_t index);
    bool print(std::string_view lines);

    const ApiClient& api_;
    Output& out_;
    const Mode mode_;
    const StreamSettings settings_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    int signals_ = 0;
    std::atomic<bool> abandon_{false};  // streams stop reading (set under mutex_)
    std::vector<SessionEntry> sessions_;  // fixed once the streams run
    std::vector<Status> stream_results_;  // per session, written before ended_ counts it
    size_t ended_ = 0;

    std::vector<std::thread> threads_;

    std::mutex print_mutex_;
    EventColumns columns_;
    bool header_printed_ = false;
    std::atomic<std::uint64_t> printed_{0};
};

std::string TraceRun::session_list() const {
    std::string out;
    for (const auto& s : sessions_)
        out += fmt::format("{}{}{}", out.empty() ? "" : ", ", s.id, s.node.empty() ? "" : fmt::format(" (node {})", s.node));
    return out;
}

void TraceRun::on_signal(int, int count) {
    std::lock_guard lock(mutex_);
    ++signals_;
    cv_.notify_all();
    if (mode_ == Mode::kAttach) {
        abandon_ = true;
        if (count > 1) std::_Exit(130);
        return;
    }
    if (count == 1) {
        if (!sessions_.empty() && mode_ == Mode::kTrace)
            say("stopping; Ctrl-C again to stop waiting for the remaining events");
    } else if (count == 2) {
        abandon_ = true;
        say("not waiting for more events; deleting the session (Ctrl-C again to quit at once and leave it)");
    } else {
        if (sessions_.empty())
            say("quitting; a session may have been created: `ctrace sessions` lists them");
        else
            say(fmt::format("quitting; left on the server: session {}: delete with `ctrace delete <id>`", session_list()));
        std::_Exit(130);
    }
}

Status TraceRun::create(const SessionSpec& spec) {
    auto sessions = create_sessions(api_, spec);
    if (!sessions) return std::unexpected(sessions.error());
    std::lock_guard lock(mutex_);
    sessions_ = std::move(*sessions);
    stream_results_.assign(sessions_.size(), Status{});
    return {};
}

Status TraceRun::start() {
    for (const auto& s : sessions_) {
        if (interrupted()) return {};
        if (auto r = api_.call("PUT", session_route(s.id), R"({"Run": true})"); !r)
            return std::unexpected(Error::wrap(r.error(), fmt::format("starting session {}", s.id)));
    }
    return {};
}

bool TraceRun::print(std::string_view lines) {
    std::lock_guard lock(print_mutex_);
    std::uint64_t count = static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
    bool ok;
    if (settings_.json) {
        ok = out_.write(lines);
    } else {
        std::string text;
        if (!header_printed_) text = columns_.header(), header_printed_ = true;
        for (size_t start = 0; start < lines.size();) {
            auto end = lines.find('\n', start);
            text += columns_.row(lines.substr(start, end - start));
            start = end + 1;
        }
        ok = out_.write(text);
    }
    if (ok) printed_ += count;
    else cv_.notify_all();  // the waiting loop ends on a failed output
    return ok;
}

void TraceRun::stream(size_t index) {
    const auto& s = sessions_[index];
    auto result = api_.stream(session_route(s.id) + "/trace",
                              {.on_open =
                                   [&] {
                                       if (mode_ == Mode::kAttach)
                                           say(fmt::format("attached to session {}{}; Ctrl-C to leave it running", s.id,
                                                           s.node.empty() ? "" : " on node " + s.node));
                                       else
                                           say(fmt::format("streaming session {}{}; Ctrl-C to stop", s.id,
                                                           s.node.empty() ? "" : " on node " + s.node));
                                   },
                               .on_lines = [&](std::string_view lines) { return print(lines); },
                               .keep_going = [&] { return !abandon_.load(); }});
    std::lock_guard lock(mutex_);
    stream_results_[index] = std::move(result);
    ++ended_;
    cv_.notify_all();
}

void TraceRun::open_streams() {
    for (size_t i = 0; i < sessions_.size(); ++i) threads_.emplace_back([this, i] { stream(i); });
}

End TraceRun::wait_for_end() {
    auto deadline = settings_.timeout ? Clock::now() + *settings_.timeout : Clock::time_point::max();
    std::vector<TracedContainer> traced;
    for (const auto& s : sessions_)
        for (const auto& [pod, container] : s.containers) traced.push_back({s.node, pod, container});
    ContainerWatch watch(std::move(traced));
    auto next_poll = Clock::now();
    while (true) {
        {
            std::unique_lock lock(mutex_);
            cv_.wait_until(lock, std::min({deadline, next_poll, Clock::now() + kWakeEvery}),
                           [&] { return signals_ > 0 || ended_ == sessions_.size(); });
            if (signals_ > 0) return End::kSignal;
        }
        // Before the streams: a failed write is also what ends a stream early.
        if (out_.failed()) return out_.reader_gone() ? End::kReaderGone : End::kOutputFailed;
        {
            std::lock_guard lock(mutex_);
            if (ended_ == sessions_.size()) return End::kStreamsEnded;
        }
        auto now = Clock::now();
        if (now >= deadline) return End::kTimeout;
        if (mode_ == Mode::kTrace && now >= next_poll) {
            // A failed poll proves nothing: the streams and the stop say what happened to the server.
            if (auto pods = api_.call("GET", "/v1/pods"))
                if (auto containers = parse_pods(*pods); containers && !watch.update(*containers))
                    return End::kContainersEnded;
            next_poll = Clock::now() + settings_.pods_poll;
        }
    }
}

// Waits for every stream to end by itself for at most `grace` (nullopt: not at all), then makes
// the rest stop reading, and joins them.
void TraceRun::join_streams(std::optional<Clock::duration> grace) {
    if (grace) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, *grace, [&] { return ended_ == sessions_.size() || abandon_.load(); });
    }
    abandon_streams();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

std::string describe(End end, const StreamSettings& settings, const Output& out) {
    switch (end) {
        case End::kStartFailed: return "the session did not start";
        case End::kSignal: return "interrupted";
        case End::kTimeout: return "timeout " + settings.timeout_text + " reached";
        case End::kContainersEnded: return "the traced containers ended";
        case End::kStreamsEnded: return "the session stopped";
        case End::kReaderGone: return "the output was closed";
        case End::kOutputFailed: return "writing the output failed: " + out.error();
    }
    return "";
}

// Stops the sessions (unless attached), lets the streams hand over what the stop drained (when
// `drain`), reads the sessions' statistics, deletes them (unless attached) and prints the summary.
int TraceRun::finish(End end, bool drain) {
    bool keep = mode_ == Mode::kAttach;
    bool failed = end == End::kOutputFailed;
    if (end == End::kOutputFailed) say("writing to stdout: " + out_.error());
    std::vector<bool> stopped(sessions_.size(), true);
    for (size_t i = 0; i < sessions_.size() && !keep; ++i) {
        const auto& s = sessions_[i];
        if (auto r = api_.call("PUT", session_route(s.id), R"({"Run": false})"); !r) {
            stopped[i] = false;
            failed = true;
            if (r.error().code == Errc::kNotFound)
                say(fmt::format("session {} is gone: someone else deleted it", s.id));
            else
                say(fmt::format("stopping session {}: {}; it may still run: `ctrace delete {}` once the server answers",
                                s.id, r.error().message, s.id));
        }
    }
    join_streams(drain && !keep ? std::optional<Clock::duration>(kStreamTailLimit) : std::nullopt);

    std::uint64_t delivered = 0, lost = 0, dropped = 0;
    bool have_stats = false;
    std::string done;  // "123 (node a), 456 (node b)": sessions cleaned up as planned
    for (size_t i = 0; i < sessions_.size(); ++i) {
        const auto& s = sessions_[i];
        if (!stopped[i]) continue;
        bool running = true;
        if (auto r = api_.call("GET", session_route(s.id)))
            if (auto got = parse_sessions(*r); got && got->size() == 1) {
                const auto& now = got->front();
                running = now.running;
                if (now.delivered) delivered += *now.delivered, have_stats = true;
                if (now.lost) lost += *now.lost;
                if (now.stream_dropped) dropped += *now.stream_dropped;
                if (!now.error.empty() && end != End::kStartFailed) {  // a failed start was reported already
                    std::string lines;
                    for (const auto& l : now.error) lines += (lines.empty() ? "" : " | ") + l;
                    say(fmt::format("session {} ended with an error: {}", s.id, lines));
                    failed = true;
                }
            }
        // A stream refused with 404 because its session had already stopped says nothing new.
        const auto& streamed = stream_results_[i];
        if (!streamed && !(streamed.error().code == Errc::kNotFound && !running)) {
            say(fmt::format("streaming session {}: {}", s.id, streamed.error().message));
            failed = true;
        }
        if (!keep)
            if (auto r = api_.call("DELETE", session_route(s.id)); !r && r.error().code != Errc::kNotFound) {
                say(fmt::format("deleting session {}: {}; delete it with `ctrace delete {}`", s.id, r.error().message, s.id));
                failed = true;
                continue;
            }
        done += fmt::format("{}{}{}", done.empty() ? "" : ", ", s.id, s.node.empty() ? "" : " (node " + s.node + ")");
    }
    if (done.empty()) return failed ? kExitFailed : kExitOk;
    std::string what = keep ? (end == End::kStreamsEnded ? "session" : "left running: session")
                            : (done.find(',') == std::string::npos ? "deleted session" : "deleted sessions");
    std::string counts = have_stats ? fmt::format("{} events delivered, {} lost", delivered, lost) : "no statistics";
    if (dropped) counts += fmt::format(", {} dropped by the stream (read too slowly)", dropped);
    counts += fmt::format(", {} printed", printed_.load());
    say(fmt::format("{}; {} {}: {}", describe(end, settings_, out_), what, done, counts));
    return failed ? kExitFailed : kExitOk;
}

int TraceRun::trace(const SessionSpec& spec) {
    StopSignals signals([this](int signal, int count) { on_signal(signal, count); });
    if (interrupted()) return kExitOk;
    if (auto created = create(spec); !created)
        return report(fmt::format("creating a trace session for pod \"{}\" container \"{}\"", spec.pod, spec.container),
                      created.error());
    if (auto started = start(); !started) {
        report("", started.error());
        finish(End::kStartFailed, false);
        return kExitFailed;
    }
    if (interrupted()) return finish(End::kSignal, false);
    if (mode_ == Mode::kDetach) {
        std::string ids;
        for (const auto& s : sessions_) ids += s.id + "\n";
        if (!out_.write(ids)) return finish(End::kOutputFailed, false);
        for (const auto& s : sessions_)
            say(fmt::format("session {} runs{}; stream it with `ctrace attach {}`, delete it with `ctrace delete {}`", s.id,
                            s.node.empty() ? "" : " on node " + s.node, s.id, s.id));
        return kExitOk;
    }
    open_streams();
    End end = wait_for_end();
    // Stopped on purpose: the server drains the capture into the streams, read to their end.
    // The output gone: nothing more can be shown, stop reading now.
    bool drain = end != End::kReaderGone && end != End::kOutputFailed;
    if (!drain) abandon_streams();
    return finish(end, drain);
}

int TraceRun::attach(const std::string& id) {
    StopSignals signals([this](int signal, int count) { on_signal(signal, count); });
    auto answer = api_.call("GET", session_route(id));
    if (!answer) return report(fmt::format("looking up trace session {}", id), answer.error());
    auto sessions = parse_sessions(*answer);
    if (!sessions) return report(fmt::format("looking up trace session {}", id), sessions.error());
    if (sessions->size() != 1) return report("", Error{Errc::kInternal, fmt::format("no single trace session {}", id)});
    if (!sessions->front().running)
        return report("", Error{Errc::kInvalidArgument,
                                fmt::format("trace session {} is not running (nothing to stream)", id)});
    {
        std::lock_guard lock(mutex_);
        sessions_ = std::move(*sessions);
        stream_results_.assign(sessions_.size(), Status{});
    }
    if (interrupted()) return kExitOk;
    open_streams();
    End end = wait_for_end();
    abandon_streams();
    return finish(end, false);
}
}  // namespace

std::string session_route(const std::string& id) { return "/v1/trace-session/" + id; }

Result<std::vector<SessionEntry>> create_sessions(const ApiClient& api, const SessionSpec& spec) {
    json::object body{{"pod", spec.pod},
                      {"container", spec.container},
                      {"trace-hook", spec.hook},
                      {"trace-arguments", spec.args},
                      {"trace-user-context", spec.context}};
    auto answer = api.call("POST", "/v1/trace-session", json::serialize(body));
    if (!answer) {
        auto code = answer.error().code;
        // The answer was lost, not refused: a session may exist. Ours carry our unique context.
        if (spec.context_generated && (code == Errc::kUnavailable || code == Errc::kTimeout))
            if (auto all = api.call("GET", "/v1/trace-session/all"))
                if (auto found = parse_sessions(*all))
                    for (const auto& s : *found)
                        if (s.context == spec.context) (void)api.call("DELETE", session_route(s.id));
        return std::unexpected(answer.error());
    }
    auto sessions = parse_sessions(*answer);
    if (!sessions) return std::unexpected(sessions.error());
    if (sessions->empty()) return fail(Errc::kInternal, "the server answered without a session");
    return sessions;
}

std::string generated_context() {
    std::random_device rd;
    return fmt::format("ctrace-{:08x}", rd());
}

int run_trace(const ApiClient& api, Output& out, const SessionSpec& spec, const StreamSettings& settings) {
    return TraceRun(api, out, Mode::kTrace, settings).trace(spec);
}

int run_detach(const ApiClient& api, Output& out, const SessionSpec& spec) {
    return TraceRun(api, out, Mode::kDetach, {}).trace(spec);
}

int run_attach(const ApiClient& api, Output& out, const std::string& id, const StreamSettings& settings) {
    return TraceRun(api, out, Mode::kAttach, settings).attach(id);
}

}  // namespace ct::cli
