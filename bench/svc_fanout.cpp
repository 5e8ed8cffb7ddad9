// svc_fanout [--quick] [--sizes 1,200,1000] [--pods N] [--wrap "CMD"] [REQUESTS] [-- extra tracer-svc flags]:
// fan-out latency of GET /v1/pods through the built tracer-svc beside the machine's floor, at
// each node count (default 1, 200 and 1,000 nodes; --quick: 200 and 1,000, 20 requests).
// The nodes are stand-ins hosted in this process (tests/integration/svc_stand_ins.h: one
// loopback port per node, all served by one thread, answering a canned /v1/pods map of --pods
// pods, default 1); tracer-svc is a real process given them with --nodes. The floor is the same
// fan-out by a bare epoll client in this process (no tracer-svc, no HTTP library, no merge) to the
// same stand-ins. Per size, after a warm-up, REQUESTS rounds each make one request through
// tracer-svc (on a kept-alive connection) and one bare round, alternating which goes first, so
// both see the same machine load; printed: median and p99 of each, their ratios, tracer-svc's CPU
// time per node exchange, bytes per node reply and per merged answer, and the load average.
// --wrap runs tracer-svc under CMD (a profiler: "perf record -g -o svc.data", "valgrind
// --tool=callgrind"); its figures are then the profiler's. Not a test: nothing is asserted; the
// target (1.5x the floor at median and p99) is printed as met or not.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/fd.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "tests/integration/svc_stand_ins.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using ct::svctest::StandInNodes;

constexpr int kWarmup = 20;
constexpr double kTarget = 1.5;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU time of the calling thread, in seconds.
double thread_cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

int connect_loopback(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Bytes of a complete HTTP response at the start of `reply` (Content-Length framing), 0 if not yet.
size_t complete(const std::string& reply) {
    auto end = reply.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    auto cl = reply.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) cl = reply.find("content-length: ");
    if (cl == std::string::npos || cl > end) return 0;
    size_t total = end + 4 + std::stoul(reply.substr(cl + 16));
    return reply.size() >= total ? total : 0;
}

// A kept-alive client of tracer-svc: one blocking socket, one request at a time.
class SvcClient {
public:
    explicit SvcClient(unsigned short port) : fd_(connect_loopback(port)) {}
    // The whole response (headers and body), or "" when the connection failed.
    std::string get(std::string_view target) {
        auto request = fmt::format("GET {} HTTP/1.1\r\nHost: svc\r\nUser-Agent: svc_fanout\r\n\r\n", target);
        if (fd_.get() < 0 || ::send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size()))
            return {};
        std::string reply;
        char buf[65536];
        while (complete(reply) == 0) {
            ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
            if (r <= 0) return {};
            reply.append(buf, static_cast<size_t>(r));
        }
        return reply;
    }

private:
    ct::FD fd_;
};

// The machine's floor for the same fan-out: a bare client (no tracer-svc, no HTTP library, no
// merge) sends the request on one kept-alive connection per stand-in, then waits in epoll for
// every reply. What it takes is loopback TCP and the stand-ins themselves: tracer-svc cannot fan
// out faster than this on this machine.
class BareFanout {
public:
    explicit BareFanout(const std::vector<unsigned short>& ports, size_t n) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
        for (size_t i = 0; i < n; ++i) {
            int fd = connect_loopback(ports[i]);
            if (fd < 0) continue;
            epoll_event ev{.events = EPOLLIN, .data = {.u64 = fds_.size()}};
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
            fds_.emplace_back(fd);
        }
    }
    bool ok(size_t n) const { return fds_.size() >= n; }
    // One round; false when a reply did not come whole.
    bool round() {
        static constexpr std::string_view kRequest = "GET /v1/pods HTTP/1.1\r\nHost: node\r\nUser-Agent: bare\r\n\r\n";
        got_.assign(fds_.size(), {});
        for (const auto& fd : fds_)
            if (::send(fd.get(), kRequest.data(), kRequest.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kRequest.size()))
                return false;
        size_t done = 0;
        epoll_event events[256];
        char buf[65536];
        while (done < fds_.size()) {
            int k = ::epoll_wait(epoll_.get(), events, 256, 5000);
            if (k <= 0) return false;
            for (int e = 0; e < k; ++e) {
                auto i = events[e].data.u64;
                ssize_t r = ::recv(fds_[i].get(), buf, sizeof buf, MSG_DONTWAIT);
                if (r <= 0) continue;
                got_[i].append(buf, static_cast<size_t>(r));
                if (complete(got_[i])) ++done;
            }
        }
        return true;
    }

