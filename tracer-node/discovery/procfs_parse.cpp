#include "tracer-node/discovery/procfs_parse.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "common/strings.h"

namespace ct::node {
namespace {

constexpr size_t kContainerIdLength = 64;

std::unexpected<Error> malformed(std::string_view what, std::string_view text) {
    constexpr size_t kShown = 80;  // enough to recognise the text in a log line
    std::string shown(text.substr(0, kShown));
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    return fail(Errc::kInvalidArgument,
                fmt::format("malformed {}: \"{}{}\"", what, shown, text.size() > kShown ? "..." : ""));
}

std::optional<Pid> parse_pid(std::string_view text) {
    auto value = parse_u64(trim(text));
    if (!value || *value > static_cast<unsigned long long>(std::numeric_limits<Pid>::max()))
        return std::nullopt;
    return static_cast<Pid>(*value);
}

bool is_hex(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

bool is_container_id(std::string_view text) {
    return text.size() == kContainerIdLength && is_hex(text);
}

// A UUID ("1f0c3b1e-...", 36 chars) or a static pod's 32-hex config hash.
bool is_pod_uid(std::string_view text) {
    if (text.size() != 32 && text.size() != 36) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
    });
}

// "pod<uid>" (cgroupfs driver) or "kubepods-<qos>-pod<uid_with_underscores>.slice[:...]"
// (systemd driver) -> uid with dashes.
std::optional<std::string> pod_uid_of_segment(std::string_view seg) {
    std::string_view candidate;
    if (seg.starts_with("pod")) {
        candidate = seg.substr(3);
    } else if (seg.starts_with("kubepods")) {
        size_t at = seg.rfind("-pod");
        if (at == std::string_view::npos) return std::nullopt;
        candidate = seg.substr(at + 4);
        size_t end = candidate.find_first_of(".:");
        candidate = candidate.substr(0, end);
    } else {
        return std::nullopt;
    }
    std::string uid(candidate);
    std::replace(uid.begin(), uid.end(), '_', '-');
    if (!is_pod_uid(uid)) return std::nullopt;
    return uid;
}

// "<64 hex>", "<runtime>-<64 hex>.scope", "...slice:<runtime>:<64 hex>" -> the id.
std::optional<std::string> container_id_of_segment(std::string_view seg) {
    if (is_container_id(seg)) return std::string(seg);
    if (seg.ends_with(".scope")) {
        std::string_view body = seg.substr(0, seg.size() - 6);
        if (body.starts_with("crio-conmon-")) return std::nullopt;  // CRI-O's monitor process
        size_t dash = body.rfind('-');
        if (dash != std::string_view::npos && is_container_id(body.substr(dash + 1)))
            return std::string(body.substr(dash + 1));
        return std::nullopt;
    }
    size_t colon = seg.rfind(':');
    if (colon != std::string_view::npos && is_container_id(seg.substr(colon + 1)))
        return std::string(seg.substr(colon + 1));
    return std::nullopt;
}

}  // namespace

Result<ProcStatus> parse_status(std::string_view text) {
    ProcStatus out;
    bool have_name = false, have_tgid = false, have_pid = false, have_ppid = false;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        if (key == "Name") {
            // The kernel writes "Name:\t<comm>"; keep the comm's own spaces.
            if (!value.empty() && value.front() == '\t') value.remove_prefix(1);
            out.name = std::string(value);
            have_name = true;
            continue;
        }
        if (key == "Kthread") {
            out.kthread = trim(value) == "1" ? 1 : 0;
            continue;
        }
        Pid* field = key == "Tgid" ? &out.tgid : key == "Pid" ? &out.pid : key == "PPid" ? &out.ppid : nullptr;
        if (!field) continue;
        auto pid = parse_pid(value);
        if (!pid) return malformed(fmt::format("status line \"{}\"", key), line);
        *field = *pid;
        (key == "Tgid" ? have_tgid : key == "Pid" ? have_pid : have_ppid) = true;
    }
    if (!have_name || !have_tgid || !have_pid || !have_ppid)
        return malformed("status (needs Name, Tgid, Pid, PPid)", text);
    return out;
}

Result<ProcStat> parse_stat(std::string_view text) {
    size_t open = text.find(" (");
    size_t close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2)
        return malformed("stat", text);
    auto pid = parse_pid(text.substr(0, open));
    if (!pid) return malformed("stat pid", text);
    auto rest = split_whitespace(text.substr(close + 1));  // "S ppid pgrp ..."
    if (rest.size() < 2 || rest[0].size() != 1) return malformed("stat after comm", text);
    auto ppid = parse_pid(rest[1]);
    if (!ppid) return malformed("stat ppid", text);
    ProcStat out;
    out.pid = *pid;
    out.comm = std::string(text.substr(open + 2, close - open - 2));
    out.state = rest[0][0];
    out.ppid = *ppid;
    if (constexpr size_t kStartTime = 22 - 3; rest.size() > kStartTime) {
        auto start = parse_u64(rest[kStartTime]);
        if (!start) return malformed("stat start time", text);
        out.start_time = *start;
    }
    return out;
}

Result<std::uint64_t> parse_ns_inode(std::string_view link_text, std::string_view kind) {
    link_text = trim(link_text);
    size_t colon = link_text.find(":[");
    if (colon == std::string_view::npos || !link_text.ends_with(']'))
        return malformed("namespace link", link_text);
    if (!kind.empty() && link_text.substr(0, colon) != kind)
        return malformed(fmt::format("{} namespace link", kind), link_text);
    auto inode = parse_u64(link_text.substr(colon + 2, link_text.size() - colon - 3));
    if (!inode || *inode == 0) return malformed("namespace inode", link_text);
    return *inode;
}

std::optional<CgroupIdentity> parse_cgroup_path(std::string_view path) {
    CgroupIdentity id;
    for (const std::string& seg : split_any(path, "/")) {
        if (id.pod_uid.empty()) {
            if (auto uid = pod_uid_of_segment(seg)) id.pod_uid = std::move(*uid);
        }
        if (id.container_id.empty()) {
            if (auto cid = container_id_of_segment(seg)) id.container_id = std::move(*cid);
        }
    }
    if (id.pod_uid.empty() && id.container_id.empty()) return std::nullopt;
    return id;
}

std::optional<CgroupIdentity> parse_cgroup(std::string_view text) {
    std::optional<CgroupIdentity> pod_only;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        // "<hierarchy-id>:<controllers>:<path>"; the path itself may contain ':'.
        size_t first = line.find(':');
        if (first == std::string_view::npos) continue;
        size_t second = line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        auto id = parse_cgroup_path(line.substr(second + 1));
        if (!id) continue;
        if (!id->container_id.empty()) return id;
        if (!pod_only) pod_only = std::move(id);
    }
    return pod_only;
}

}  // namespace ct::node
