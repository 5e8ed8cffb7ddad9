// CriClient: a thin, thread-safe wrapper over the CRI RuntimeService (runtime.v1) of one
// endpoint. Every call carries a deadline (the configured timeout), so a runtime that stops
// answering yields Errc::kUnavailable within about that time, never a hang. The gRPC channel is
// created lazily and dropped after a transport failure, so the next call dials afresh and
// recovers as soon as the runtime is back (no stale reconnect back-off).
// Errors: kUnavailable (runtime not answering / deadline passed), kNotFound (unknown id),
// kInvalidArgument (runtime rejected the request), kInternal (anything else); each message names
// the RPC and the endpoint.
// Thread-safety: all methods may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/result.h"
#include "tracer-node/discovery/cri/api.grpc.pb.h"

namespace ct::node::cri {

// Maps a failed gRPC status to an Error naming `what` (e.g. "ListContainers on unix:///x").
Error to_error(const grpc::Status& status, std::string_view what);

// A channel to a "unix:///path" endpoint that does not share connection state (and reconnect
// back-off) with other channels to the same target.
std::shared_ptr<grpc::Channel> make_channel(const std::string& endpoint);

class CriClient {
public:
    // endpoint: "unix:///run/containerd/containerd.sock" (see normalize_endpoint()).
    CriClient(std::string endpoint, std::chrono::milliseconds timeout);

    const std::string& endpoint() const { return endpoint_; }
    std::chrono::milliseconds timeout() const { return timeout_; }

    // Runtime name and version; the cheapest call, used as a liveness probe.
    Result<runtime::v1::VersionResponse> version();
    // Containers in state RUNNING.
    Result<std::vector<runtime::v1::Container>> list_running_containers();
    // Status of one container; verbose=true fills info["info"] (JSON with the host pid).
    Result<runtime::v1::ContainerStatusResponse> container_status(const std::string& id, bool verbose);

    // Runs `call(stub, context)` with a fresh deadline on the current channel; drops the channel
    // when the runtime was unreachable. For callers needing an RPC not wrapped above (tests'
    // pod runner). `what` names the RPC for error messages.
    template <class Response, class Call>
    Result<Response> invoke(std::string_view what, Call&& call);

private:
    std::shared_ptr<runtime::v1::RuntimeService::Stub> stub();
    void drop_channel_if(const grpc::Status& status,
                         const std::shared_ptr<runtime::v1::RuntimeService::Stub>& used);

    const std::string endpoint_;
    const std::chrono::milliseconds timeout_;
    std::mutex mu_;
    std::shared_ptr<grpc::Channel> channel_;                        // guarded by mu_
    std::shared_ptr<runtime::v1::RuntimeService::Stub> stub_;       // guarded by mu_
};

template <class Response, class Call>
Result<Response> CriClient::invoke(std::string_view what, Call&& call) {
    auto s = stub();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    Response response;
    grpc::Status status = call(*s, context, response);
    if (status.ok()) return response;
    drop_channel_if(status, s);
    return std::unexpected(to_error(status, std::string(what) + " on " + endpoint_));
}

}  // namespace ct::node::cri
