// Capture and export through the real tracer-node binary, real ftrace and unshare pods. Needs root.
// - Scope (docs/api.md "Capture"): a host process that gets into a running session's pid filter
//   (written there directly, as a hook's `--pid` once allowed) never reaches an export; its events
//   are counted in Stats.OutOfScope.
// - Bounded per-run caches: 100,000 short-lived processes in a traced pod are all attributed, and
//   tracer-node's resident memory grows by less than 8 MiB over them.
// - A full disk under the JSON-lines sink: what cannot be written is counted, never as exported;
//   the file holds whole lines only; capture and the live stream go on; writing resumes when space
//   returns; the log says each once.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <ranges>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/http_client.h"
#include "common/subprocess.h"
#include "tests/integration/process_probe.h"
#include "tests/support/fixtures.h"
#include "tests/support/viewer_tools.h"

using namespace ct::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string suffix() { return fmt::format("{:06x}", std::random_device{}() & 0xffffff); }

json::object stats_of(TracerNode& node, const std::string& id) {
    return node.get_json("/v1/trace-session/" + id).at(id).at("Stats").as_object();
}

std::uint64_t stat_of(const json::object& stats, const char* key) { return stats.at(key).to_number<std::uint64_t>(); }

std::uint64_t jsonl_stat(const json::object& stats, const char* key) {
    return stats.at("Exporters").at("jsonl").at(key).to_number<std::uint64_t>();
}

// Waits until the session's Delivered reaches `at_least` and then stays put for a moment (the
// capture has caught up); returns the last Stats.
json::object settled_stats(TracerNode& node, const std::string& id, std::uint64_t at_least,
                           std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto stats = stats_of(node, id);
    std::uint64_t last = stat_of(stats, "Delivered");
    int quiet = 0;
    while (std::chrono::steady_clock::now() < deadline && (last < at_least || quiet < 4)) {
        std::this_thread::sleep_for(100ms);
        stats = stats_of(node, id);
        auto now = stat_of(stats, "Delivered");
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
    return stats;
}

// Reads a live trace stream on its own thread until the server ends it; keeps whole lines.
class StreamReader {
public:
    StreamReader(unsigned short port, const std::string& id) {
        thread_ = std::thread([this, port, id] {
            ct::http::ClientRequest r;
            r.port = port;
            r.target = "/v1/trace-session/" + id + "/trace";
            r.timeout = 300s;
            std::string partial;
            auto res = ct::http::stream(r, [&](std::string_view data) {
                partial.append(data);
                auto nl = partial.rfind('\n');
                if (nl != std::string::npos) {
                    text_.append(partial, 0, nl + 1);
                    partial.erase(0, nl + 1);
                }
                return true;
            });
            status_ = res ? res->status : -1;
        });
    }
    ~StreamReader() { join(); }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    // After join(): the status and the text received.
    int status() const { return status_; }
    const std::string& text() const { return text_; }

private:
    std::thread thread_;
    std::string text_;
    int status_ = 0;
};

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
    std::size_t n = 0, pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        if (std::string_view(text).substr(pos, end - pos).find(needle) != std::string_view::npos) ++n;
        pos = end + 1;
    }
    return n;
}

std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

// The instance directory a running session's hook reads from (its first output line is the
// instance's trace_pipe).
std::string instance_dir_of(TracerNode& node, const std::string& id) {
    auto view = node.get_json("/v1/trace-session/" + id).at(id).as_object();
    REQUIRE(view.at("Output").is_array());
    return fs::path(std::string(view.at("Output").as_array().at(0).as_string())).parent_path().string();
}

void wait_for_pod(TracerNode& node, const std::string& name) {
    REQUIRE(wait_until([&] { return node.get_json("/v1/pods").as_object().contains(name); }, 10s));
}

