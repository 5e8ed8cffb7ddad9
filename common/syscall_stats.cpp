#include "common/syscall_stats.h"

#include <algorithm>
#include <limits>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::stats {
namespace json = boost::json;

namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

Result<uint64_t> as_u64(const json::value& v, std::string_view what) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
    return bad(fmt::format("{}: expected a non-negative integer, got {}", what, json::serialize(v)));
}

Result<const json::object*> as_object(const json::value& v, std::string_view what) {
    if (!v.is_object()) return bad(fmt::format("{}: expected an object", what));
    return &v.get_object();
}

// A key that must be a decimal number: a histogram bound or a group's tgid.
Result<uint64_t> key_u64(std::string_view key, std::string_view what, uint64_t max) {
    auto n = parse_u64(key);
    if (!n || *n > max) return bad(fmt::format("{}: invalid key \"{}\"", what, key));
    return *n;
}

json::object to_json(const SyscallCounts& c) {
    json::object errnos;
    for (const auto& [name, n] : c.errno_counts) errnos[name] = n;
    json::object hist;
    for (const auto& [bound, n] : c.histogram) hist[std::to_string(bound)] = n;
    return json::object{{"Count", c.count},
                        {"Errors", c.errors},
                        {"ErrnoCounts", std::move(errnos)},
                        {"TotalNs", c.total_ns},
                        {"Histogram", std::move(hist)}};
}

Result<SyscallCounts> parse_counts(const json::value& v, std::string_view where) {
    auto obj = as_object(v, where);
    if (!obj) return std::unexpected(obj.error());
    SyscallCounts c;
    auto field = [&](std::string_view key) -> Result<uint64_t> {
        const json::value* f = (*obj)->if_contains(key);
        if (!f) return bad(fmt::format("{}: missing \"{}\"", where, key));
        return as_u64(*f, fmt::format("{}.{}", where, key));
    };
    auto count = field("Count");
    auto errors = field("Errors");
    auto total = field("TotalNs");
    for (auto* r : {&count, &errors, &total})
        if (!*r) return std::unexpected(r->error());
    c.count = *count;
    c.errors = *errors;
    c.total_ns = *total;
    if (const json::value* e = (*obj)->if_contains("ErrnoCounts")) {
        auto errnos = as_object(*e, fmt::format("{}.ErrnoCounts", where));
        if (!errnos) return std::unexpected(errnos.error());
        for (const auto& [name, n] : **errnos) {
            auto value = as_u64(n, fmt::format("{}.ErrnoCounts.{}", where, std::string_view(name)));
            if (!value) return std::unexpected(value.error());
            c.errno_counts[std::string(name)] = *value;
        }
    }
    if (const json::value* h = (*obj)->if_contains("Histogram")) {
        std::string what = fmt::format("{}.Histogram", where);
        auto hist = as_object(*h, what);
        if (!hist) return std::unexpected(hist.error());
        for (const auto& [bound, n] : **hist) {
            auto key = key_u64(bound, what, std::numeric_limits<uint64_t>::max());
            if (!key) return std::unexpected(key.error());
            auto value = as_u64(n, fmt::format("{}.{}", what, std::string_view(bound)));
            if (!value) return std::unexpected(value.error());
            c.histogram[*key] = *value;
        }
    }
    return c;
}

Result<SyscallTable> parse_table(const json::value& v, std::string_view where) {
    auto obj = as_object(v, where);
    if (!obj) return std::unexpected(obj.error());
    SyscallTable table;
    for (const auto& [name, counts] : **obj) {
        auto parsed = parse_counts(counts, fmt::format("{}.{}", where, std::string_view(name)));
        if (!parsed) return std::unexpected(parsed.error());
        table.emplace(std::string(name), std::move(*parsed));
    }
    return table;
}

}  // namespace

void SyscallCounts::add(const SyscallCounts& other) {
    count += other.count;
    errors += other.errors;
    total_ns += other.total_ns;
    for (const auto& [name, n] : other.errno_counts) errno_counts[name] += n;
    for (const auto& [bound, n] : other.histogram) histogram[bound] += n;
}

bool is_snapshot_path(std::string_view line) {
    return line.size() > kSnapshotSuffix.size() && line.ends_with(kSnapshotSuffix);
}

