#include "tracer-node/hooks/hook_registry.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "common/subprocess.h"

namespace ct::node {

namespace fs = std::filesystem;

std::vector<std::string> find_managers(const std::string& root) {
    std::vector<std::string> out;
    std::error_code ec;
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root, ec))
        if (entry.is_directory(ec)) dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& dir : dirs) {
        std::vector<std::string> candidates;
        for (const auto& f : fs::directory_iterator(dir, ec)) {
            auto name = f.path().filename().string();
            if ((name == "manager" || name.starts_with("manager.")) && f.is_regular_file(ec) &&
                ::access(f.path().c_str(), X_OK) == 0)
                candidates.push_back(name);
        }
        std::sort(candidates.begin(), candidates.end());  // "manager" sorts before "manager.*"
        if (!candidates.empty()) out.push_back((dir / candidates.front()).string());
    }
    return out;
}

HookRegistry::HookRegistry(HookRegistryOptions options)
    : options_(std::move(options)), hooks_(std::make_shared<std::vector<HookInfo>>()) {}

std::vector<std::string> HookRegistry::manager_env() const {
    std::vector<std::string> env{"TRACER_PROCFS_PATH=" + options_.procfs_root, "TRACER_SYSFS_PATH=" + options_.sysfs_root};
    if (!options_.instance_prefix.empty()) env.push_back("TRACER_INSTANCE_PREFIX=" + options_.instance_prefix);
    return env;
}

Status HookRegistry::reload() {
    std::error_code ec;
    if (!fs::is_directory(options_.root, ec))
        return fail(Errc::kNotFound, fmt::format("trace hooks directory \"{}\" does not exist", options_.root));
    auto base = fs::absolute(options_.root).lexically_normal();
    if (base.filename().empty()) base = base.parent_path();  // trailing slash
    auto list = std::make_shared<std::vector<HookInfo>>();
    for (const auto& manager : find_managers(base.string())) {
        auto group = fs::path(manager).parent_path().lexically_relative(base.parent_path()).string();
        auto names = run_capture({.argv = {manager, "--get-all"}, .extra_env = manager_env()}, options_.call_timeout);
        if (!names || !names->status.ok()) {
            spdlog::warn("hook manager {} --get-all failed: {}", manager,
                         names ? names->status.describe() + ": " + std::string(trim(names->err)) : names.error().message);
            continue;
        }
        for (const auto& name : split_whitespace(names->out)) {
            auto desc = run_capture({.argv = {manager, "--describe", name}, .extra_env = manager_env()},
                                    options_.call_timeout);
            HookInfo info{name, {}, manager, group};
            if (desc && desc->status.ok()) {
                for (const auto& line : split_any(desc->out, "\n")) info.description.push_back(line);
            } else {
                spdlog::warn("hook manager {} --describe {} failed", manager, name);
            }
            list->push_back(std::move(info));
        }
    }
    std::lock_guard lock(mutex_);
    hooks_ = std::move(list);
    return {};
}

std::shared_ptr<const std::vector<HookInfo>> HookRegistry::hooks() const {
    std::lock_guard lock(mutex_);
    return hooks_;
}

Result<HookInfo> HookRegistry::find(const std::string& name) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (const auto& h : *hooks())
            if (h.name == name) return h;
        if (attempt == 0 && !reload()) break;
    }
    return fail(Errc::kNotFound, fmt::format("unknown trace hook \"{}\"", name));
}

std::vector<std::string> HookRegistry::clear_all() const {
    std::vector<std::string> failures;
    for (const auto& manager : find_managers(options_.root)) {
        auto r = run_capture({.argv = {manager, "--clear"}, .extra_env = manager_env()}, options_.call_timeout);
        if (!r) failures.push_back(fmt::format("{} --clear: {}", manager, r.error().message));
        else if (!r->status.ok())
            failures.push_back(fmt::format("{} --clear {}: {}", manager, r->status.describe(), trim(r->err)));
    }
    return failures;
}

}  // namespace ct::node