// Raises kernel.pid_max for the test's duration: with the 32768 of a small machine, PIDs wrap
// before 100,000 processes and a cache keyed by PID would stay small even unbounded. Hosts with
// systemd run 4194304. Restored on destruction.
class PidMaxAtLeast {
public:
    explicit PidMaxAtLeast(long want) {
        std::ifstream("/proc/sys/kernel/pid_max") >> old_;
        if (old_ < want) std::ofstream("/proc/sys/kernel/pid_max") << want;
    }
    ~PidMaxAtLeast() {
        long now = 0;
        std::ifstream("/proc/sys/kernel/pid_max") >> now;
        if (now != old_) std::ofstream("/proc/sys/kernel/pid_max") << old_;
    }

private:
    long old_ = 0;
};

// A small tmpfs of the test's own on a fresh directory; lazily unmounted on destruction.
class Tmpfs {
public:
    explicit Tmpfs(const std::string& size) : dir_("ct-tmpfs") {
        REQUIRE(::mount("tmpfs", dir_.str().c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                        fmt::format("size={},mode=0755", size).c_str()) == 0);
    }
    ~Tmpfs() { ::umount2(dir_.str().c_str(), MNT_DETACH); }
    const fs::path& path() const { return dir_.path(); }

private:
    TempDir dir_;
};

}  // namespace

