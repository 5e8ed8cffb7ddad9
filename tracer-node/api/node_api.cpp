#include "tracer-node/api/node_api.h"

#include <malloc.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "common/syscall_stats.h"
#include "tracer-node/api/render.h"
#include "tracer-node/record/export_stream.h"
#include "tracer-node/sessions/node_deps.h"

namespace ct::node {

namespace json = boost::json;
using http::error_response;
using http::json_response;
using http::Request;
using http::Response;

NodeApi::NodeApi(PodDb& pods, HookRegistry& hooks, SessionManager& sessions, NodeMetrics& metrics)
    : pods_(pods), hooks_(hooks), sessions_(sessions), metrics_(metrics) {}

http::Router NodeApi::router() {
    http::Router r;
    r.add("GET", "/v1/pods", [this](const Request&, const http::PathParams&) { return get_pods(); });
    r.add("GET", "/v1/trace-hooks", [this](const Request&, const http::PathParams&) { return get_hooks(); });
    r.add("POST", "/v1/trace-session", [this](const Request& q, const http::PathParams&) { return post_session(q); });
    r.add("GET", "/v1/trace-session/{id}",
          [this](const Request&, const http::PathParams& p) { return get_session(p.at("id")); });
    r.add("PUT", "/v1/trace-session/{id}",
          [this](const Request& q, const http::PathParams& p) { return put_session(p.at("id"), q); });
    r.add("DELETE", "/v1/trace-session/{id}",
          [this](const Request&, const http::PathParams& p) { return delete_session(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace",
          [this](const Request&, const http::PathParams& p) { return stream_session(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace.dat",
          [this](const Request&, const http::PathParams& p) { return export_dat(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/trace.json",
          [this](const Request& q, const http::PathParams& p) { return export_json(p.at("id"), q.query); });
    r.add("GET", "/v1/trace-session/{id}/stats",
          [this](const Request&, const http::PathParams& p) { return session_statistics(p.at("id")); });
    r.add("POST", "/v1/trace-session/{id}/dump",
          [this](const Request& q, const http::PathParams& p) { return post_dump(p.at("id"), q); });
    r.add("GET", "/v1/trace-session/{id}/dumps",
          [this](const Request&, const http::PathParams& p) { return list_dumps(p.at("id")); });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}", [this](const Request& q, const http::PathParams& p) {
        return dump_lines(p.at("id"), p.at("dump"), q.query);
    });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}/trace.dat", [this](const Request& q, const http::PathParams& p) {
        return export_dump(p.at("id"), p.at("dump"), true, q.query);
    });
    r.add("GET", "/v1/trace-session/{id}/dumps/{dump}/trace.json", [this](const Request& q, const http::PathParams& p) {
        return export_dump(p.at("id"), p.at("dump"), false, q.query);
    });
    // /healthz and /readyz are answered on the HTTP server's I/O thread (ServerOptions::inline_paths),
    // also past its connection limits: they must never block.
    r.add("GET", "/healthz", [](const Request&, const http::PathParams&) {
        return json_response(json::object{{"status", "ok"}});
    });
    r.add("GET", "/readyz", [this](const Request&, const http::PathParams&) {
        return ready_ ? json_response(json::object{{"status", "ready"}})
                      : error_response(503, "not ready: discovery or trace hooks have not loaded yet");
    });
    r.add("GET", "/metrics", [this](const Request&, const http::PathParams&) {
        metrics_.update_sessions(sessions_.list());
        metrics_.update_syscall_stats(sessions_.running_statistics());
        if (exporters_) metrics_.update_exporters(exporters_->total_counts());
        if (stream_hub_) metrics_.set_stream_readers(stream_hub_->readers());
        if (dumps_) metrics_.update_dumps(dumps_->removed(), dumps_->kept());
        metrics_.update_heap();
        Response res;
        res.body = metrics_.serialize();
        res.content_type = "text/plain; version=0.0.4";
        return res;
    });
    return r;
}

Response NodeApi::get_pods() {
    auto pods = pods_.refresh();
    // A runtime that does not answer is this node's failure to list: 500, with its reason.
    if (!pods) return error_response(500, "listing pods: " + pods.error().message);
    return json_response(render_pods(*pods, node_name_));
}

Response NodeApi::get_hooks() {
    if (auto reloaded = hooks_.reload(); !reloaded) return error_response(reloaded.error());
    return json_response(render_hooks(*hooks_.hooks()));
}

Response NodeApi::get_session(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return json_response(render_sessions(sessions_.list()));
    auto view = sessions_.get(**id);
    if (!view) return error_response(view.error());
    return json_response(render_sessions({*view}));
}

Response NodeApi::post_session(const Request& request) {
    auto spec = parse_session_spec(request.body, max_ring_);
    if (!spec) return error_response(spec.error());
    auto view = sessions_.create(*spec);
    if (!view) {
        if (view.error().code == Errc::kTooMany) metrics_.count_limit("sessions");
        return error_response(view.error());
    }
    return json_response(render_sessions({*view}));
}

Response NodeApi::put_session(const std::string& text, const Request& request) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "PUT needs one trace session id, not \"all\"");
    auto run = parse_run_request(request.body);
    if (!run) return error_response(run.error());
    if (auto done = sessions_.set_running(**id, *run); !done) return error_response(done.error());
    return json_response(json::object{});
}

