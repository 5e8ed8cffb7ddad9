// FileWatch: notices that a file was replaced or rewritten — Kubernetes Secret updates (a symlink
// swap), atomic renames, in-place writes — by its stat() stamp (device, inode, size, mtime;
// symlinks followed), looking at most once per interval so callers may ask on every request.
// Used by the re-read-on-change sources (TokenSource, the TLS context sources).
// Not thread-safe: the owner calls it under its own lock.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/result.h"

namespace ct {

struct FileStamp {
    unsigned long long dev = 0, ino = 0;
    long long size = 0, mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

// Errors: kIo naming the path (missing, no permission).
inline Result<FileStamp> file_stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail_errno("stat \"" + path + "\"");
    return FileStamp{static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
                     static_cast<long long>(st.st_size),
                     static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec};
}

class FileWatch {
public:
    FileWatch(std::string path, std::chrono::milliseconds interval) : path_(std::move(path)), interval_(interval) {}

    // The file's stamp when the interval has passed since the last look and it differs from the
    // accepted one; nullopt otherwise (also when the file cannot be stat'ed right now: mid-rotation).
    std::optional<FileStamp> changed() {
        auto now = std::chrono::steady_clock::now();
        if (now - last_look_ < interval_) return std::nullopt;
        last_look_ = now;
        auto stamp = file_stamp(path_);
        if (!stamp || *stamp == accepted_) return std::nullopt;
        return *stamp;
    }
    // The version now in use (just looked at): changed() stays quiet until the file differs from it.
    void accept(const FileStamp& stamp) {
        accepted_ = stamp;
        last_look_ = std::chrono::steady_clock::now();
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point last_look_{};  // epoch: the first changed() looks
    FileStamp accepted_;
};

}  // namespace ct