TEST_CASE("a host process put into a running session's pid filter reaches no export and is counted OutOfScope",
          "[integration][root][capture]") {
    Pod traced("scope-pod-" + suffix());
    TracerNode node;
    wait_for_pod(node, traced.name());
    auto id = node.create_session(traced.name(), "*", "-s getppid");
    node.run(id, true);
    StreamReader stream(node.port(), id);

    // A process of the host, in no pod, that gets into the instance's pid filter the way a hook's
    // `--pid` once put it there.
    TempDir dir("ct-scope");
    auto start = (dir.path() / "start").string();
    constexpr long kHostCalls = 20'000, kPodCalls = 1'000;
    auto host = ct::Subprocess::spawn(
        {.argv = {built("bench/getppid_loop"), std::to_string(kHostCalls), start}, .capture_stdout = false});
    REQUIRE(host);
    {
        auto filter = instance_dir_of(node, id) + "/set_event_pid";
        int fd = ::open(filter.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        REQUIRE(fd >= 0);
        auto text = fmt::format("{} ", host->pid());
        CHECK(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        ::close(fd);
    }
    std::this_thread::sleep_for(300ms);  // the stream reader has subscribed
    { std::ofstream(start) << "go"; }
    auto exited = host->wait_for(60s);
    REQUIRE(exited);
    CHECK(exited->ok());
    // The pod's own calls still arrive, attributed.
    traced.exec(fmt::format("{} {}", built("bench/getppid_loop"), kPodCalls));
    node.run(id, false);
    stream.join();

    auto host_pid = fmt::format("\"pid\":{},", host->pid());
    auto file = file_text(node.trace_output());
    auto stats = stats_of(node, id);
    INFO("Stats: " << json::serialize(stats));
    CHECK(count_lines_with(file, host_pid) == 0);
    CHECK(stream.status() == 200);
    CHECK(count_lines_with(stream.text(), host_pid) == 0);
    CHECK(count_lines_with(file, "\"pod\":null") == 0);
    // Its calls were in the kernel's buffer and reached tracer-node: counted, not exported.
    CHECK(stat_of(stats, "OutOfScope") >= 2 * kHostCalls);
    std::size_t pod_enters = 0, elsewhere = 0;
    for (const auto& e : node.events())
        if (e.at("event") == "sys_enter_getppid" && e.at("task") == "getppid_loop")
            ++(e.at("pod") == json::value(traced.name()) ? pod_enters : elsewhere);
    CHECK(pod_enters == kPodCalls);
    CHECK(elsewhere == 0);
    // Everything the kernel recorded is delivered, lost or out of scope; the sink has what was delivered.
    CHECK(stat_of(stats, "Delivered") == count_lines_with(file, "\"session\":\"" + id + "\""));
    auto metrics = node.request("GET", "/metrics").body;
    CHECK(metric_value(metrics, fmt::format("container_tracer_session_events{{kind=\"out_of_scope\",session=\"{}\"}}", id)) ==
          static_cast<double>(stat_of(stats, "OutOfScope")));

    // The recording kept the kernel's pages, the host's records among the pod's: its downloads
    // hide them, and the pod's events keep the times the sink delivered.
    std::multiset<std::pair<std::string, std::uint64_t>> delivered;
    pid_t pod_pid = 0;
    for (const auto& e : node.events())
        if (e.at("task") == "getppid_loop" && std::string_view(e.at("event").as_string()).find("getppid") != std::string_view::npos) {
            pod_pid = static_cast<pid_t>(e.at("pid").as_int64());
            delivered.emplace(std::string(e.at("event").as_string()), e.at("timestamp_ns").to_number<std::uint64_t>());
        }
    REQUIRE(pod_pid != 0);
    auto download = [&](const std::string& what) {
        auto r = node.request("GET", "/v1/trace-session/" + id + "/" + what);
        INFO(what << ": " << r.body.substr(0, 300));
        REQUIRE(r.status == 200);
        auto path = (dir.path() / what).string();
        std::ofstream(path, std::ios::binary) << r.body;
        return path;
    };
    std::multiset<std::pair<std::string, std::uint64_t>> reported;
    std::size_t host_lines = 0;
    for (const auto& l : parse_trace_cmd_report(trace_cmd({"report", "-t", "-i", download("trace.dat")}))) {
        host_lines += l.pid == host->pid();
        if (l.pid == pod_pid && l.event.find("getppid") != std::string::npos) reported.emplace(l.event, l.timestamp_ns);
    }
    CHECK(host_lines == 0);
    CHECK(reported.size() == 2 * kPodCalls);
    CHECK(reported == delivered);
    auto doc = json::parse(file_text(download("trace.json")));
    std::size_t host_events = 0, pod_calls = 0;
    for (const auto& e : doc.at("traceEvents").as_array()) {
        if (!e.as_object().contains("tid")) continue;
        host_events += e.at("tid").as_int64() == host->pid();
        pod_calls += e.at("tid").as_int64() == pod_pid && e.at("name") == "getppid" && e.at("ph") == "X";
    }
    CHECK(host_events == 0);
    CHECK(pod_calls == kPodCalls);
}

TEST_CASE("100k short-lived processes in a traced pod are all attributed and tracer-node's RSS grows < 8 MiB",
          "[integration][root][capture]") {
    if (!kMemoryFiguresMeaningful) {
        WARN("sanitizer build: memory figures mean nothing here");
        return;
    }
    constexpr long kWarmup = 2'000, kChildren = 100'000;
    PidMaxAtLeast pid_max(4'194'304);
    Pod traced("forky-pod-" + suffix());
    // Recording on (the default): the recorder's task table is bounded too (record/recorder.cpp).
    TracerNode node;
    wait_for_pod(node, traced.name());
    auto id = node.create_session(traced.name(), "*", "-s getppid");
    node.run(id, true);

    // Warm up: batches, queues and formats reach their working size first.
    traced.exec(fmt::format("{} {}", built("bench/forkexit"), kWarmup), 120s);
    settled_stats(node, id, 2 * kWarmup, 60s);
    auto before = process_figures(node.pid()).rss_kib;

    auto t0 = std::chrono::steady_clock::now();
    auto out = traced.exec(fmt::format("{} {}", built("bench/forkexit"), kChildren), 300s);
    CHECK(out.find(fmt::format("forkexit {}", kChildren)) != std::string::npos);
    auto stats = settled_stats(node, id, 2 * (kWarmup + kChildren), 120s);
    auto after = process_figures(node.pid()).rss_kib;
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN(kChildren << " children in " << seconds << " s; tracer-node VmRSS " << before << " KiB -> " << after
                   << " KiB (+" << (static_cast<long>(after) - static_cast<long>(before)) << " KiB); Stats "
                   << json::serialize(stats));
    node.run(id, false);

    // Every child's one call, as enter and exit, from its own pid and attributed to the pod.
    auto file = file_text(node.trace_output());
    auto pod_member = fmt::format("\"pod\":\"{}\"", traced.name());
    std::size_t enters = 0, exits = 0;
    std::size_t pos = 0;
    while (pos < file.size()) {
        auto end = file.find('\n', pos);
        if (end == std::string::npos) end = file.size();
        std::string_view line(file.data() + pos, end - pos);
        pos = end + 1;
        if (line.find("\"task\":\"forkexit\"") == std::string_view::npos) continue;
        bool in_pod = line.find(pod_member) != std::string_view::npos;
        if (line.find("\"event\":\"sys_enter_getppid\"") != std::string_view::npos) enters += in_pod;
        if (line.find("\"event\":\"sys_exit_getppid\"") != std::string_view::npos) exits += in_pod;
    }
    CHECK(stat_of(stats, "Lost") == 0);
    CHECK(enters == kWarmup + kChildren);
    CHECK(exits == kWarmup + kChildren);
    CHECK(after < before + 8 * 1024);
}

TEST_CASE("a full disk under the JSON-lines sink: unwritten events are counted, the file keeps whole lines, "
          "capture and streams go on, and writing resumes when space returns",
          "[integration][root][capture]") {
    Tmpfs disk("2m");
    auto output = (disk.path() / "events.jsonl").string();
    auto filler = (disk.path() / "filler").string();
    {
        std::ofstream f(filler, std::ios::binary);
        std::string block(64 * 1024, 'x');
        for (int i = 0; i < 24; ++i) f << block;  // 1.5 MiB of the 2
        REQUIRE(f.good());
    }
    Pod traced("fulldisk-pod-" + suffix());
    TracerNode node({.trace_output = output});
    wait_for_pod(node, traced.name());
    auto id = node.create_session(traced.name(), "*", "-s getppid");
    node.run(id, true);
    StreamReader stream(node.port(), id);
    std::this_thread::sleep_for(300ms);  // the stream reader has subscribed

    // ~4,000 events of ~350 bytes: more than the half MiB left.
    traced.exec(fmt::format("{} {}", built("bench/getppid_loop"), 2'000));
    auto full = settled_stats(node, id, 4'000, 60s);
    INFO("Stats while full: " << json::serialize(full));
    auto text = file_text(output);
    CHECK(jsonl_stat(full, "Dropped") > 0);
    CHECK(jsonl_stat(full, "Errors") > 0);
    CHECK(jsonl_stat(full, "Exported") == occurrences(text, "\n"));
    CHECK(jsonl_stat(full, "Exported") + jsonl_stat(full, "Dropped") == stat_of(full, "Delivered"));
    CHECK((text.empty() || text.back() == '\n'));  // whole lines only
    CHECK(occurrences(node.log(), "No space left on device") == 1);

    // Space returns: the next events are written again.
    fs::remove(filler);
    traced.exec(fmt::format("{} {}", built("bench/getppid_loop"), 100));
    auto again = settled_stats(node, id, stat_of(full, "Delivered") + 200, 60s);
    INFO("Stats after: " << json::serialize(again));
    text = file_text(output);
    CHECK(jsonl_stat(again, "Exported") >= jsonl_stat(full, "Exported") + 200);
    CHECK(jsonl_stat(again, "Exported") == occurrences(text, "\n"));
    CHECK(jsonl_stat(again, "Dropped") == jsonl_stat(full, "Dropped"));
    CHECK(occurrences(node.log(), "No space left on device") == 1);
    CHECK(occurrences(node.log(), "writable again") == 1);
    std::size_t parsed = 0;
    for (auto line : std::views::split(std::string_view(text), '\n'))
        if (!std::string_view(line.begin(), line.end()).empty()) {
            CHECK_NOTHROW(json::parse(std::string_view(line.begin(), line.end())));
            ++parsed;
        }
    CHECK(parsed == jsonl_stat(again, "Exported"));

    node.run(id, false);
    stream.join();
    auto last = stats_of(node, id);
    // The live stream was never held up by the disk: it got every delivered event.
    CHECK(stream.status() == 200);
    CHECK(occurrences(stream.text(), "\n") == stat_of(last, "Delivered"));
}