Response NodeApi::delete_session(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    std::vector<SessionId> ids;
    if (*id) ids.push_back(**id);
    else
        for (const auto& view : sessions_.list()) ids.push_back(view.id);
    auto done = *id ? sessions_.remove(**id) : sessions_.remove_all();
    if (!done && done.error().code == Errc::kNotFound) return error_response(done.error());
    if (dumps_)
        for (auto gone : ids) dumps_->forget_session(std::to_string(gone));
    if (!done) return error_response(done.error());
    // A run frees large, many-small-allocation structures (event format tables) from several
    // threads; glibc keeps such memory in its per-thread arenas unless asked to return it.
    ::malloc_trim(0);
    return json_response(json::object{});
}

}  // namespace ct::node

namespace ct::node {

// Live stream of a running session's events as JSON lines (chunked). 404 for an unknown id and
// for a session that is not running (there is nothing to stream; the client retries after
// starting it), 429 past the stream limits. Ends when the session stops.
Response NodeApi::stream_session(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "streaming needs one trace session id, not \"all\"");
    auto view = sessions_.get(**id);
    if (!view) return error_response(view.error());
    if (!stream_hub_) return error_response(404, "live streaming is not enabled on this node");
    auto stream = stream_hub_->subscribe(std::to_string(**id));
    if (!stream) {
        if (stream.error().code == Errc::kTooMany) metrics_.count_limit("streams");
        return error_response(stream.error());
    }
    Response res;
    res.content_type = "application/x-ndjson";
    res.stream = std::move(*stream);
    return res;
}

}  // namespace ct::node

namespace ct::node {

namespace {

constexpr const char* kWriterVersion = "container-tracer";

// The session's containers: a dump's exports leave out every other task's events.
std::set<ContainerRef> scope_of(const SessionView& view) {
    std::set<ContainerRef> scope;
    for (const auto& [pod, containers] : view.containers)
        for (const auto& c : containers) scope.insert({pod, c});
    return scope;
}

}  // namespace

Result<record::Recording> NodeApi::recording_of(SessionId id) {
    auto view = sessions_.get(id);
    if (!view) return std::unexpected(view.error());
    if (!recorder_)
        return fail(Errc::kConflict, fmt::format("trace session {} keeps no ftrace data: recording is off on this node "
                                                 "(--record-limit 0)", id));
    auto recording = recorder_->snapshot(std::to_string(id));
    if (!recording && recording.error().code == Errc::kNotFound)
        return fail(Errc::kConflict,
                    fmt::format("trace session {} keeps no ftrace data: its hook \"{}\" has not run yet, or does not "
                                "trace into an ftrace instance", id, view->spec.hook));
    return recording;
}

// The session's recording as a trace-cmd data file (docs/viewers.md), streamed.
Response NodeApi::export_dat(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "trace.dat needs one trace session id, not \"all\"");
    auto recording = recording_of(**id);
    if (!recording) return error_response(recording.error());
    auto stream = record::trace_dat_stream(std::move(*recording), kWriterVersion);
    if (!stream) return error_response(stream.error());
    Response res;
    res.content_type = "application/octet-stream";
    res.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"session-{}.dat\"", **id));
    res.stream = std::move(*stream);
    return res;
}

