#include "tracer-svc/api/trace_merge.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ct::svc {

namespace {

class MergedTraceStream : public http::PullSource {
public:
    MergedTraceStream(std::vector<NodeAddress> nodes, ExportProxyOptions proxy)
        : nodes_(std::move(nodes)), proxy_(std::move(proxy)) {}
    ~MergedTraceStream() override { close(); }

    std::optional<std::string> next(std::chrono::milliseconds wait) override {
        if (done_) return std::nullopt;
        std::string out;
        if (!opened_) {
            out += R"({"traceEvents":[)";
            opened_ = true;
        }
        while (!done_) {
            if (!current_ && !open_next(out)) break;
            if (!current_) continue;
            auto piece = current_->next(wait);
            if (!piece) {  // this node is done
                current_->close();
                current_.reset();
                ++next_node_;
                continue;
            }
            if (piece->empty()) break;  // nothing yet: come back
            // Each node's events come comma-separated, the first without one: join them.
            if (!node_wrote_ && wrote_) out += ',';
            node_wrote_ = wrote_ = true;
            out += *piece;
            break;
        }
        return out;
    }

    void close() override {
        if (current_) current_->close();
        current_.reset();
        done_ = true;
    }

private:
    // Opens the next node's stream; at the end, closes the document. False when done.
    bool open_next(std::string& out) {
        while (next_node_ < nodes_.size()) {
            const auto& node = nodes_[next_node_];
            auto opened = open_node_export(node, node_trace_json_target(next_node_), proxy_);
            if (opened.source) {
                current_ = std::move(opened.source);
                node_wrote_ = false;
                return true;
            }
            const auto& res = opened.refusal;
            spdlog::warn("merged trace.json: node {} answered {}: {}", node.key, res.status, res.body);
            failed_ += (failed_.empty() ? "" : "; ") + fmt::format("{}: {} {}", node.key, res.status, res.body);
            ++next_node_;
        }
        boost::json::object other{{"nodes", std::to_string(nodes_.size())},
                                  {"clock", "CLOCK_REALTIME (each node's measured offsets applied)"}};
        if (!failed_.empty()) other["failed_nodes"] = failed_;
        out += "\n],\"displayTimeUnit\":\"ns\",\"otherData\":" + boost::json::serialize(other) + "}\n";
        done_ = true;
        return false;
    }

    std::vector<NodeAddress> nodes_;
    ExportProxyOptions proxy_;
    std::size_t next_node_ = 0;
    std::shared_ptr<http::PullSource> current_;
    bool opened_ = false, done_ = false;
    bool wrote_ = false;       // some node's events are in the document
    bool node_wrote_ = false;  // the current node's are
    std::string failed_;
};

}  // namespace

std::string node_trace_json_target(std::size_t k) {
    return fmt::format("/v1/trace-session/all/trace.json?events_only=1&clock=realtime&label=1&pid_base={}&sort_index={}",
                       (k + 1) * kNodePidRange, k);
}

std::shared_ptr<http::ChunkStream> merged_trace_json(std::vector<NodeAddress> nodes, ExportProxyOptions proxy) {
    return http::pull_stream(std::make_shared<MergedTraceStream>(std::move(nodes), std::move(proxy)));
}

}  // namespace ct::svc
