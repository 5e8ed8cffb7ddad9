// recording_scan: reads a session's recording directory back (recording_format.h) when the agent
// starts, so recordings survive restarts. I/O; called by Recorder::open only.
// A run the previous agent did not close (no "ended" file: it crashed) may end in a torn write:
// its last chunk or task line cut short is cut off and the run closed. Everything else that does
// not parse — a truncated chunk in a closed run, a foreign file, bad metadata — is damage: the
// first problem, naming the file, is kept and the session's exports answer it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracer-node/record/recording_format.h"
#include "tracer-node/record/scope_scrub.h"

namespace ct::node::record {

struct ScannedChunk {
    std::uint64_t offset = 0;  // of the zstd frame
    ChunkHeader header;
};

struct ScannedSegment {
    std::uint64_t seq = 0;
    std::uint64_t run = 0;  // RunMeta::run of the run it belongs to
    std::string path;
    std::uint64_t bytes = 0;
    std::vector<ScannedChunk> chunks;
};

struct ScannedRun {
    RunMeta meta;
    std::string dir;
    std::vector<TaskInfo> tasks;  // as appended (a tid may repeat: the later line wins)
    std::vector<ExcludedSpan> excluded;  // as appended (a span may repeat, grown: they are merged)
};

struct ScannedSession {
    std::vector<ScannedRun> runs;          // by run number
    std::vector<ScannedSegment> segments;  // by sequence number
    std::string damage;                    // "" when everything read back
    // The highest run and segment numbers on disk, read or not (new ones must not reuse them).
    std::uint64_t last_run = 0, last_segment = 0;
};

ScannedSession scan_session_dir(const std::string& dir);

// Parses a segment's bytes: its magic and chunk headers (frames are not decompressed). Pure.
// `valid` is how many bytes hold whole chunks; on a problem the error names its offset, and
// `cut_short` says whether it is only the end of the data cutting the last chunk (a torn write).
struct SegmentIndex {
    std::vector<ScannedChunk> chunks;
    std::uint64_t valid = 0;
    std::string error;
    bool cut_short = false;
};
SegmentIndex index_segment(std::string_view bytes, std::uint32_t page_size, std::uint32_t cpus);

}  // namespace ct::node::record
