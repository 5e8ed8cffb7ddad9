// DiscoveryConfig: how tracer-node finds containers; filled from flags in main.cpp.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ct::node {

struct DiscoveryConfig {
    std::string procfs_root = "/proc";                       // --procfs-path
    std::string sysfs_root = "/sys";                         // --sysfs-path
    bool force_procfs = false;                               // --use-procfs
    std::string cri_endpoint;                                // --cri-endpoint; "" = probe run_paths
    std::vector<std::string> run_paths = {"/run", "/var/run"};  // --run-path
    std::string pod_name;                                    // --pod-name: prefer the runtime running it
    std::chrono::milliseconds rpc_timeout{2000};             // every CRI call
};

}  // namespace ct::node
