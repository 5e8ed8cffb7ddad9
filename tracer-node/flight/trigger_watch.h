// TriggerWatch: what makes a flight-recorder run dump by itself (docs/flight-recorder.md,
// "Triggers"): a fatal signal generated for one of the session's processes, whoever sends it
// (signal:signal_generate, its `sig` and target `pid`), or the OOM killer choosing one of them
// (oom:mark_victim, its `pid`).
//
// The hook's own instance cannot see these: its set_event_pid filters on the task that writes
// the event, which for signal_generate is the sender. So each run has a small trigger instance of
// its own, owned by tracer-node: named "<agent prefix><tracer-node pid>_<16 hex>" (decision 1 of
// docs/architecture.md "ftrace instances": the agent's leftovers and --clear rules cover it), no
// set_event_pid, 64 KiB per CPU, those two events with filters on the targets:
//   signal_generate: (sig==4||sig==6||sig==7||sig==8||sig==9||sig==11)&&(pid==a||pid==b...)
//   mark_victim:     pid==a||pid==b...
// where a, b... are the hook instance's set_event_pid (the session's threads and, through
// event-fork, every descendant), re-read every interval and written when it changed. A filter
// longer than the kernel takes (a page) keeps the signal numbers only, and the targets are then
// checked here against the pids of this and the previous interval.
//
// One thread per run reads the trigger instance's per-CPU buffers every interval and calls
// `on_trigger` (on that thread) for each trigger event. Destroying the watch stops the thread
// and removes the instance.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "tracer-node/flight/dump_store.h"

namespace ct::node::flight {

inline constexpr std::size_t kMaxFilterBytes = 4000;  // the kernel takes a filter shorter than a page

// Pure: the signal numbers that trigger a dump, and their names ("SIGSEGV"; "signal <n>" else).
const std::vector<int>& fatal_signals();
std::string signal_name(int sig);
// Pure: the filters above for `pids`; the pid part is left out when the result would be longer
// than kMaxFilterBytes (`pids_in_filter` then says false). Empty `pids`: a filter matching nothing.
struct TriggerFilters {
    std::string signal;
    std::string oom;
    bool pids_in_filter = true;
};
TriggerFilters trigger_filters(const std::set<pid_t>& pids);
// Pure: "signal SIGSEGV to pid 4242 (pod/container)", "OOM kill of pid 4242 (pod/container)";
// "(unknown container)" without an owner.
std::string trigger_reason(const TriggerEvent& event, const std::optional<EventOwner>& owner);

struct TriggerWatchOptions {
    std::string tracing_dir;      // <sysfs>/kernel/tracing
    std::string instance_prefix;  // "ctrace_<tag>_"
    std::string hook_instance;    // the run's hook instance (its set_event_pid)
    std::chrono::milliseconds interval{50};
    // Names a target's container. Asked when a pid joins the filter (a crashed process may be
    // gone by the time its trigger is read), and at the trigger for pids not asked before.
    OwnerOf owner_of;
};

class TriggerWatch {
public:
    using OnTrigger = std::function<void(const TriggerEvent& event, const std::optional<EventOwner>& target)>;
    // Creates the trigger instance and starts the thread. kIo naming the file when the instance
    // cannot be set up (it is removed again).
    static Result<std::unique_ptr<TriggerWatch>> start(TriggerWatchOptions options, OnTrigger on_trigger);
    ~TriggerWatch();
    TriggerWatch(const TriggerWatch&) = delete;
    TriggerWatch& operator=(const TriggerWatch&) = delete;
    const std::string& instance_dir() const { return instance_dir_; }

private:
    TriggerWatch(TriggerWatchOptions options, OnTrigger on_trigger, std::string instance_dir);
    void loop();
    void refresh_filters();
    void read_events();

    const TriggerWatchOptions options_;
    const OnTrigger on_trigger_;
    const std::string instance_dir_;
    // The watch thread's alone:
    std::set<pid_t> pids_, previous_pids_;
    std::map<pid_t, std::optional<EventOwner>> owners_;  // of pids_ and previous_pids_
    bool pids_in_filter_ = true;
    bool filters_written_ = false;
    struct Reader;
    std::unique_ptr<Reader> reader_;

    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace ct::node::flight
