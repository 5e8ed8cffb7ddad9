#include "tracer-node/sessions/state_codec.h"

#include <filesystem>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::node {

namespace json = boost::json;

namespace {

constexpr std::string_view kFilePrefix = "session-";
constexpr std::string_view kFileSuffix = ".json";

Error bad(std::string message) { return Error{Errc::kInvalidArgument, std::move(message)}; }

// The member `name` of `object` with the right kind, or an error naming what was found.
Result<const json::value*> member(const json::object& object, std::string_view name, json::kind kind,
                                  std::string_view kind_name) {
    auto it = object.find(name);
    if (it == object.end()) return std::unexpected(bad(fmt::format("missing field \"{}\"", name)));
    if (it->value().kind() != kind && !(kind == json::kind::uint64 && it->value().is_int64()))
        return std::unexpected(
            bad(fmt::format("field \"{}\" must be {}, got {}", name, kind_name, json::serialize(it->value()))));
    return &it->value();
}

Result<std::uint64_t> unsigned_member(const json::object& object, std::string_view name) {
    auto v = member(object, name, json::kind::uint64, "an unsigned number");
    if (!v) return std::unexpected(v.error());
    if ((*v)->is_int64() && (*v)->as_int64() < 0)
        return std::unexpected(bad(fmt::format("field \"{}\" must not be negative, got {}", name, (*v)->as_int64())));
    return (*v)->to_number<std::uint64_t>();
}

Result<Selection> decode_containers(const json::object& object) {
    Selection out;
    for (const auto& [pod, names] : object) {
        if (!names.is_array())
            return std::unexpected(bad(fmt::format("containers of pod \"{}\" must be an array, got {}",
                                                   std::string(pod), json::serialize(names))));
        auto& list = out[std::string(pod)];
        for (const auto& n : names.as_array()) {
            if (!n.is_string())
                return std::unexpected(bad(fmt::format("container names of pod \"{}\" must be strings, got {}",
                                                       std::string(pod), json::serialize(n))));
            list.emplace_back(n.as_string());
        }
    }
    return out;
}

Result<RunRecord> decode_run(const json::object& object) {
    RunRecord run;
    auto pid = unsigned_member(object, "hook-pid");
    if (!pid) return std::unexpected(pid.error());
    if (*pid == 0 || *pid > 0x3fffffff) return std::unexpected(bad(fmt::format("invalid hook-pid {}", *pid)));
    run.hook_pid = static_cast<pid_t>(*pid);
    auto start = unsigned_member(object, "hook-start-time");
    if (!start) return std::unexpected(start.error());
    run.hook_start_time = *start;
    auto instance = member(object, "instance", json::kind::string, "a string");
    if (!instance) return std::unexpected(instance.error());
    run.instance_dir = std::string((*instance)->as_string());
    // Start-up cleanup rmdirs this path: accept nothing but a tracefs instance directory.
    if (!run.instance_dir.empty()) {
        std::filesystem::path p(run.instance_dir);
        if (!p.is_absolute() || p.filename().empty() || p.filename() == ".." ||
            p.parent_path().filename() != "instances")
            return std::unexpected(
                bad(fmt::format("field \"instance\" must be an absolute .../instances/<name> path, got \"{}\"",
                                run.instance_dir)));
    }
    return run;
}

}  // namespace

std::string encode_session_record(const SessionRecord& r) {
    json::object out{{"version", kStateVersion},
                     {"id", std::to_string(r.id)},
                     {"spec",
                      {{"pod", r.spec.pod},
                       {"container", r.spec.container},
                       {"trace-hook", r.spec.hook},
                       {"trace-arguments", r.spec.args},
                       {"trace-user-context", r.spec.context}}},
                     {"containers", json::value_from(r.containers)},
                     {"running", r.running}};
    // Written only when not the defaults: the files of stream sessions stay as before.
    auto& spec = out["spec"].as_object();
    if (r.spec.mode != api::TraceMode::kStream) spec["trace-mode"] = api::trace_mode_name(r.spec.mode);
    if (!r.spec.ring_size.empty()) spec["ring-size"] = r.spec.ring_size;
    if (r.run)
        out["run"] = json::object{{"hook-pid", r.run->hook_pid},
                                  {"hook-start-time", r.run->hook_start_time},
                                  {"instance", r.run->instance_dir}};
    return json::serialize(out) + "\n";
}

Result<SessionRecord> decode_session_record(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("not valid JSON: {}", ec.message()));
    if (!v.is_object()) return fail(Errc::kInvalidArgument, "not a JSON object");
    const auto& o = v.as_object();

    auto version = member(o, "version", json::kind::uint64, "a number");
    if (!version) return std::unexpected(version.error());
    if (!(*version)->is_int64() || (*version)->as_int64() != kStateVersion)
        return fail(Errc::kInvalidArgument, fmt::format("unsupported state version {} (this tracer-node reads {})",
                                                        json::serialize(**version), kStateVersion));
    SessionRecord r;
    auto id = member(o, "id", json::kind::string, "a string");
    if (!id) return std::unexpected(id.error());
    auto parsed_id = parse_u64(std::string_view((*id)->as_string()));
    if (!parsed_id || *parsed_id == 0)
        return fail(Errc::kInvalidArgument, fmt::format("invalid session id {}", json::serialize(**id)));
    r.id = *parsed_id;

    // The spec has exactly the POST body's shape: validate it the same way.
    auto spec = member(o, "spec", json::kind::object, "an object");
    if (!spec) return std::unexpected(spec.error());
    // No --max-ring here: a stored session keeps what was accepted (the hook caps -b itself).
    auto parsed_spec = parse_session_spec(json::serialize(**spec), UINT64_MAX);
    if (!parsed_spec) return std::unexpected(Error::wrap(parsed_spec.error(), "field \"spec\""));
    r.spec = std::move(*parsed_spec);

    auto containers = member(o, "containers", json::kind::object, "an object");
    if (!containers) return std::unexpected(containers.error());
    auto selection = decode_containers((*containers)->as_object());
    if (!selection) return std::unexpected(selection.error());
    r.containers = std::move(*selection);

    auto running = member(o, "running", json::kind::bool_, "true or false");
    if (!running) return std::unexpected(running.error());
    r.running = (*running)->as_bool();

    if (auto it = o.find("run"); it != o.end() && !it->value().is_null()) {
        if (!it->value().is_object())
            return fail(Errc::kInvalidArgument,
                        fmt::format("field \"run\" must be an object, got {}", json::serialize(it->value())));
        auto run = decode_run(it->value().as_object());
        if (!run) return std::unexpected(Error::wrap(run.error(), "field \"run\""));
        r.run = std::move(*run);
    }
    return r;
}

std::string session_file_name(SessionId id) { return fmt::format("{}{}{}", kFilePrefix, id, kFileSuffix); }

std::optional<SessionId> session_id_of_file(std::string_view name) {
    if (!name.starts_with(kFilePrefix) || !name.ends_with(kFileSuffix)) return std::nullopt;
    name.remove_prefix(kFilePrefix.size());
    name.remove_suffix(kFileSuffix.size());
    auto id = parse_u64(name);
    if (!id || *id == 0) return std::nullopt;
    return *id;
}

}  // namespace ct::node
