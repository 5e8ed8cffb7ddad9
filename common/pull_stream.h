// PullSource: a response body made by blocking work, one piece at a time (reading and converting
// recorded files, relaying another server's download). pull_stream() runs one on a thread of its
// own and serves it as the HTTP server's push-driven ChunkStream (common/http.h): the thread
// pulls while at most `max_queued` bytes wait for the connection, wakes the connection when it
// queued something or the source ended, and stops when the connection closes the stream.
// For downloads (few, each bounded by its file); live streams use StreamFanout, which holds no
// thread per reader.
// Ownership: the ChunkStream owns the source and the thread; close() (or destruction) stops the
// thread and joins it, which waits at most for one next() call (sources wait briefly: below).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "common/http.h"

namespace ct::http {

class PullSource {
public:
    virtual ~PullSource() = default;
    // Waits up to `wait` for data. Returns the next piece ("" = nothing yet, keep going), or
    // nullopt when the body has ended. Called from one thread at a time.
    virtual std::optional<std::string> next(std::chrono::milliseconds wait) = 0;
    // The client went away or the server is stopping: release what is held. Called at most once,
    // by the thread that calls next(), after which next() is not called again.
    virtual void close() = 0;
};

inline constexpr std::size_t kPullQueueBytes = 4u << 20;

std::shared_ptr<ChunkStream> pull_stream(std::shared_ptr<PullSource> source, std::size_t max_queued = kPullQueueBytes);

// Tests and tools: every byte of `stream` (start, take until its end), waiting up to `limit` in
// all. nullopt when it did not end in time.
std::optional<std::string> drain_stream(ChunkStream& stream, std::chrono::milliseconds limit);

}  // namespace ct::http
