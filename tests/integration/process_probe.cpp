#include "tests/integration/process_probe.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/strings.h"

namespace ct::test {

namespace fs = std::filesystem;

namespace {

size_t entries(const fs::path& dir) {
    std::error_code ec;
    size_t n = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
    return n;
}

}  // namespace

ProcessFigures process_figures(pid_t pid) {
    auto base = fs::path("/proc") / std::to_string(pid);
    ProcessFigures f{.fds = entries(base / "fd"), .threads = entries(base / "task"), .rss_kib = 0};
    std::ifstream status(base / "status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmRSS:")) {
            auto fields = split_whitespace(line);
            if (fields.size() >= 2)
                if (auto kib = parse_u64(fields[1])) f.rss_kib = *kib;
        }
    return f;
}

double cpu_seconds(pid_t pid) {
    std::ifstream in(fs::path("/proc") / std::to_string(pid) / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return 0;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::vector<pid_t> child_pids(pid_t pid) {
    std::vector<pid_t> out;
    std::error_code ec;
    auto tasks = fs::path("/proc") / std::to_string(pid) / "task";
    for (fs::directory_iterator it(tasks, ec), end; !ec && it != end; it.increment(ec)) {
        std::ifstream in(it->path() / "children");
        long child = 0;
        while (in >> child) out.push_back(static_cast<pid_t>(child));
    }
    return out;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

double metric_value(const std::string& metrics_text, const std::string& series) {
    std::istringstream in(metrics_text);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    return -1;
}

std::vector<std::string> leftover_instances(const std::string& node_log) {
    static const std::string kMarker = "trace file ";
    std::set<std::string> dirs;
    std::istringstream in(node_log);
    std::string line;
    while (std::getline(in, line)) {
        auto at = line.find(kMarker);
        if (at == std::string::npos) continue;
        auto path = fs::path(std::string(trim(line.substr(at + kMarker.size()))));
        if (path.string().find("/instances/") != std::string::npos) dirs.insert(path.parent_path().string());
    }
    std::vector<std::string> out;
    for (const auto& d : dirs)
        if (fs::exists(d)) out.push_back(d);
    return out;
}

}  // namespace ct::test
