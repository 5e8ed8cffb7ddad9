// HookRegistry: the trace hooks available under --trace-hooks. Every sub-directory of the root
// holding an executable "manager" or "manager.*" is a hook manager (protocol: docs/hooks.md).
// reload() asks each manager --get-all and --describe; the result is a snapshot shared by
// readers. Thread-safe: any thread may call any method.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace ct::node {

struct HookInfo {
    std::string name;                      // "trace_syscalls"
    std::vector<std::string> description;  // lines from --describe
    std::string manager;                   // absolute path of the manager executable
    std::string group;                     // manager dir relative to the root's parent: "trace-hooks/ftrace"
};

struct HookRegistryOptions {
    std::string root;                  // --trace-hooks
    std::string procfs_root = "/proc";  // passed to managers as TRACER_PROCFS_PATH
    std::string sysfs_root = "/sys";    // passed as TRACER_SYSFS_PATH
    // Passed as TRACER_INSTANCE_PREFIX: managers name their ftrace instances with it and --clear
    // removes only those (capture/ftrace_instance.h). "" = not passed.
    std::string instance_prefix;
    std::chrono::milliseconds call_timeout{5000};  // --get-all / --describe / --clear
};

class HookRegistry {
public:
    explicit HookRegistry(HookRegistryOptions options);

    // Rescans the root. A manager that fails is logged and skipped; kNotFound when the root
    // itself is missing. The previous snapshot stays in place on error.
    Status reload();
    std::shared_ptr<const std::vector<HookInfo>> hooks() const;
    // kNotFound naming the hook when no manager offers it (reloads once before saying so).
    Result<HookInfo> find(const std::string& name);
    // Runs every manager's --clear; returns the failures' messages.
    std::vector<std::string> clear_all() const;
    // Environment every manager runs with.
    std::vector<std::string> manager_env() const;
    const HookRegistryOptions& options() const { return options_; }

private:
    HookRegistryOptions options_;
    mutable std::mutex mutex_;
    std::shared_ptr<const std::vector<HookInfo>> hooks_;
};

// The manager executable of each sub-directory of `root` ("manager" preferred over
// "manager.*"), sorted by directory. Reads the directory; missing root -> empty.
std::vector<std::string> find_managers(const std::string& root);

}  // namespace ct::node
