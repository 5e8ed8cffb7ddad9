#include "cli/top_run.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/session_lease.h"
#include "cli/signals.h"

namespace ct::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLeftNote = "sessions may be left on the server: `ctrace sessions` lists them";

void say(const std::string& line) { std::fprintf(stderr, "ctrace: %s\n", line.c_str()); }

std::string ids_of(const SessionLease& lease) {
    std::string out;
    for (const auto& s : lease.sessions())
        out += fmt::format("{}{}{}", out.empty() ? "" : ", ", s.id, s.node.empty() ? "" : fmt::format(" (node {})", s.node));
    return out;
}

// Waits until a stop request or the timeout; false when the stop was a signal.
bool wait_until_end(StopRequest& stop, const LeaseEnd& end, Clock::time_point started,
                    std::chrono::milliseconds step) {
    while (true) {
        auto wait = step;
        if (end.timeout) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started + *end.timeout - Clock::now());
            if (left <= std::chrono::milliseconds::zero()) return true;
            wait = std::min(wait, left);
        }
        if (stop.wait_for(wait)) return false;
    }
}

Result<TopSnapshot> read_statistics(const ApiClient& api, const SessionLease& lease) {
    TopSnapshot snapshot;
    for (const auto& s : lease.sessions()) {
        auto answer = api.call("GET", session_route(s.id) + "/stats");
        if (!answer) return std::unexpected(Error::wrap(answer.error(), fmt::format("reading session {}", s.id)));
        if (auto added = add_stats_answer(snapshot, *answer, s.node); !added)
            return std::unexpected(Error::wrap(added.error(), fmt::format("reading session {}", s.id)));
    }
    return snapshot;
}

}  // namespace

int run_top(const ApiClient& api, Output& out, const SessionSpec& spec, const TopSettings& settings) {
    StopRequest stop(kLeftNote);
    auto lease = SessionLease::open(api, spec, [&] { return stop.requested(); });
    if (!lease) return report("starting the statistics session", lease.error());
    auto started = Clock::now();
    say(fmt::format("counting in session {}; Ctrl-C to end", ids_of(*lease)));
    const bool terminal = isatty(1) == 1;
    TopSnapshot before;
    auto before_time = started;
    int code = kExitOk;
    std::string why = "interrupted";
    while (!stop.requested()) {
        auto next = before_time + settings.interval;
        bool timed_out = false;
        while (Clock::now() < next && !stop.requested()) {
            if (settings.end.timeout && Clock::now() >= started + *settings.end.timeout) {
                timed_out = true;
                break;
            }
            stop.wait_for(std::chrono::milliseconds(100));
        }
        if (stop.requested()) break;
        auto now = Clock::now();
        auto after = read_statistics(api, *lease);
        if (!after) {
            code = report("", after.error());
            why = "failed";
            break;
        }
        auto rows = top_rows(before, *after, std::chrono::duration<double>(now - before_time).count());
        sort_top_rows(rows, settings.sort);
        if (!out.write(top_frame(rows, settings.limit, terminal))) {
            if (!out.reader_gone()) code = report("writing to stdout", Error{Errc::kIo, out.error()});
            why = "the output was closed";
            break;
        }
        before = std::move(*after);
        before_time = now;
        if (timed_out) {
            why = fmt::format("timeout {} reached", settings.end.timeout_text);
            break;
        }
    }
    (void)lease->stop();
    auto ids = ids_of(*lease);
    { auto done = std::move(*lease); }  // deletes the sessions
    say(fmt::format("{}; deleted session {}", why, ids));
    return code;
}

std::string record_path(const std::string& path, size_t sessions, const std::string& node, const std::string& id) {
    if (sessions <= 1) return path;
    std::filesystem::path p(path);
    auto name = p.stem().string() + "." + (node.empty() ? id : node) + p.extension().string();
    return (p.parent_path() / name).string();
}

int run_record(const ApiClient& api, const SessionSpec& spec, const RecordSettings& settings) {
    StopRequest stop(kLeftNote);
    auto lease = SessionLease::open(api, spec, [&] { return stop.requested(); });
    if (!lease) return report("starting the session", lease.error());
    auto started = Clock::now();
    const bool terminal = isatty(2) == 1;
    say(fmt::format("recording session {}; {}", ids_of(*lease),
                    settings.end.timeout ? "until " + settings.end.timeout_text + " or Ctrl-C" : "Ctrl-C to end"));
    bool timed_out = wait_until_end(stop, settings.end, started, std::chrono::milliseconds(1000));
    if (auto stopped = lease->stop(); !stopped) return report("", stopped.error());
    const bool json = settings.path.ends_with(".json");
    int code = kExitOk;
    std::string written;
    for (const auto& s : lease->sessions()) {
        auto path = record_path(settings.path, lease->sessions().size(), s.node, s.id);
        auto part = path + ".part";
        std::ofstream file(part, std::ios::binary | std::ios::trunc);
        if (!file) {
            code = report("", Error{Errc::kIo, fmt::format("cannot write {}", part)});
            break;
        }
        std::uint64_t bytes = 0;
        auto last_progress = Clock::now();
        auto read = api.download(session_route(s.id) + (json ? "/trace.json" : "/trace.dat"),
                                 {.on_data =
                                      [&](std::string_view piece) {
                                          file.write(piece.data(), static_cast<std::streamsize>(piece.size()));
                                          bytes += piece.size();
                                          if (terminal && Clock::now() - last_progress > std::chrono::milliseconds(200)) {
                                              last_progress = Clock::now();
                                              std::fprintf(stderr, "\rctrace: downloading %s: %.1f MiB", path.c_str(),
                                                           static_cast<double>(bytes) / (1 << 20));
                                          }
                                          return static_cast<bool>(file);
                                      }});
        if (terminal) std::fprintf(stderr, "\r\033[K");
        file.close();
        if (!read || !*read || !file) {
            std::filesystem::remove(part);
            if (!read) code = report(fmt::format("downloading session {}", s.id), read.error());
            else code = report("", Error{Errc::kIo, !file ? fmt::format("writing {} failed", part)
                                                          : fmt::format("download of {} interrupted", path)});
            break;
        }
        std::filesystem::rename(part, path);
        written += fmt::format("{}{} ({} bytes)", written.empty() ? "" : ", ", path, bytes);
    }
    auto ids = ids_of(*lease);
    { auto done = std::move(*lease); }  // deletes the sessions
    if (code == kExitOk)
        say(fmt::format("{}; wrote {}; deleted session {}",
                        timed_out ? "timeout " + settings.end.timeout_text + " reached" : "interrupted", written, ids));
    return code;
}

}  // namespace ct::cli
