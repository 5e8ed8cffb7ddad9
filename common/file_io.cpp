#include "common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/fd.h"

namespace ct {

int read_file(const std::string& path, std::string& out, size_t limit) {
    out.clear();
    FD fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return errno;
    char buf[4096];
    while (out.size() < limit) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        out.append(buf, std::min(static_cast<size_t>(n), limit - out.size()));
    }
    return 0;
}

int read_link(const std::string& path, std::string& out) {
    char buf[256];  // "uts:[4026531838]" and friends are short
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n < 0) return errno;
    out.assign(buf, static_cast<size_t>(n));
    return 0;
}

}  // namespace ct
