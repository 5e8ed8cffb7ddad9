#include "tests/support/cri_pod_runner.h"

#include <fstream>

#include <fmt/format.h>

#include "tracer-node/discovery/cri/cri_parse.h"

namespace ct::test {

namespace v1 = runtime::v1;

namespace {

std::string random_uuid() {
    std::ifstream in("/proc/sys/kernel/random/uuid");
    std::string uuid;
    std::getline(in, uuid);
    return uuid;
}

}  // namespace

std::vector<std::string> idle_command() {
    return {"/bin/sh", "-c", "while true; do sleep 1; done"};
}

CriPodRunner::CriPodRunner(std::string endpoint, std::chrono::milliseconds timeout)
    : client_(std::move(endpoint), timeout) {}

Result<RunningPod> CriPodRunner::run_pod(const PodSpec& spec) {
    RunningPod pod;
    pod.uid = spec.uid.empty() ? random_uuid() : spec.uid;

    v1::PodSandboxConfig config;
    auto* meta = config.mutable_metadata();
    meta->set_name(spec.name);
    meta->set_namespace_(spec.pod_namespace);
    meta->set_uid(pod.uid);
    auto& labels = *config.mutable_labels();
    labels[std::string(node::cri::kPodNameLabel)] = spec.name;
    labels[std::string(node::cri::kPodNamespaceLabel)] = spec.pod_namespace;
    labels["io.kubernetes.pod.uid"] = pod.uid;
    // Host network: no CNI; then the hostname must stay empty (shared host UTS namespace).
    auto* lx = config.mutable_linux();
    lx->set_cgroup_parent(fmt::format("/kubepods/besteffort/pod{}", pod.uid));
    lx->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
    if (spec.host_pid) lx->mutable_security_context()->mutable_namespace_options()->set_pid(v1::NODE);
    lx->mutable_security_context()->set_privileged(spec.privileged);
    config.set_log_directory(spec.log_directory);

    auto response = client_.invoke<v1::RunPodSandboxResponse>(
        fmt::format("RunPodSandbox({})", spec.name), [&](auto& stub, auto& ctx, auto& out) {
            v1::RunPodSandboxRequest request;
            *request.mutable_config() = config;
            return stub.RunPodSandbox(&ctx, request, &out);
        });
    if (!response) return std::unexpected(response.error());
    pod.sandbox_id = response->pod_sandbox_id();
    sandboxes_[pod.sandbox_id].config = config;
    return pod;
}

Result<std::string> CriPodRunner::start_container(const std::string& sandbox_id, const ContainerSpec& spec) {
    auto sandbox = sandboxes_.find(sandbox_id);
    if (sandbox == sandboxes_.end())
        return fail(Errc::kNotFound, fmt::format("sandbox {} was not started by this runner", sandbox_id));
    SandboxRecord& record = sandbox->second;
    unsigned attempt = record.attempts.contains(spec.name) ? record.attempts[spec.name] + 1 : 0;

    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(spec.name);
    config.mutable_metadata()->set_attempt(attempt);
    config.mutable_image()->set_image(spec.image);
    for (const auto& arg : spec.command) config.add_command(arg);
    for (const auto& arg : spec.args) config.add_args(arg);
    config.set_log_path(spec.log_path);
    // As the kubelet does for an agent pod: the container gets the pod's namespace modes
    // (hostPID) and its own privileged flag. Other pods keep the runtime's defaults.
    const auto& pod_security = record.config.linux().security_context();
    if (spec.privileged || pod_security.namespace_options().pid() == v1::NODE) {
        auto* security = config.mutable_linux()->mutable_security_context();
        *security->mutable_namespace_options() = pod_security.namespace_options();
        security->set_privileged(spec.privileged);
    }
    for (const auto& m : spec.mounts) {
        auto* mount = config.add_mounts();
        mount->set_host_path(m.host_path);
        mount->set_container_path(m.container_path);
        mount->set_readonly(m.readonly);
    }
    for (const auto& kv : spec.env) {
        auto* env = config.add_envs();
        auto eq = kv.find('=');
        env->set_key(kv.substr(0, eq));
        env->set_value(eq == std::string::npos ? "" : kv.substr(eq + 1));
    }
    auto& labels = *config.mutable_labels();
    const auto& pod_labels = record.config.labels();
    for (const auto& key : {node::cri::kPodNameLabel, node::cri::kPodNamespaceLabel})
        if (auto it = pod_labels.find(std::string(key)); it != pod_labels.end()) labels[it->first] = it->second;
    labels[std::string(node::cri::kContainerNameLabel)] = spec.name;

    auto created = client_.invoke<v1::CreateContainerResponse>(
        fmt::format("CreateContainer({})", spec.name), [&](auto& stub, auto& ctx, auto& out) {
            v1::CreateContainerRequest request;
            request.set_pod_sandbox_id(sandbox_id);
            *request.mutable_config() = config;
            *request.mutable_sandbox_config() = record.config;
            return stub.CreateContainer(&ctx, request, &out);
        });
    if (!created) return std::unexpected(created.error());
    std::string id = created->container_id();
    record.specs[spec.name] = spec;
    record.ids[spec.name] = id;
    record.attempts[spec.name] = attempt;

    auto started = client_.invoke<v1::StartContainerResponse>(
        fmt::format("StartContainer({})", spec.name), [&](auto& stub, auto& ctx, auto& out) {
            v1::StartContainerRequest request;
            request.set_container_id(id);
            return stub.StartContainer(&ctx, request, &out);
        });
    if (!started) return std::unexpected(started.error());
    return id;
}

Result<std::string> CriPodRunner::restart_container(const std::string& sandbox_id, const std::string& name,
                                                    const std::vector<std::string>& new_command) {
    auto id = container_id(sandbox_id, name);
    if (!id) return std::unexpected(id.error());
    if (auto s = stop_container(*id); !s) return std::unexpected(s.error());
    if (auto s = remove_container(*id); !s) return std::unexpected(s.error());
    ContainerSpec spec = sandboxes_[sandbox_id].specs[name];
    if (!new_command.empty()) spec.command = new_command;
    return start_container(sandbox_id, spec);
}

Status CriPodRunner::stop_container(const std::string& container_id, std::chrono::seconds timeout) {
    auto r = client_.invoke<v1::StopContainerResponse>(
        fmt::format("StopContainer({})", container_id), [&](auto& stub, auto& ctx, auto& out) {
            v1::StopContainerRequest request;
            request.set_container_id(container_id);
            request.set_timeout(timeout.count());
            return stub.StopContainer(&ctx, request, &out);
        });
    if (!r) return std::unexpected(r.error());
    return {};
}

Status CriPodRunner::remove_container(const std::string& container_id) {
    auto r = client_.invoke<v1::RemoveContainerResponse>(
        fmt::format("RemoveContainer({})", container_id), [&](auto& stub, auto& ctx, auto& out) {
            v1::RemoveContainerRequest request;
            request.set_container_id(container_id);
            return stub.RemoveContainer(&ctx, request, &out);
        });
    if (!r) return std::unexpected(r.error());
    return {};
}

Result<node::Pid> CriPodRunner::container_pid(const std::string& container_id) {
    auto status = client_.container_status(container_id, true);
    if (!status) return std::unexpected(status.error());
    auto it = status->info().find("info");
    if (it == status->info().end())
        return fail(Errc::kInternal, fmt::format("ContainerStatus({}) has no info[\"info\"]", container_id));
    auto info = node::cri::parse_verbose_info(it->second);
    if (!info) return std::unexpected(info.error());
    return info->pid;
}

Result<std::string> CriPodRunner::container_id(const std::string& sandbox_id, const std::string& name) const {
    auto sandbox = sandboxes_.find(sandbox_id);
    if (sandbox == sandboxes_.end() || !sandbox->second.ids.contains(name))
        return fail(Errc::kNotFound, fmt::format("no container \"{}\" started in sandbox {}", name, sandbox_id));
    return sandbox->second.ids.at(name);
}

Status CriPodRunner::remove_pod(const std::string& sandbox_id) {
    auto stopped = client_.invoke<v1::StopPodSandboxResponse>(
        fmt::format("StopPodSandbox({})", sandbox_id), [&](auto& stub, auto& ctx, auto& out) {
            v1::StopPodSandboxRequest request;
            request.set_pod_sandbox_id(sandbox_id);
            return stub.StopPodSandbox(&ctx, request, &out);
        });
    if (!stopped) return std::unexpected(stopped.error());
    auto removed = client_.invoke<v1::RemovePodSandboxResponse>(
        fmt::format("RemovePodSandbox({})", sandbox_id), [&](auto& stub, auto& ctx, auto& out) {
            v1::RemovePodSandboxRequest request;
            request.set_pod_sandbox_id(sandbox_id);
            return stub.RemovePodSandbox(&ctx, request, &out);
        });
    if (!removed) return std::unexpected(removed.error());
    sandboxes_.erase(sandbox_id);
    return {};
}

Result<std::vector<std::string>> CriPodRunner::remove_all_pods() {
    auto listed = client_.invoke<v1::ListPodSandboxResponse>(
        "ListPodSandbox", [&](auto& stub, auto& ctx, auto& out) {
            return stub.ListPodSandbox(&ctx, v1::ListPodSandboxRequest{}, &out);
        });
    if (!listed) return std::unexpected(listed.error());
    std::vector<std::string> uids;
    Status first_error;
    for (const auto& sandbox : listed->items()) {
        uids.push_back(sandbox.metadata().uid());
        if (auto s = remove_pod(sandbox.id()); !s && first_error) first_error = s;
    }
    if (!first_error) return std::unexpected(first_error.error());
    return uids;
}

}  // namespace ct::test
