// Nodes from the Kubernetes API (in-cluster): pods by label selector (Running, with an IP) and the
// port from the endpoints object selected by field selector. HTTPS (the project's one client,
// common/http_client.h) verified with the service account's CA, which names the API server's
// address; the bearer token and the CA are re-read every list() (both rotate). list() blocks up
// to about 2 x timeout.
#pragma once

#include <chrono>
#include <memory>

#include "tracer-svc/nodes/node_source.h"

namespace ct::svc {

struct KubeOptions {
    std::string credentials_dir;     // holds "token" and "ca.crt"
    std::string api;                 // host:port; "" = KUBERNETES_SERVICE_HOST/PORT
    std::string pods_selector;       // label selector
    std::string endpoints_selector;  // field selector
    std::chrono::milliseconds timeout{5000};
};

class KubeSource : public NodeSource {
public:
    // Checks the API address and credentials exist. kInvalidArgument / kNotFound naming what is missing.
    static Result<std::unique_ptr<KubeSource>> from_environment(KubeOptions options);

    Result<std::vector<NodeAddress>> list() override;
    std::string describe() const override;

private:
    KubeSource(KubeOptions options, std::string host, unsigned short port);
    Result<std::string> get(const std::string& target);

    KubeOptions options_;
    std::string host_;
    unsigned short port_;
};

}  // namespace ct::svc
