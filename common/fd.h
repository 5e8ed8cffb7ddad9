// FD: owns one file descriptor and closes it on destruction. Move-only.
#pragma once

#include <unistd.h>

#include <utility>

namespace ct {

class FD {
public:
    FD() = default;
    explicit FD(int fd) : fd_(fd) {}
    ~FD() { reset(); }
    FD(FD&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FD& operator=(FD&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    FD(const FD&) = delete;
    FD& operator=(const FD&) = delete;

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // Gives up ownership; the caller closes the returned descriptor.
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace ct
