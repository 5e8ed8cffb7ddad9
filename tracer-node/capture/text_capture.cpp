#include "tracer-node/capture/text_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/strings.h"
#include "tracer-node/capture/ftrace_instance.h"

namespace ct::node {

Result<std::unique_ptr<TextCapture>> TextCapture::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail_errno(fmt::format("opening trace file \"{}\"", path));
    return std::unique_ptr<TextCapture>(new TextCapture(FD(fd), path, ftrace::instance_dir_of(path)));
}

TextCapture::TextCapture(FD fd, std::string path, std::string instance_dir)
    : fd_(std::move(fd)), path_(std::move(path)), instance_dir_(std::move(instance_dir)) {}

CaptureLoss TextCapture::loss() const {
    CaptureLoss l = fd_ && !instance_dir_.empty() ? read_instance_loss(instance_dir_) : final_loss_;
    l.unparsed = unparsed_;
    return l;
}

bool TextCapture::finished_reading() {
    // Nothing to read right now: is the producer done?
    if (!instance_dir_.empty()) return ftrace::finishing(instance_dir_) || hook_exited_;
    return hook_exited_;
}

void TextCapture::consume(const char* data, size_t size, std::vector<TraceEvent>& out) {
    partial_.append(data, size);
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
        std::string_view line(partial_.data() + start, nl - start);
        if (auto e = parse_trace_line(line, types_)) {
            names_.name(*e);
            out.push_back(std::move(*e));
        }
        else if (!trim(line).empty() && trim(line).front() != '#') ++unparsed_;
        start = nl + 1;
    }
    partial_.erase(0, start);
}

bool TextCapture::poll(std::vector<TraceEvent>& out, std::chrono::milliseconds wait) {
    if (!fd_) return false;
    pollfd pfd{fd_.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
    char buf[65536];
    ssize_t n = ready > 0 ? ::read(fd_.get(), buf, sizeof buf) : -1;
    if (n > 0) {
        consume(buf, static_cast<size_t>(n), out);
        return true;
    }
    bool no_data = n == 0 || ready == 0 || errno == EAGAIN || errno == EINTR;
    if (!no_data) {  // read error: the instance vanished under us
        fd_.reset();
        return false;
    }
    // Regular files poll as always-readable and read 0 at EOF; pipes read EAGAIN when empty.
    if (finished_reading()) {
        // Events may have landed between the empty read and the check: drain once more.
        while ((n = ::read(fd_.get(), buf, sizeof buf)) > 0) consume(buf, static_cast<size_t>(n), out);
        if (!instance_dir_.empty()) final_loss_ = read_instance_loss(instance_dir_);
        fd_.reset();  // lets the hook remove its instance
        return true;  // the next call reports the end
    }
    if (n == 0 && ready > 0) ::usleep(static_cast<useconds_t>(std::min<long>(wait.count(), 50)) * 1000);
    return true;
}

}  // namespace ct::node
