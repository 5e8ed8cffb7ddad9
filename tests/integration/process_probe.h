// What a running process holds, read from /proc: open fds, threads, resident memory, CPU time,
// live children, for fault and load tests that check tracer-node returns to its baseline. Pure
// readers; a process that is gone reads as zeros / empty. Any thread may call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ct::test {

// Whether memory figures (RSS, the allocator's counts) of the programs under test mean anything:
// not in a sanitizer build, where ASan keeps freed memory in quarantine, adds shadow memory and
// replaces glibc's allocator (mallinfo2 reads zero). fds, threads and children still count.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMemoryFiguresMeaningful = false;
#else
inline constexpr bool kMemoryFiguresMeaningful = true;
#endif

struct ProcessFigures {
    size_t fds = 0;
    size_t threads = 0;
    size_t rss_kib = 0;
};

ProcessFigures process_figures(pid_t pid);
// User + system CPU time the process has used, in seconds (0 when it is gone).
double cpu_seconds(pid_t pid);
// Direct children of every thread of `pid` (/proc/<pid>/task/*/children).
std::vector<pid_t> child_pids(pid_t pid);
// Polls `done` every 50 ms until it holds or `timeout` passes; returns its last answer.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
// The value of one Prometheus sample, e.g. `container_tracer_limit_rejections_total{limit="body"}`,
// in /metrics text; -1 when absent.
double metric_value(const std::string& metrics_text, const std::string& series);
// The ftrace instance directories a tracer-node started sessions on, from its log ("trace file
// <dir>/trace_pipe"), that still exist. Other tests on the host may have their own instances:
// only these are this node's.
std::vector<std::string> leftover_instances(const std::string& node_log);

}  // namespace ct::test
