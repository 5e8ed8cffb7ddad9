// file_io: reading the small pseudo-files of procfs, cgroupfs and tracefs (real ones or fixture
// trees). Returns errno values instead of Result so callers can tell "the process exited" (ENOENT,
// ESRCH: skip it silently) from real failures. Callable from any thread.
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>

namespace ct {

// Reads a whole (small) file into `out`, at most `limit` bytes. 0 or an errno value.
int read_file(const std::string& path, std::string& out, size_t limit = 1 << 20);

// readlink() into `out`. 0 or an errno value.
int read_link(const std::string& path, std::string& out);

// True for the errors a process that exited (or a thread id that is gone) produces.
inline bool vanished_errno(int err) { return err == ENOENT || err == ESRCH; }

}  // namespace ct
