#include "tracer-svc/nodes/node_directory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ct::svc {

NodeAddress make_node_address(std::string host, unsigned short port, std::string label) {
    NodeAddress n;
    n.key = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
    n.host = std::move(host);
    n.port = port;
    n.label = std::move(label);
    return n;
}

NodeDirectory::NodeDirectory(std::unique_ptr<NodeSource> source, std::chrono::milliseconds poll, OnChange on_change)
    : source_(std::move(source)), poll_(poll), on_change_(std::move(on_change)),
      nodes_(std::make_shared<const std::vector<NodeAddress>>()) {}

NodeDirectory::~NodeDirectory() { stop(); }

Status NodeDirectory::refresh() {
    auto listed = source_->list();
    if (!listed) {
        std::lock_guard lock(mu_);
        if (last_error_ != listed.error().message)
            spdlog::warn("node directory ({}): refresh failed, keeping {} known nodes: {}", source_->describe(),
                         nodes_->size(), listed.error().message);
        last_error_ = listed.error().message;
        return std::unexpected(listed.error());
    }
    auto fresh = std::make_shared<const std::vector<NodeAddress>>(std::move(*listed));
    bool changed = false;
    {
        std::lock_guard lock(mu_);
        changed = *fresh != *nodes_ || !ready_.load();
        if (changed) {
            for (const auto& n : *fresh)
                if (std::find(nodes_->begin(), nodes_->end(), n) == nodes_->end())
                    spdlog::info("node {} joined{}{}", n.key, n.label.empty() ? "" : " ", n.label);
            for (const auto& n : *nodes_)
                if (std::find(fresh->begin(), fresh->end(), n) == fresh->end()) spdlog::info("node {} left", n.key);
        }
        nodes_ = fresh;
        last_error_.clear();
    }
    ready_ = true;
    if (changed && on_change_) on_change_(*fresh);
    return {};
}

void NodeDirectory::start() {
    thread_ = std::thread([this] { loop(); });
}

void NodeDirectory::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void NodeDirectory::loop() {
    for (;;) {
        (void)refresh();
        if (on_poll_) on_poll_();
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, poll_, [this] { return stopping_; })) return;
    }
}

std::shared_ptr<const std::vector<NodeAddress>> NodeDirectory::nodes() const {
    std::lock_guard lock(mu_);
    return nodes_;
}

std::string NodeDirectory::last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
}

}  // namespace ct::svc