private:
    ct::FD epoll_;
    std::vector<ct::FD> fds_;
    std::vector<std::string> got_;
};

unsigned short free_port() {
    // Bind a throw-away server to port 0 and reuse its port for the svc.
    ct::http::HttpServer probe({.listen = {"127.0.0.1", 0}, .io_threads = 1, .handler_threads = 1},
                               [](const ct::http::Request&) { return ct::http::Dispatched{}; });
    auto p = probe.start();
    probe.stop();
    return p ? *p : 0;
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    auto idx = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

// utime + stime of every thread of `pid`, in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto fields = ct::split_whitespace(text.substr(text.rfind(')') + 2));  // field 3 onwards
    if (fields.size() < 13) return 0;
    return static_cast<double>(std::stoull(fields[11]) + std::stoull(fields[12])) /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return fmt::format("{} {} {}", a, b, c);
}

struct Row {
    size_t nodes = 0;
    bool ok = false;
    double median_ms = 0, p99_ms = 0, floor_median_ms = 0, floor_p99_ms = 0;
    double cpu_us_per_exchange = 0, floor_cpu_us_per_exchange = 0;
    size_t reply_bytes = 0, answer_bytes = 0;
    std::string load_start, load_end;
};

Row measure(const StandInNodes& nodes, size_t n, size_t pods, int requests, const std::vector<std::string>& extra,
            const std::string& wrap) {
    Row row{.nodes = n, .reply_bytes = nodes.reply_bytes(0), .load_start = loadavg()};
    unsigned short port = free_port();
    std::vector<std::string> argv{std::string(CT_BINARY_DIR) + "/tracer-svc/tracer-svc", "--address",
                                  fmt::format("127.0.0.1:{}", port), "--nodes", nodes.list(n), "--poll", "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    // Its log goes to a file (a captured pipe nobody drains could block it); exec keeps the PID;
    // every node connection is a descriptor.
    argv.insert(argv.begin(), {"sh", "-c", "ulimit -n $(ulimit -Hn); exec " + wrap + " \"$@\" >>" CT_BINARY_DIR "/bench/svc_fanout.log 2>&1", "sh"});
    auto svc = ct::Subprocess::spawn({.argv = argv, .extra_env = {}, .capture_stdout = false, .capture_stderr = false});
    if (!svc) {
        std::fprintf(stderr, "spawning tracer-svc: %s\n", svc.error().message.c_str());
        return row;
    }
    bool ready = false;
    for (auto end = Clock::now() + (wrap.empty() ? 20s : 120s); Clock::now() < end && !ready;) {
        auto r = ct::http::send({.host = "127.0.0.1", .port = port, .target = "/readyz", .timeout = 2s});
        ready = r && r->status == 200;
        if (!ready) std::this_thread::sleep_for(50ms);
    }
    BareFanout bare(nodes.ports(), n);
    SvcClient client(port);
    auto stop = [&] { svc->stop(wrap.empty() ? 2000ms : 60000ms, SIGTERM); };
    if (!ready || !bare.ok(n)) {
        std::fprintf(stderr, "%zu nodes: %s\n", n, ready ? "bare client could not connect" : "tracer-svc never became ready");
        stop();
        return row;
    }
    std::vector<double> svc_ms, floor_ms;
    double cpu0 = 0, floor_cpu = 0;
    for (int i = -kWarmup; i < requests; ++i) {
        if (i == 0) cpu0 = cpu_seconds(svc->pid());
        double s = 0, f = 0;
        std::string reply;
        for (int k = 0; k < 2; ++k) {
            if ((k == 0) == (i % 2 == 0)) {
                auto t0 = Clock::now();
                reply = client.get("/v1/pods");
                s = ms_since(t0);
            } else {
                auto t0 = Clock::now();
                double c0 = thread_cpu_seconds();
                if (!bare.round()) {
                    std::fprintf(stderr, "%zu nodes: a bare round failed\n", n);
                    stop();
                    return row;
                }
                f = ms_since(t0);
                if (i >= 0) floor_cpu += thread_cpu_seconds() - c0;
            }
        }
        // Every node's pods must be in the merged answer, else the figure measures failures.
        auto body_at = reply.find("\r\n\r\n");
        boost::system::error_code ec;
        auto v = body_at == std::string::npos ? boost::json::value() : boost::json::parse(reply.substr(body_at + 4), ec);
        if (!reply.starts_with("HTTP/1.1 200") || ec || !v.is_object() || v.as_object().size() != n * pods) {
            std::fprintf(stderr, "GET /v1/pods with %zu nodes: %s\n", n, reply.substr(0, 300).c_str());
            stop();
            return row;
        }
        row.answer_bytes = reply.size() - body_at - 4;
        if (i >= 0) {
            svc_ms.push_back(s);
            floor_ms.push_back(f);
        }
    }
    // Both sides' work, taken while the bare rounds ran too: tracer-svc's own CPU only.
    row.cpu_us_per_exchange = (cpu_seconds(svc->pid()) - cpu0) * 1e6 / (double(requests) * double(n));
    row.floor_cpu_us_per_exchange = floor_cpu * 1e6 / (double(requests) * double(n));
    stop();
    row.median_ms = percentile(svc_ms, 0.5);
    row.p99_ms = percentile(svc_ms, 0.99);
    row.floor_median_ms = percentile(floor_ms, 0.5);
    row.floor_p99_ms = percentile(floor_ms, 0.99);
    row.load_end = loadavg();
    row.ok = true;
    return row;
}

std::vector<size_t> parse_sizes(const std::string& text) {
    std::vector<size_t> sizes;
    for (const auto& s : ct::split_any(text, ",")) {
        auto v = ct::parse_u64(s);
        if (v && *v > 0) sizes.push_back(static_cast<size_t>(*v));
    }
    return sizes;
}

}  // namespace

