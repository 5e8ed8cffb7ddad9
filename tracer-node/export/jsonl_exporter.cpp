#include "tracer-node/export/jsonl_exporter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"

namespace ct::node {

namespace json = boost::json;

Result<std::shared_ptr<JsonLinesExporter>> JsonLinesExporter::open(const std::string& path) {
    if (path.empty() || path == "-")
        return std::shared_ptr<JsonLinesExporter>(new JsonLinesExporter(FD(), STDOUT_FILENO, "stdout"));
    FD fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666));
    if (!fd) return fail_errno(fmt::format("opening trace output \"{}\"", path));
    const int raw = fd.get();
    return std::shared_ptr<JsonLinesExporter>(new JsonLinesExporter(std::move(fd), raw, path));
}

JsonLinesExporter::JsonLinesExporter(FD owned, int fd, std::string path)
    : owned_(std::move(owned)), fd_(fd), path_(std::move(path)) {
    struct stat st {};
    regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
}

void JsonLinesExporter::export_events(const EventContext& context, std::span<const EnrichedEvent> events) {
    // Serialise outside the lock, and write whole lines in chunks of about kChunkBytes: the
    // buffer is the calling capture thread's own and keeps its capacity (no allocation per
    // batch), and a chunk bounds it (a batch of 10k events would be 3 MB, times every capture
    // thread of a busy node).
    thread_local std::string text;
    EventJsonWriter writer(context);
    text.clear();
    std::size_t lines = 0;
    auto write = [&] {
        std::lock_guard lock(mutex_);
        write_counted_locked(context.session_id, text, lines);
        text.clear();
        lines = 0;
    };
    for (const auto& e : events) {
        writer.append(text, e.event, e.owner);
        text += '\n';
        ++lines;
        if (text.size() >= kChunkBytes) write();
    }
    if (lines) write();
}

std::string dump_json_line(const EventContext& context, const DumpRecord& d) {
    auto time_or_null = [](const std::optional<std::int64_t>& ns) {
        return ns ? json::value(rfc3339(*ns)) : json::value(nullptr);
    };
    return json::serialize(json::object{{"kind", "dump"},
                                        {"node", context.node},
                                        {"session", context.session_id},
                                        {"hook", context.hook},
                                        {"context", context.user_context},
                                        {"dump", d.dump_id},
                                        {"reason", d.reason},
                                        {"time", rfc3339(d.time_unix_ns)},
                                        {"events", d.events},
                                        {"lost", d.lost},
                                        {"from", time_or_null(d.from_unix_ns)},
                                        {"to", time_or_null(d.to_unix_ns)}});
}

void JsonLinesExporter::export_dump(const EventContext& context, const DumpRecord& dump) {
    auto line = dump_json_line(context, dump) + '\n';
    std::lock_guard lock(mutex_);
    write_counted_locked(context.session_id, line, 1);
}

void JsonLinesExporter::write_counted_locked(const std::string& session_id, std::string_view text, std::size_t lines) {
    ExportCounts counts;
    write_locked(text, lines, counts);
    for (auto* c : {&sessions_[session_id], &total_}) {
        c->exported += counts.exported;
        c->dropped += counts.dropped;
        c->errors += counts.errors;
    }
}

bool JsonLinesExporter::room_for(std::size_t bytes) const {
    struct statvfs st {};
    if (::fstatvfs(fd_, &st) != 0) return true;  // cannot tell: try
    return static_cast<unsigned long long>(st.f_bavail) * st.f_frsize >= bytes;
}

void JsonLinesExporter::write_locked(std::string_view text, std::size_t lines, ExportCounts& counts) {
    // A full disk: wait for room for this chunk and one more before trying again.
    if (failing_ == ENOSPC && regular_ && !room_for(text.size() + kChunkBytes)) {
        counts.dropped += lines;
        return;
    }
    std::size_t done = 0;
    int err = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            err = n < 0 ? errno : EIO;
            break;
        }
    }
    if (!err) {
        counts.exported += lines;
        if (failing_) spdlog::info("trace output {}: writable again; events are exported to it again", path_);
        failing_ = 0;
        return;
    }
    // Part of the chunk went out: its whole lines stay, the cut one goes.
    const auto last_newline = done ? text.rfind('\n', done - 1) : std::string_view::npos;
    const std::size_t whole = last_newline == std::string_view::npos ? 0 : last_newline + 1;
    if (done > whole && regular_) {
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || st.st_size < static_cast<off_t>(done - whole) ||
            ::ftruncate(fd_, st.st_size - static_cast<off_t>(done - whole)) != 0)
            spdlog::warn("trace output {}: could not cut off a partly written line: {}", path_, std::strerror(errno));
    }
    const auto written = static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(whole), '\n'));
    counts.exported += written;
    counts.dropped += lines - written;
    ++counts.errors;
    if (!failing_)
        spdlog::error("trace output {}: {}: events that cannot be written are counted as dropped (Stats.Exporters.jsonl) "
                      "until it can be written again",
                      path_, std::strerror(err));
    failing_ = err;
}

ExportCounts JsonLinesExporter::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session_id);
    return it == sessions_.end() ? ExportCounts{} : it->second;
}

ExportCounts JsonLinesExporter::total_counts() const {
    std::lock_guard lock(mutex_);
    return total_;
}

void JsonLinesExporter::forget_session(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session_id);
}

}  // namespace ct::node
