#include "tracer-node/record/recording_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fd.h"
#include "common/file_io.h"
#include "tracer-node/record/recording.h"

namespace ct::node::record {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxMetaBytes = 16 << 20;   // formats of a few hundred events
constexpr std::size_t kMaxLinesBytes = 64 << 20;  // tasks.jsonl, excluded.jsonl: one line per task or span

Result<std::string> read_whole(const std::string& path, std::size_t limit) {
    std::string text;
    if (int err = read_file(path, text, limit); err != 0) return fail_errno(fmt::format("reading \"{}\"", path), err);
    return text;
}

// Appends each line of the JSON-lines file `path` (when it exists), decoded, to `out`; returns the
// problem ("" when none). A run that did not end may have its last line cut short by the crash:
// that line is cut off the file.
template <typename T, typename Decode>
std::string read_lines(const fs::path& path, bool ended, const std::string& session_id, Decode decode, std::vector<T>& out) {
    if (!fs::exists(path)) return {};
    auto where = [&](const std::string& what) { return fmt::format("\"{}\": {}", path.string(), what); };
    auto text = read_whole(path.string(), kMaxLinesBytes);
    if (!text) return text.error().message;
    std::size_t start = 0;
    while (start < text->size()) {
        auto end = text->find('\n', start);
        if (end == std::string::npos) {
            if (ended) return where(fmt::format("last line cut short at byte {}", start));
            ::truncate(path.c_str(), static_cast<off_t>(start));
            spdlog::warn("recording {}: cut a torn line off \"{}\"", session_id, path.string());
            break;
        }
        auto item = decode(std::string_view(*text).substr(start, end - start));
        if (!item) return where(fmt::format("line at byte {}: {}", start, item.error().message));
        out.push_back(std::move(*item));
        start = end + 1;
    }
    return {};
}

// Loads one run directory into `session`; returns the problem ("" when none).
std::string scan_run(const fs::path& dir, std::uint64_t number, ScannedSession& session) {
    auto where = [&](const fs::path& p, const std::string& what) { return fmt::format("\"{}\": {}", p.string(), what); };
    auto meta_text = read_whole((dir / "meta.json").string(), kMaxMetaBytes);
    if (!meta_text) return meta_text.error().message;
    auto meta = decode_meta(*meta_text);
    if (!meta) return where(dir / "meta.json", meta.error().message);
    if (meta->run != number) return where(dir / "meta.json", fmt::format("says run {}", meta->run));
    const bool ended = fs::exists(dir / "ended");

    ScannedRun run{std::move(*meta), dir.string(), {}, {}};
    std::vector<std::pair<std::uint64_t, fs::path>> segments;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        auto name = entry.path().filename().string();
        if (name == "meta.json" || name == "ended" || name == "tasks.jsonl" || name == "excluded.jsonl") continue;
        if (auto seq = parse_segment_name(name)) {
            segments.emplace_back(*seq, entry.path());
            continue;
        }
        if (name.ends_with(".tmp") && !ended) {  // an atomic write the crash interrupted
            fs::remove(entry.path(), ec);
            continue;
        }
        return where(entry.path(), "not a file of a recording");
    }
    if (ec) return where(dir, ec.message());

    // Tasks and excluded spans: one JSON object per line; a crash may have cut the last one.
    if (auto problem = read_lines(dir / "tasks.jsonl", ended, run.meta.session_id, decode_task, run.tasks); !problem.empty())
        return problem;
    if (auto problem = read_lines(dir / "excluded.jsonl", ended, run.meta.session_id, decode_excluded, run.excluded);
        !problem.empty())
        return problem;