int main(int argc, char** argv) {
    int requests = 200;
    size_t pods = 1;
    std::vector<size_t> sizes{1, 200, 1000};
    std::vector<std::string> extra;
    std::string wrap;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            extra.assign(argv + i + 1, argv + argc);
            break;
        }
        if (a == "--quick") {
            sizes = {200, 1000};
            requests = 20;
        } else if (a == "--sizes" && i + 1 < argc) {
            sizes = parse_sizes(argv[++i]);
        } else if (a == "--wrap" && i + 1 < argc) {
            wrap = argv[++i];
        } else if (a == "--pods" && i + 1 < argc) {
            pods = std::max<size_t>(1, std::strtoul(argv[++i], nullptr, 10));
        } else {
            requests = std::max(1, std::atoi(argv[i]));
        }
    }
    if (sizes.empty()) {
        std::fprintf(stderr, "svc_fanout: --sizes needs node counts, e.g. 200,1000\n");
        return 2;
    }

    StandInNodes nodes(*std::max_element(sizes.begin(), sizes.end()), pods);
    std::vector<Row> rows;
    for (size_t n : sizes) rows.push_back(measure(nodes, n, pods, requests, extra, wrap));

    std::printf("svc_fanout: GET /v1/pods through tracer-svc and by a bare epoll client (the floor), interleaved; "
                "%d requests per size after %d warm-up, %zu pod(s) per node, %u CPUs\n",
                requests, kWarmup, pods, std::thread::hardware_concurrency());
    std::printf("%6s | %10s %10s | %12s %10s | %6s %6s | %12s %14s | %8s %10s | %s\n", "nodes", "median ms", "p99 ms",
                "floor median", "floor p99", "x med", "x p99", "svc CPU/node", "floor CPU/node", "reply B", "answer B",
                "load average");
    bool all_ok = true, met = true;
    for (const auto& r : rows) {
        all_ok = all_ok && r.ok;
        if (!r.ok) {
            std::printf("%6zu | failed\n", r.nodes);
            continue;
        }
        double xm = r.median_ms / r.floor_median_ms, xp = r.p99_ms / r.floor_p99_ms;
        if (r.nodes >= 200) met = met && xm <= kTarget && xp <= kTarget;
        std::printf("%6zu | %10.3f %10.3f | %12.3f %10.3f | %6.2f %6.2f | %9.2f us %11.2f us | %8zu %10zu | %s -> %s\n",
                    r.nodes, r.median_ms, r.p99_ms, r.floor_median_ms, r.floor_p99_ms, xm, xp, r.cpu_us_per_exchange,
                    r.floor_cpu_us_per_exchange, r.reply_bytes, r.answer_bytes, r.load_start.c_str(), r.load_end.c_str());
    }
    if (!all_ok) return 1;
    std::printf("target (200 nodes and more: within %.1fx the floor at median and p99): %s\n", kTarget,
                met ? "met" : "NOT met");
    return 0;
}
