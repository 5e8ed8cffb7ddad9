#include "tracer-svc/nodes/kube_parse.h"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tracer-svc/nodes/static_source.h"

namespace ct::svc::kube {

namespace json = boost::json;

namespace {

std::string str_at(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* obj_at(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* arr_at(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_array() ? &v->as_array() : nullptr;
}

Result<json::object> parse_list(std::string_view text, std::string_view kind) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("{} answer is not JSON: {}", kind, ec.message()));
    if (!v.is_object()) return fail(Errc::kInvalidArgument, fmt::format("{} answer is not a JSON object", kind));
    auto& o = v.as_object();
    auto got = str_at(o, "kind");
    if (got != kind) {
        auto* msg = o.if_contains("message");
        return fail(Errc::kInvalidArgument,
                    fmt::format("expected kind {}, got \"{}\"{}{}", kind, got, msg && msg->is_string() ? ": " : "",
                                msg && msg->is_string() ? std::string(msg->as_string()) : ""));
    }
    return std::move(o);
}

}  // namespace

Result<std::vector<Pod>> parse_pod_list(std::string_view text) {
    auto list = parse_list(text, "PodList");
    if (!list) return std::unexpected(list.error());
    std::vector<Pod> pods;
    if (auto* items = arr_at(*list, "items")) {
        for (const auto& item : *items) {
            if (!item.is_object()) continue;
            const auto& o = item.as_object();
            Pod p;
            if (auto* meta = obj_at(o, "metadata")) p.name = str_at(*meta, "name"), p.namespace_name = str_at(*meta, "namespace");
            if (auto* spec = obj_at(o, "spec")) p.node = str_at(*spec, "nodeName");
            if (auto* status = obj_at(o, "status")) p.phase = str_at(*status, "phase"), p.ip = str_at(*status, "podIP");
            pods.push_back(std::move(p));
        }
    }
    return pods;
}

Result<std::vector<unsigned short>> parse_endpoint_ports(std::string_view text) {
    auto list = parse_list(text, "EndpointsList");
    if (!list) return std::unexpected(list.error());
    std::vector<unsigned short> ports;
    auto* items = arr_at(*list, "items");
    if (!items) return ports;
    for (const auto& item : *items) {
        if (!item.is_object()) continue;
        auto* subsets = arr_at(item.as_object(), "subsets");
        if (!subsets) continue;
        for (const auto& s : *subsets) {
            if (!s.is_object()) continue;
            auto* ps = arr_at(s.as_object(), "ports");
            if (!ps) continue;
            for (const auto& p : *ps) {
                if (!p.is_object()) continue;
                auto* port = p.as_object().if_contains("port");
                if (!port || !port->is_int64() || port->as_int64() <= 0 || port->as_int64() > 65535) continue;
                auto v = static_cast<unsigned short>(port->as_int64());
                if (std::find(ports.begin(), ports.end(), v) == ports.end()) ports.push_back(v);
            }
        }
    }
    return ports;
}

std::vector<NodeAddress> running_nodes(const std::vector<Pod>& pods, unsigned short port) {
    std::vector<NodeAddress> out;
    for (const auto& p : pods)
        if (p.phase == "Running" && !p.ip.empty())
            out.push_back(make_node_address(p.ip, port, p.node.empty() ? p.name : p.name + " on " + p.node));
    normalize_nodes(out);
    return out;
}

std::string url_encode(std::string_view value) {
    std::string out;
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else out += fmt::format("%{:02X}", c);
    }
    return out;
}

}  // namespace ct::svc::kube