    for (auto& [seq, path] : segments) {
        auto bytes = read_whole(path.string(), std::numeric_limits<std::size_t>::max());
        if (!bytes) return bytes.error().message;
        auto index = index_segment(*bytes, run.meta.page_size, run.meta.cpus);
        if (!index.error.empty()) {
            if (ended || !index.cut_short) return where(path, index.error);
            // The crash interrupted an append: keep the whole chunks.
            if (::truncate(path.c_str(), static_cast<off_t>(index.valid)) != 0)
                return where(path, fmt::format("cutting a torn chunk off: {}", std::strerror(errno)));
            spdlog::warn("recording {}: cut a torn chunk off \"{}\" at byte {}", run.meta.session_id, path.string(),
                         index.valid);
        }
        session.segments.push_back({seq, run.meta.run, path.string(), index.valid, std::move(index.chunks)});
    }
    if (!ended) {
        // Closed now: a later problem in it is damage, not a torn write.
        if (std::ofstream(dir / "ended").fail()) return where(dir / "ended", "cannot be created");
    }
    session.runs.push_back(std::move(run));
    return {};
}

}  // namespace

SegmentIndex index_segment(std::string_view bytes, std::uint32_t page_size, std::uint32_t cpus) {
    SegmentIndex out;
    if (bytes.size() < kSegmentMagic.size() || bytes.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
        out.cut_short = bytes.size() < kSegmentMagic.size() && kSegmentMagic.starts_with(bytes);
        out.error = out.cut_short ? "segment cut short before its header"
                                  : "not a segment of a recording (no CTRECSG1 header)";
        return out;
    }
    std::uint64_t at = kSegmentMagic.size();
    out.valid = at;
    while (at < bytes.size()) {
        auto rest = bytes.substr(at);
        if (rest.size() < kChunkHeaderSize) {
            out.error = fmt::format("chunk at byte {} cut short: {} of {} header bytes", at, rest.size(), kChunkHeaderSize);
            out.cut_short = true;
            return out;
        }
        auto header = decode_chunk_header(rest, page_size, cpus);
        if (!header) {
            out.error = fmt::format("chunk at byte {}: {}", at, header.error().message);
            return out;
        }
        if (rest.size() - kChunkHeaderSize < header->zsize) {
            out.error = fmt::format("chunk at byte {} cut short: {} of {} data bytes", at, rest.size() - kChunkHeaderSize,
                                    header->zsize);
            out.cut_short = true;
            return out;
        }
        out.chunks.push_back({at + kChunkHeaderSize, *header});
        at += kChunkHeaderSize + header->zsize;
        out.valid = at;
    }
    return out;
}

ScannedSession scan_session_dir(const std::string& dir) {
    ScannedSession out;
    std::map<std::uint64_t, fs::path> runs;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        auto name = entry.path().filename().string();
        if (auto n = parse_run_dir_name(name); n && entry.is_directory(ec)) {
            runs.emplace(*n, entry.path());
            continue;
        }
        if (out.damage.empty()) out.damage = fmt::format("\"{}\": not a file of a recording", entry.path().string());
    }
    if (ec) {
        out.damage = fmt::format("listing \"{}\": {}", dir, ec.message());
        return out;
    }
    for (const auto& [number, path] : runs) {
        out.last_run = std::max(out.last_run, number);
        for (const auto& entry : fs::directory_iterator(path, ec))
            if (auto seq = parse_segment_name(entry.path().filename().string()))
                out.last_segment = std::max(out.last_segment, *seq);
    }
    if (!out.damage.empty()) return out;
    for (const auto& [number, path] : runs) {
        if (auto problem = scan_run(path, number, out); !problem.empty()) {
            out.damage = std::move(problem);
            return out;
        }
    }
    std::ranges::sort(out.segments, {}, &ScannedSegment::seq);
    return out;
}

Result<std::string> Recording::read_frame(const RecordedChunk& chunk) const {
    const auto& seg = segments.at(chunk.segment);
    std::string out(chunk.header.zsize, '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(seg.fd->get(), out.data() + done, out.size() - done, static_cast<off_t>(chunk.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno(fmt::format("reading \"{}\"", seg.path));
        if (n == 0)
            return fail(Errc::kIo, fmt::format("reading \"{}\": it ends before the chunk at byte {}", seg.path,
                                               chunk.offset));
        done += static_cast<std::size_t>(n);
    }
    return out;
}

}  // namespace ct::node::record
