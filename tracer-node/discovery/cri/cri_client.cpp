#include "tracer-node/discovery/cri/cri_client.h"

#include <fmt/format.h>

namespace ct::node::cri {

namespace v1 = runtime::v1;

namespace {

bool transport_failure(grpc::StatusCode code) {
    return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
           code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::CANCELLED;
}

}  // namespace

Error to_error(const grpc::Status& status, std::string_view what) {
    Errc code = Errc::kInternal;
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
        case grpc::StatusCode::CANCELLED: code = Errc::kUnavailable; break;
        case grpc::StatusCode::NOT_FOUND: code = Errc::kNotFound; break;
        case grpc::StatusCode::INVALID_ARGUMENT:
        case grpc::StatusCode::FAILED_PRECONDITION:
        case grpc::StatusCode::ALREADY_EXISTS: code = Errc::kInvalidArgument; break;
        case grpc::StatusCode::UNIMPLEMENTED: code = Errc::kUnavailable; break;
        default: break;
    }
    const char* reason = "failed";
    switch (status.error_code()) {
        case grpc::StatusCode::DEADLINE_EXCEEDED: reason = "failed: the runtime did not answer in time"; break;
        case grpc::StatusCode::UNAVAILABLE: reason = "failed: the runtime is unreachable"; break;
        case grpc::StatusCode::UNIMPLEMENTED: reason = "failed: the runtime does not serve CRI runtime.v1"; break;
        default: break;
    }
    return Error{code, fmt::format("{} {} (grpc {}: {})", what, reason,
                                   static_cast<int>(status.error_code()), status.error_message())};
}

std::shared_ptr<grpc::Channel> make_channel(const std::string& endpoint) {
    grpc::ChannelArguments args;
    // A private subchannel pool: a fresh channel really dials again instead of inheriting a
    // shared subchannel stuck in reconnect back-off after the runtime restarted.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Verbose container status can be large (the whole OCI spec).
    args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

CriClient::CriClient(std::string endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

std::shared_ptr<v1::RuntimeService::Stub> CriClient::stub() {
    std::lock_guard lock(mu_);
    if (!stub_) {
        channel_ = make_channel(endpoint_);
        stub_ = std::shared_ptr<v1::RuntimeService::Stub>(v1::RuntimeService::NewStub(channel_));
    }
    return stub_;
}

void CriClient::drop_channel_if(const grpc::Status& status,
                                const std::shared_ptr<v1::RuntimeService::Stub>& used) {
    if (!transport_failure(status.error_code())) return;
    std::lock_guard lock(mu_);
    // Only drop the channel that failed; another thread may already have made a new one.
    if (stub_ == used) {
        stub_.reset();
        channel_.reset();
    }
}

Result<v1::VersionResponse> CriClient::version() {
    return invoke<v1::VersionResponse>("Version", [](auto& stub, auto& ctx, auto& out) {
        v1::VersionRequest request;
        request.set_version("v1");
        return stub.Version(&ctx, request, &out);
    });
}

Result<std::vector<v1::Container>> CriClient::list_running_containers() {
    auto response = invoke<v1::ListContainersResponse>(
        "ListContainers", [](auto& stub, auto& ctx, auto& out) {
            v1::ListContainersRequest request;
            request.mutable_filter()->mutable_state()->set_state(v1::CONTAINER_RUNNING);
            return stub.ListContainers(&ctx, request, &out);
        });
    if (!response) return std::unexpected(response.error());
    return std::vector<v1::Container>(response->containers().begin(), response->containers().end());
}

Result<v1::ContainerStatusResponse> CriClient::container_status(const std::string& id, bool verbose) {
    return invoke<v1::ContainerStatusResponse>(
        fmt::format("ContainerStatus({})", id), [&](auto& stub, auto& ctx, auto& out) {
            v1::ContainerStatusRequest request;
            request.set_container_id(id);
            request.set_verbose(verbose);
            return stub.ContainerStatus(&ctx, request, &out);
        });
}

}  // namespace ct::node::cri
