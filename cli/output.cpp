#include "cli/output.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ct::cli {

bool Output::write(std::string_view text) {
    std::lock_guard lock(mutex_);
    if (failed_) return false;
    while (!text.empty()) {
        ssize_t n = ::write(fd_, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (errno == EPIPE) reader_gone_ = true;
            else error_ = std::strerror(errno);
            failed_ = true;
            return false;
        }
        text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

bool Output::failed() {
    if (failed_) return true;
    // A pipe whose read end is closed polls as POLLERR (a socket: POLLHUP); a terminal or file never does.
    pollfd p{.fd = fd_, .events = 0, .revents = 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
        reader_gone_ = true;
        failed_ = true;
    }
    return failed_;
}

std::string Output::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

}  // namespace ct::cli
