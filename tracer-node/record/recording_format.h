// recording_format: what a session's recording keeps on disk (docs/viewers.md, "Recording"),
// as pure encoders and decoders. No files here: recorder.cpp writes, recording_reader.cpp reads.
//
// Layout under the record directory (one directory per session, one per run):
//   session-<id>/run-<NNNNNN>/meta.json        RunMeta, written once when the run starts
//   session-<id>/run-<NNNNNN>/tasks.jsonl      one TaskInfo per line, appended as tasks appear
//   session-<id>/run-<NNNNNN>/excluded.jsonl   one ExcludedSpan per line (scope_scrub.h): events
//                                              out of the session's scope, hidden by exports
//   session-<id>/run-<NNNNNN>/ended            empty; the run was closed cleanly
//   session-<id>/run-<NNNNNN>/seg-<NNNNNNNN>.ctrec  segments of chunks; numbered across the
//                                                    session's runs, oldest first
// A segment is kSegmentMagic followed by chunks. A chunk is one CPU's consecutive ring-buffer
// sub-buffers, each padded to the page size, compressed as one zstd frame: exactly what a
// trace-cmd v7 file holds per compressed chunk (trace_dat_writer.h), so an export copies chunks
// without decompressing them. Numbers are little-endian.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tracer-node/capture/raw_decode.h"
#include "tracer-node/export/trace_event.h"

namespace ct::node::record {

inline constexpr std::string_view kSegmentMagic = "CTRECSG1";  // first 8 bytes of a segment
inline constexpr std::uint32_t kChunkMagic = 0x4b435443;       // "CTCK"
inline constexpr std::size_t kChunkHeaderSize = 24;

// What a trace.dat needs of one run besides its pages: the instance's ring-buffer and event
// formats, its page size, CPU count and clock, and where that clock stood against CLOCK_REALTIME.
struct RunMeta {
    std::uint64_t run = 0;          // 1, 2, ... within the session
    std::string node;
    std::string session_id;
    std::string hook;
    std::string instance;           // the ftrace instance's directory
    std::string header_page;        // events/header_page
    std::string header_event;       // events/header_event
    std::vector<EventFormat> formats;  // the enabled events' and the "ftrace" system's
    std::uint32_t page_size = 0;    // ring-buffer sub-buffer bytes
    std::uint32_t cpus = 0;         // per-CPU buffers of the instance
    std::string trace_clock;        // the instance's clock, e.g. "local"
    // CLOCK_REALTIME minus the trace clock, in ns, measured when the run started (clock_offset.h);
    // nullopt when the clock does not count nanoseconds (counter, x86-tsc) or could not be read.
    std::optional<std::int64_t> realtime_offset_ns;
    std::int64_t started_unix_ns = 0;  // CLOCK_REALTIME at the start
    std::string uname;              // "sysname release version machine"
};

std::string encode_meta(const RunMeta& meta);
// kInvalidArgument naming the first missing or mistyped member.
Result<RunMeta> decode_meta(std::string_view text);

// A task seen in the run's events: its name, process and container, for saved cmdlines and for
// the process and thread names of trace.json.
struct TaskInfo {
    pid_t tid = 0;
    pid_t tgid = 0;  // the thread group (host PID); tid when unknown
    std::string comm;
    std::optional<EventOwner> owner;
};

std::string encode_task(const TaskInfo& task);  // one JSON object, no newline
Result<TaskInfo> decode_task(std::string_view line);

// The fixed part of a chunk in a segment; `zsize` bytes of zstd frame follow it.
struct ChunkHeader {
    std::uint32_t cpu = 0;
    std::uint32_t pages = 0;   // sub-buffers in the chunk
    std::uint32_t events = 0;  // ring-buffer records in them
    std::uint32_t usize = 0;   // pages * page size
    std::uint32_t zsize = 0;   // compressed bytes
};

std::string encode_chunk_header(const ChunkHeader& h);
// Checks the magic and that the sizes fit the run (cpu < cpus, usize == pages * page_size,
// 0 < zsize <= kMaxChunkBytes); kInvalidArgument naming what does not.
Result<ChunkHeader> decode_chunk_header(std::string_view bytes, std::uint32_t page_size, std::uint32_t cpus);
inline constexpr std::uint32_t kMaxChunkBytes = 64u << 20;

// Names of the entries above; parse_* give the number, nullopt for any other name.
std::string run_dir_name(std::uint64_t run);
std::string segment_name(std::uint64_t seq);
std::optional<std::uint64_t> parse_run_dir_name(std::string_view name);
std::optional<std::uint64_t> parse_segment_name(std::string_view name);
std::string session_dir_name(std::string_view session_id);
std::optional<std::string> parse_session_dir_name(std::string_view name);  // the id

// saved_cmdlines text ("<pid> <comm>\n" per task) as trace-cmd reads it.
std::string saved_cmdlines(const std::vector<TaskInfo>& tasks);

}  // namespace ct::node::record