std::string to_json_text(const Snapshot& snapshot) {
    json::object groups;
    for (const auto& [tgid, table] : snapshot.groups) groups[std::to_string(tgid)] = to_json(table);
    json::object root{{"Version", kSnapshotVersion},
                      {"TimeNs", snapshot.time_ns},
                      {"Dropped", snapshot.dropped},
                      {"Groups", std::move(groups)}};
    return json::serialize(root);
}

Result<Snapshot> parse_snapshot(std::string_view text) {
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) return bad(fmt::format("snapshot is not JSON: {}", ec.message()));
    auto obj = as_object(root, "snapshot");
    if (!obj) return std::unexpected(obj.error());
    const json::value* version = (*obj)->if_contains("Version");
    if (!version) return bad("snapshot: missing \"Version\"");
    if (auto v = as_u64(*version, "snapshot.Version"); !v || *v != kSnapshotVersion)
        return bad(fmt::format("snapshot: unsupported Version {}", json::serialize(*version)));
    Snapshot out;
    if (const json::value* t = (*obj)->if_contains("TimeNs")) {
        auto time = as_u64(*t, "snapshot.TimeNs");
        if (!time) return std::unexpected(time.error());
        out.time_ns = *time;
    }
    if (const json::value* d = (*obj)->if_contains("Dropped")) {
        auto dropped = as_u64(*d, "snapshot.Dropped");
        if (!dropped) return std::unexpected(dropped.error());
        out.dropped = *dropped;
    }
    const json::value* groups = (*obj)->if_contains("Groups");
    if (!groups) return bad("snapshot: missing \"Groups\"");
    auto group_obj = as_object(*groups, "snapshot.Groups");
    if (!group_obj) return std::unexpected(group_obj.error());
    for (const auto& [key, table] : **group_obj) {
        auto tgid = key_u64(key, "snapshot.Groups", std::numeric_limits<uint32_t>::max());
        if (!tgid) return std::unexpected(tgid.error());
        auto parsed = parse_table(table, fmt::format("snapshot.Groups.{}", std::string_view(key)));
        if (!parsed) return std::unexpected(parsed.error());
        out.groups[static_cast<uint32_t>(*tgid)] = std::move(*parsed);
    }
    return out;
}

json::object to_json(const SyscallTable& table) {
    json::object out;
    for (const auto& [name, counts] : table) out[name] = to_json(counts);
    return out;
}

json::object to_json(const PodStats& stats) {
    json::object out;
    for (const auto& [pod, containers] : stats) {
        json::object c;
        for (const auto& [container, table] : containers) c[container] = to_json(table);
        out[pod] = std::move(c);
    }
    return out;
}

Result<PodStats> parse_pod_stats(const json::value& value) {
    auto pods = as_object(value, "stats");
    if (!pods) return std::unexpected(pods.error());
    PodStats out;
    for (const auto& [pod, containers] : **pods) {
        std::string where = fmt::format("stats.{}", std::string_view(pod));
        auto cobj = as_object(containers, where);
        if (!cobj) return std::unexpected(cobj.error());
        auto& into = out[std::string(pod)];
        for (const auto& [container, table] : **cobj) {
            auto parsed = parse_table(table, fmt::format("{}.{}", where, std::string_view(container)));
            if (!parsed) return std::unexpected(parsed.error());
            into[std::string(container)] = std::move(*parsed);
        }
    }
    return out;
}

std::vector<uint64_t> metric_bounds_ns() {
    std::vector<uint64_t> out;
    for (unsigned k = 8; k <= 34; k += 2) out.push_back(uint64_t{1} << k);
    return out;
}

std::vector<uint64_t> rebucket(const SyscallCounts& counts, const std::vector<uint64_t>& bounds_ns) {
    std::vector<uint64_t> out(bounds_ns.size() + 1, 0);
    for (const auto& [bound, n] : counts.histogram) {
        auto slot = std::lower_bound(bounds_ns.begin(), bounds_ns.end(), bound);  // first bound >= this one
        out[static_cast<size_t>(slot - bounds_ns.begin())] += n;
    }
    return out;
}

void merge_into(SyscallTable& into, const SyscallTable& from) {
    for (const auto& [name, counts] : from) into[name].add(counts);
}

void merge_into(PodStats& into, const PodStats& from) {
    for (const auto& [pod, containers] : from)
        for (const auto& [container, table] : containers) merge_into(into[pod][container], table);
}

}  // namespace ct::stats
