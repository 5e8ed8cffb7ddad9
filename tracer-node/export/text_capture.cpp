#include "tracer-node/export/text_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/strings.h"
#include "tracer-node/export/trace_line_parse.h"

namespace ct::node {

namespace fs = std::filesystem;

std::string instance_dir_of(const std::string& path) {
    fs::path p(path);
    if (p.filename() != "trace_pipe") return {};
    auto dir = p.parent_path();
    if (dir.parent_path().filename() != "instances") return {};
    return dir.string();
}

CaptureLoss parse_cpu_stats(std::string_view text) {
    CaptureLoss loss;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(pos, end - pos);
        auto colon = line.find(':');
        if (colon != std::string_view::npos) {
            auto key = trim(line.substr(0, colon));
            auto value = parse_u64(trim(line.substr(colon + 1)));
            if (value && key == "overrun") loss.overrun += *value;
            if (value && key == "dropped events") loss.dropped += *value;
        }
        pos = end + 1;
    }
    return loss;
}

CaptureLoss read_instance_loss(const std::string& instance_dir) {
    CaptureLoss total;
    std::error_code ec;
    for (const auto& cpu : fs::directory_iterator(fs::path(instance_dir) / "per_cpu", ec)) {
        std::ifstream in(cpu.path() / "stats");
        std::stringstream text;
        text << in.rdbuf();
        auto l = parse_cpu_stats(text.str());
        total.overrun += l.overrun;
        total.dropped += l.dropped;
    }
    return total;
}

bool instance_finishing(const std::string& instance_dir) {
    int fd = ::open((instance_dir + "/tracing_on").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char c = '1';
    bool off = ::read(fd, &c, 1) == 1 && c == '0';
    ::close(fd);
    return off;
}

Result<std::unique_ptr<TextCapture>> TextCapture::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail_errno(fmt::format("opening trace file \"{}\"", path));
    return std::unique_ptr<TextCapture>(new TextCapture(FD(fd), path, instance_dir_of(path)));
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
    if (!instance_dir_.empty()) return instance_finishing(instance_dir_) || hook_exited_;
    return hook_exited_;
}

void TextCapture::consume(const char* data, size_t size, std::vector<TraceEvent>& out) {
    partial_.append(data, size);
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
        std::string_view line(partial_.data() + start, nl - start);
        if (auto e = parse_trace_line(line)) out.push_back(std::move(*e));
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