// One session's recording, or every session's of this node ("all"), as Chrome trace JSON.
Response NodeApi::export_json(const std::string& text, const std::string& query) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    // The node-wide file is a piece of the cluster's timeline: realtime clock, node-named processes.
    auto q = record::parse_json_query(query, {.realtime = !*id, .label = !*id});
    if (!q) return error_response(q.error());
    std::vector<record::Recording> recordings;
    std::vector<std::pair<std::string, std::string>> other{{"node", node_name_}};
    if (*id) {
        auto recording = recording_of(**id);
        if (!recording) return error_response(recording.error());
        recordings.push_back(std::move(*recording));
        other.emplace_back("session", text);
    } else {
        // Every session that has something recorded; a damaged one is named, not fatal.
        std::string skipped;
        for (const auto& view : sessions_.list()) {
            auto recording = recorder_ ? recorder_->snapshot(std::to_string(view.id)) : fail(Errc::kNotFound, "");
            if (recording) recordings.push_back(std::move(*recording));
            else if (recording.error().code != Errc::kNotFound)
                skipped += (skipped.empty() ? "" : "; ") + recording.error().message;
        }
        other.emplace_back("sessions", std::to_string(recordings.size()));
        if (!skipped.empty()) other.emplace_back("unreadable_sessions", skipped);
    }
    Response res;
    res.content_type = "application/json";
    res.headers.emplace_back("Content-Disposition",
                             fmt::format("attachment; filename=\"{}.json\"", *id ? "session-" + text : node_name_));
    res.stream = record::trace_json_stream(std::move(recordings),
                                           {.realtime = q->realtime,
                                            .pid_base = q->pid_base,
                                            .process_prefix = q->label ? node_name_ + " " : "",
                                            .sort_index = q->sort_index,
                                            .events_only = q->events_only,
                                            .other_data = std::move(other)});
    return res;
}

// A statistics session's counts per pod and container (docs/api.md "Statistics"): while it runs
// and after it stopped. 404 for an unknown id, 409 for a session without statistics.
Response NodeApi::session_statistics(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "statistics need one trace session id, not \"all\"");
    auto counts = sessions_.statistics(**id);
    if (!counts) return error_response(counts.error());
    return json_response(stats::to_json(*counts));
}

}  // namespace ct::node

namespace ct::node {

namespace {

json::value time_or_null(const std::optional<std::int64_t>& unix_ns) {
    return unix_ns ? json::value(rfc3339(*unix_ns)) : json::value(nullptr);
}

json::object render_dump(const flight::Dump& d) {
    json::object o{{"Id", d.id},
                   {"Reason", d.reason},
                   {"Time", rfc3339(d.time_unix_ns)},
                   {"Events", d.events},
                   {"Lost", d.lost},
                   {"From", time_or_null(d.from_unix_ns)},
                   {"To", time_or_null(d.to_unix_ns)}};
    if (d.trigger) {
        json::object fields;
        for (const auto& [k, v] : d.trigger->fields) fields[k] = v;
        o["Trigger"] = json::object{{"Event", d.trigger->event},
                                    {"TimestampNs", d.trigger->timestamp_ns},
                                    {"Fields", std::move(fields)}};
    }
    return o;
}

}  // namespace

// A dump by hand of a running flight-recorder session (docs/flight-recorder.md). The body is
// empty or {}.
Response NodeApi::post_dump(const std::string& text, const Request& request) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "a dump needs one trace session id, not \"all\"");
    if (!trim(request.body).empty()) {
        if (auto body = api::parse_request_object(request.body, {}); !body) return error_response(body.error());
    }
    auto view = sessions_.get(**id);
    if (!view) return error_response(view.error());
    if (!dumps_) return error_response(409, "flight-recorder dumps are off on this node");
    auto dump = dumps_->dump(text, "by hand", std::nullopt, false);
    if (!dump) return error_response(dump.error());
    return json_response(render_dump(*dump));
}

