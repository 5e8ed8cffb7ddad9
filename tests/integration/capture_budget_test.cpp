// The node-wide raw capture queue (CaptureOptions::queue_budget) on real ftrace: two captures of
// two instances share one small budget; while nobody decodes, their readers keep draining the
// kernel buffers into the queue until the budget is full, then drop pages and count their events.
// Every event is then either delivered or counted, and the budget is whole again. Needs root.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "tracer-node/export/raw_capture.h"

using namespace std::chrono_literals;
using ct::node::ByteBudget;
using ct::node::RawCapture;

namespace {

constexpr const char* kTracing = "/sys/kernel/tracing";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    REQUIRE(out.good());
}

// A tracefs instance of this test, tracing getppid enter/exit of this process's main thread.
// Removed on destruction (tracing off first, as rmdir needs no open files and no users).
class Instance {
public:
    explicit Instance(int n) : dir_(fmt::format("{}/instances/ctbudget_{}_{}", kTracing, ::getpid(), n)) {
        REQUIRE(::mkdir(dir_.c_str(), 0755) == 0);
        write_file(dir_ + "/buffer_size_kb", "4096");  // the kernel must not overwrite: we count our drops
        write_file(dir_ + "/set_event_pid", std::to_string(::getpid()));
        write_file(dir_ + "/set_event", "syscalls:sys_enter_getppid\nsyscalls:sys_exit_getppid\n");
        write_file(dir_ + "/tracing_on", "1");
    }
    ~Instance() {
        write_file(dir_ + "/tracing_on", "0");
        write_file(dir_ + "/set_event", "");
        for (int i = 0; i < 100 && ::rmdir(dir_.c_str()) != 0; ++i) std::this_thread::sleep_for(20ms);
    }
    const std::string& dir() const { return dir_; }
    void stop() { write_file(dir_ + "/tracing_on", "0"); }

private:
    std::string dir_;
};

struct Outcome {
    std::uint64_t delivered = 0;
    ct::node::CaptureLoss loss;
};

Outcome drain(RawCapture& capture) {
    Outcome o;
    std::vector<ct::node::TraceEvent> events;
    for (int i = 0; i < 2000 && capture.poll(events, 50ms); ++i) {
        o.delivered += events.size();
        events.clear();
    }
    o.delivered += events.size();
    o.loss = capture.loss();
    return o;
}

}  // namespace

TEST_CASE("captures share one raw queue budget: past it pages are dropped and counted, and it is returned",
          "[integration][root][export]") {
    constexpr int kCalls = 50'000;  // 100k events, ~1.6 MB of raw pages per instance
    constexpr std::size_t kBudget = 256u << 10;
    auto budget = std::make_shared<ByteBudget>(kBudget);
    Instance a(0), b(1);
    auto capture_a = RawCapture::open(a.dir(), {.queue_budget = budget});
    auto capture_b = RawCapture::open(b.dir(), {.queue_budget = budget});
    REQUIRE(capture_a);
    REQUIRE(capture_b);

    for (int i = 0; i < kCalls; ++i) ::syscall(SYS_getppid);
    // Nobody decodes yet: the readers fill the shared budget, then drop what does not fit.
    std::this_thread::sleep_for(300ms);
    CHECK(budget->used() <= kBudget);
    CHECK(budget->used() > kBudget / 2);
    a.stop();
    b.stop();

    auto got_a = drain(**capture_a);
    auto got_b = drain(**capture_b);
    INFO("a: delivered " << got_a.delivered << ", queue_dropped " << got_a.loss.queue_dropped << ", lost "
                         << got_a.loss.total());
    INFO("b: delivered " << got_b.delivered << ", queue_dropped " << got_b.loss.queue_dropped << ", lost "
                         << got_b.loss.total());
    // Each instance saw every call once as enter and once as exit: delivered or counted.
    CHECK(got_a.delivered + got_a.loss.total() == 2u * kCalls);
    CHECK(got_b.delivered + got_b.loss.total() == 2u * kCalls);
    // Together they held no more than the budget, so most of the 2 x 1.6 MB was dropped...
    CHECK(got_a.loss.queue_dropped + got_b.loss.queue_dropped > 2u * kCalls);
    CHECK(got_a.delivered + got_b.delivered > 0);
    // ...by tracer-node's queue, not by the kernel.
    CHECK(got_a.loss.overrun + got_b.loss.overrun == 0);
    // Everything taken was given back.
    CHECK(budget->used() == 0);
}
