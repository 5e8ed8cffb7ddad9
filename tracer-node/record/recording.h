// Recording: a consistent view of one session's recorded runs and chunks (recording_format.h),
// taken by Recorder::snapshot() for an export. It holds open read descriptors of its segments,
// so chunks stay readable while the recorder goes on appending, or deletes the oldest segments
// for its limit, or the session is deleted. Immutable once taken: any thread may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "tracer-node/record/recording_format.h"
#include "tracer-node/record/scope_scrub.h"

namespace ct::node::record {

struct RecordedRun {
    RunMeta meta;
    std::vector<TaskInfo> tasks;  // at most one per tid: the latest name and owner
    std::vector<ExcludedSpan> excluded;  // events of the run its exports hide (scope_scrub.h)
};

struct RecordedSegment {
    std::string path;
    std::shared_ptr<const FD> fd;  // open for reading
};

struct RecordedChunk {
    std::size_t run = 0;         // index into Recording::runs
    std::size_t segment = 0;     // index into Recording::segments
    std::uint64_t offset = 0;    // of the zstd frame in the segment (after the chunk header)
    ChunkHeader header;
};

struct Recording {
    std::string session_id;
    std::vector<RecordedRun> runs;          // oldest first
    std::vector<RecordedSegment> segments;
    std::vector<RecordedChunk> chunks;      // in recording order: oldest first, each CPU's in page order

    // The zstd frame of `chunk`. kIo naming the segment when it cannot be read whole.
    Result<std::string> read_frame(const RecordedChunk& chunk) const;
};

}  // namespace ct::node::record