Response NodeApi::list_dumps(const std::string& text) {
    auto id = parse_session_id(text);
    if (!id) return error_response(id.error());
    if (!*id) return error_response(400, "dumps are listed per trace session id, not \"all\"");
    auto view = sessions_.get(**id);
    if (!view) return error_response(view.error());
    json::array out;
    if (dumps_)
        for (const auto& d : dumps_->list(text)) out.push_back(render_dump(d));
    return json_response(std::move(out));
}

Result<NodeApi::FoundDump> NodeApi::find_dump(const std::string& text, const std::string& dump_id) {
    auto id = parse_session_id(text);
    if (!id) return std::unexpected(id.error());
    if (!*id) return fail(Errc::kInvalidArgument, "a dump belongs to one trace session id, not \"all\"");
    auto dump = parse_session_id(dump_id);
    if (!dump || !*dump)
        return fail(Errc::kInvalidArgument, fmt::format("invalid dump id \"{}\": expected a decimal unsigned 64-bit "
                                                        "number without leading zeros",
                                                        dump_id));
    auto view = sessions_.get(**id);
    if (!view) return std::unexpected(view.error());
    if (!dumps_) return fail(Errc::kNotFound, fmt::format("trace session {} has no dump {}", text, dump_id));
    auto described = dumps_->get(text, dump_id);
    if (!described) return std::unexpected(described.error());
    auto recording = dumps_->recording(text, dump_id);
    if (!recording) return std::unexpected(recording.error());
    return FoundDump{std::move(*view), std::move(*described), std::move(*recording)};
}

Response NodeApi::export_dump(const std::string& text, const std::string& dump_id, bool dat, const std::string& query) {
    auto q = record::parse_json_query(query, {});
    if (!q) return error_response(q.error());
    if (dat && !query.empty()) return error_response(400, fmt::format("trace.dat takes no query, got \"{}\"", query));
    auto found = find_dump(text, dump_id);
    if (!found) return error_response(found.error());
    auto& recording = found->recording;
    // The ring was read as the kernel wrote it: leave out what the session's scope does not hold.
    record::exclude_out_of_scope(recording, scope_of(found->view));
    Response res;
    res.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"session-{}-dump-{}.{}\"", text,
                                                                dump_id, dat ? "dat" : "json"));
    if (dat) {
        auto stream = record::trace_dat_stream(std::move(recording), kWriterVersion);
        if (!stream) return error_response(stream.error());
        res.content_type = "application/octet-stream";
        res.stream = std::move(*stream);
        return res;
    }
    res.content_type = "application/json";
    res.stream = record::trace_json_stream({std::move(recording)},
                                           {.realtime = q->realtime,
                                            .pid_base = q->pid_base,
                                            .process_prefix = q->label ? node_name_ + " " : "",
                                            .sort_index = q->sort_index,
                                            .events_only = q->events_only,
                                            .other_data = {{"node", node_name_}, {"session", text}, {"dump", dump_id}}});
    return res;
}

// A dump's events as the JSON lines a live stream of the session gives (docs/api.md), with the
// trigger's own event in its time position.
Response NodeApi::dump_lines(const std::string& text, const std::string& dump_id, const std::string& query) {
    if (!query.empty())
        return error_response(400, fmt::format("a dump's JSON lines take no query, got \"{}\"", query));
    auto found = find_dump(text, dump_id);
    if (!found) return error_response(found.error());
    const auto& spec = found->view.spec;
    record::JsonLinesExportOptions options{.context = {node_name_, text, spec.hook, spec.context},
                                           .scope = scope_of(found->view),
                                           .export_lifecycle = requested_lifecycle(spec)};
    if (found->dump.trigger) {
        auto line = flight::trigger_line(*found->dump.trigger);
        options.extra = std::move(line.event);
        options.extra_type = std::move(line.type);
    }
    Response res;
    res.content_type = "application/x-ndjson";
    res.stream = record::jsonl_stream(std::move(found->recording), std::move(options));
    return res;
}

}  // namespace ct::node
