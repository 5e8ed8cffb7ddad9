// Output: where ctrace writes its results (stdout), shared by the threads that stream events.
// Writes whole pieces with write(2) so a line is never split between threads; after the first
// failed write it writes nothing more. A reader that left (`ctrace trace ... | head -1`) shows as
// EPIPE on the next write, or earlier through poll() on a pipe or socket, so an idle stream
// notices too. SIGPIPE must be ignored (main does) for EPIPE to be seen.
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

namespace ct::cli {

class Output {
public:
    explicit Output(int fd = 1) : fd_(fd) {}

    // Writes all of `text`; false once any write has failed.
    bool write(std::string_view text);
    // True once a write failed or, for a pipe or socket, its reader has gone (checked now).
    bool failed();
    // The reader went away (EPIPE or the pipe's read end closed): a normal end, not an error.
    bool reader_gone() const { return reader_gone_.load(); }
    // Why a write failed ("" while none did, or when the reader left).
    std::string error() const;

private:
    int fd_;
    mutable std::mutex mutex_;
    std::atomic<bool> failed_{false};
    std::atomic<bool> reader_gone_{false};
    std::string error_;
};

}  // namespace ct::cli
