// The commands ctrace ships (docs/cli.md), one Command each, and shipped_commands().
#include <algorithm>
#include <cstdio>
#include <functional>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/completion.h"
#include "cli/duration.h"
#include "cli/model.h"
#include "cli/render.h"
#include "cli/selector.h"
#include "cli/top_run.h"
#include "cli/trace_run.h"
#include "common/strings.h"

namespace ct::cli {

namespace json = boost::json;

namespace {

const std::vector<std::string> kTableFormats = {"table", "json"};
const std::vector<std::string> kEventFormats = {"columns", "json"};

// Writes a command's result to stdout: 0, also when the reader left (`| head`); 1 on a write error.
int write_result(Context& context, std::string_view text) {
    if (context.out->write(text) || context.out->reader_gone()) return kExitOk;
    return report("writing to stdout", Error{Errc::kIo, context.out->error()});
}

int usage(const std::string& message) {
    std::fprintf(stderr, "ctrace: %s\n", message.c_str());
    return kExitUsage;
}

// GET `route` with the context's server; the error already names the server.
Result<json::value> get(const Context& context, const std::string& route) {
    auto api = context.client();
    if (!api) return std::unexpected(api.error());
    return api->call("GET", route);
}

void add_format(CLI::App& command, std::string& format, const std::vector<std::string>& formats) {
    command.add_option("-o,--output", format, fmt::format("output format: {}", fmt::join(formats, " or ")))
        ->check(CLI::IsMember(formats))
        ->capture_default_str();
}

// Pod names as "namespace/pod" (or "pod" when no namespace is known), for TAB.
std::vector<std::string> pod_candidates(const Context& context) {
    std::vector<std::string> out;
    auto answer = get(context, "/v1/pods");
    if (!answer) return out;
    auto containers = parse_pods(*answer);
    if (!containers) return out;
    for (const auto& c : *containers) {
        auto name = c.pod_namespace.empty() ? c.pod_key : c.pod_namespace + "/" + c.pod;
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    return out;
}

std::vector<std::string> session_candidates(const Context& context) {
    std::vector<std::string> out;
    if (auto answer = get(context, "/v1/trace-session/all"))
        if (auto sessions = parse_sessions(*answer))
            for (const auto& s : *sessions) out.push_back(s.id);
    return out;
}

// --- pods ---

class PodsCommand : public Command {
public:
    std::string name() const override { return "pods"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description("List the pods and containers the server sees (GET /v1/pods).");
        c.add_option("pods", selector_, "[namespace-glob/]pod-glob to show (default: every pod)");
        add_format(c, format_, kTableFormats);
        c.footer(fmt::format("Examples:\n"
                             "  {0} pods\n"
                             "  {0} pods 'kube-system/*'\n"
                             "  {0} pods 'web-*' -o json\n"
                             "Exits 1 when a pattern matches no pod.",
                             program));
    }
    int run(Context& context) override {
        PodSelector selector;
        if (!selector_.empty()) {
            auto parsed = parse_pod_selector(selector_);
            if (!parsed) return usage(parsed.error().message);
            selector = *parsed;
        }
        auto answer = get(context, "/v1/pods");
        if (!answer) return report("listing pods", answer.error());
        auto containers = parse_pods(*answer);
        if (!containers) return report("listing pods", containers.error());
        auto shown = filter_containers(std::move(*containers), selector);
        if (!selector_.empty() && shown.empty())
            return report("listing pods", Error{Errc::kNotFound, fmt::format("no pod matches \"{}\" on {}", selector_,
                                                                             context.connection.server)});
        if (format_ == "json") return write_result(context, json::serialize(filter_pods(answer->as_object(), selector)) + "\n");
        return write_result(context, pods_table(std::move(shown)));
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        if (option == "--output") return kTableFormats;
        return option.empty() ? pod_candidates(context) : std::vector<std::string>{};
    }

private:
    std::string selector_;
    std::string format_ = "table";
};

// --- hooks, sessions: one answer as a table or as the API's JSON ---

class ListCommand : public Command {
public:
    using ToTable = std::function<Result<std::string>(const json::value&)>;
    ListCommand(std::string name, std::string description, std::string route, std::string action, ToTable to_table)
        : name_(std::move(name)), description_(std::move(description)), route_(std::move(route)),
          action_(std::move(action)), to_table_(std::move(to_table)) {}

    std::string name() const override { return name_; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(fmt::format("{} (GET {}).", description_, route_));
        add_format(c, format_, kTableFormats);
        c.footer(fmt::format("Examples:\n  {0} {1}\n  {0} {1} -o json", program, name_));
    }
    int run(Context& context) override {
        auto answer = get(context, route_);
        if (!answer) return report(action_, answer.error());
        if (format_ == "json") return write_result(context, json::serialize(*answer) + "\n");
        auto table = to_table_(*answer);
        if (!table) return report(action_, table.error());
        return write_result(context, *table);
    }
    std::vector<std::string> complete(const std::string& option, const Context&) const override {
        return option == "--output" ? kTableFormats : std::vector<std::string>{};
    }

private:
    std::string name_, description_, route_, action_;
    ToTable to_table_;
    std::string format_ = "table";
};

std::unique_ptr<Command> hooks_command() {
    return std::make_unique<ListCommand>("hooks", "List the trace hooks the server offers", "/v1/trace-hooks",
                                         "listing trace hooks", [](const json::value& answer) -> Result<std::string> {
                                             auto hooks = parse_hooks(answer);
                                             if (!hooks) return std::unexpected(hooks.error());
                                             return hooks_table(*hooks);
                                         });
}

std::unique_ptr<Command> sessions_command() {
    return std::make_unique<ListCommand>("sessions", "List the trace sessions on the server", "/v1/trace-session/all",
                                         "listing trace sessions", [](const json::value& answer) -> Result<std::string> {
                                             auto sessions = parse_sessions(answer);
                                             if (!sessions) return std::unexpected(sessions.error());
                                             return sessions_table(*sessions);
                                         });
}

// --- trace / detach: what a new session traces ---

struct SessionFlags {
    std::string pods;
    std::string container = "*";
    std::string hook = "trace_syscalls";
    std::string args;
    std::string context;

    void define(CLI::App& c) {
        c.add_option("pods", pods, "[namespace-glob/]pod-glob of the pods to trace")->required();
        c.add_option("-c,--container", container, "glob of the containers in those pods")->capture_default_str();
        c.add_option("--hook", hook, "trace hook (see `ctrace hooks`)")->capture_default_str();
        c.add_option("--args", args, "the hook's arguments, e.g. \"-s openat,read\" (one word: quote it)");
        c.add_option("--context", context, "your text, attached to every event (default: ctrace-<random>)");
    }
    // The session to create. Errors: a bad pod selector (kInvalidArgument).
    Result<SessionSpec> spec() const {
        auto selector = parse_pod_selector(pods);
        if (!selector) return std::unexpected(selector.error());
        SessionSpec s{.pod = selector->pattern(), .container = container, .hook = hook, .args = args, .context = context};
        if (s.context.empty()) s.context = generated_context(), s.context_generated = true;
        return s;
    }
    static std::vector<std::string> complete(const std::string& option, const Context& context) {
        if (option.empty()) return pod_candidates(context);
        if (option == "--hook") {
            std::vector<std::string> out;
            if (auto answer = get(context, "/v1/trace-hooks"))
                if (auto hooks = parse_hooks(*answer))
                    for (const auto& h : *hooks) out.push_back(h.name);
            return out;
        }
        return {};
    }
};

// How a stream is shown and how long it runs (trace, attach).
struct StreamFlags {
    std::string format = "columns";
    std::string timeout;

    void define(CLI::App& c, const char* timeout_help) {
        add_format(c, format, kEventFormats);
        c.add_option("--timeout", timeout, timeout_help);
    }
    Result<StreamSettings> settings() const {
        StreamSettings s{.json = format == "json", .timeout_text = timeout};
        if (!timeout.empty()) {
            auto d = parse_duration(timeout);
            if (!d) return std::unexpected(d.error());
            s.timeout = *d;
        }
        return s;
    }
};

class TraceCommand : public Command {
public:
    std::string name() const override { return "trace"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(
            "Trace pods: create a trace session, start it and print its events until Ctrl-C, the timeout, or the "
            "traced containers end; then stop and delete the session and print a summary (delivered, lost) on stderr.");
        session_.define(c);
        stream_.define(c, "stop after this long, e.g. 30s, 500ms, 2m (default: until Ctrl-C)");
        c.add_flag("--detach", detach_, "start the session, print its id and leave it running (same as `detach`)");
        c.footer(fmt::format(
            "Examples:\n"
            "  {0} trace 'default/web-*' --args '-s openat' --timeout 30s\n"
            "  {0} trace nginx -c nginx -o json | jq .event\n"
            "  {0} trace 'shop/*' --detach          # prints the session id; later: {0} attach <id>\n"
            "Events: TIME NODE POD CONTAINER PID COMM EVENT DETAILS; -o json prints the API's JSON lines.\n"
            "The containers count as ended once none of them runs a process it ran 2 s before.\n"
            "Ctrl-C (or SIGTERM, SIGHUP, or the reader of the output leaving) stops the session, prints the events\n"
            "it still holds and deletes it; a second Ctrl-C stops waiting for events, a third quits at once and\n"
            "names the session left behind. Exit status 0 when the trace ended as asked and the session is gone.",
            program));
    }
    int run(Context& context) override {
        auto spec = session_.spec();
        if (!spec) return usage(spec.error().message);
        auto settings = stream_.settings();
        if (!settings) return usage(settings.error().message);
        if (detach_ && (!stream_.timeout.empty() || stream_.format != "columns"))
            return usage("--detach leaves the session running: --timeout and --output do not apply");
        auto api = context.client();
        if (!api) return report("", api.error());
        if (detach_) return run_detach(*api, *context.out, *spec);
        return run_trace(*api, *context.out, *spec, *settings);
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        if (option == "--output") return kEventFormats;
        return SessionFlags::complete(option, context);
    }

private:
    SessionFlags session_;
    StreamFlags stream_;
    bool detach_ = false;
};

class DetachCommand : public Command {
public:
    std::string name() const override { return "detach"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(
            "Start tracing pods and leave the session running: create and start it, print its id on stdout. "
            "Stream it later with `attach`, end it with `delete`.");
        session_.define(c);
        c.footer(fmt::format("Examples:\n"
                             "  id=$({0} detach 'default/web-*' --args '-s openat')\n"
                             "  {0} attach $id --timeout 10s\n"
                             "  {0} delete $id\n"
                             "Through tracer-svc one session per node is created: one id per line.",
                             program));
    }
    int run(Context& context) override {
        auto spec = session_.spec();
        if (!spec) return usage(spec.error().message);
        auto api = context.client();
        if (!api) return report("", api.error());
        return run_detach(*api, *context.out, *spec);
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        return SessionFlags::complete(option, context);
    }

private:
    SessionFlags session_;
};

class AttachCommand : public Command {
public:
    std::string name() const override { return "attach"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(
            "Print the events of a running session (e.g. one started with `detach`) until Ctrl-C, the timeout or the "
            "session's end. The session is left as it is.");
        c.add_option("id", id_, "the session's id (see `sessions`)")->required();
        stream_.define(c, "leave after this long, e.g. 30s (default: until Ctrl-C)");
        c.footer(fmt::format("Examples:\n  {0} attach 6903485068587058765\n  {0} attach 6903485068587058765 -o json --timeout 1m",
                             program));
    }
    int run(Context& context) override {
        if (!parse_u64(id_)) return usage(fmt::format("invalid session id \"{}\": expected a decimal number", id_));
        auto settings = stream_.settings();
        if (!settings) return usage(settings.error().message);
        auto api = context.client();
        if (!api) return report("", api.error());
        return run_attach(*api, *context.out, id_, *settings);
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        if (option == "--output") return kEventFormats;
        return option.empty() ? session_candidates(context) : std::vector<std::string>{};
    }

private:
    std::string id_;
    StreamFlags stream_;
};

// The end of a command's own session: --timeout (else until Ctrl-C).
Result<LeaseEnd> lease_end(const std::string& timeout) {
    LeaseEnd end{.timeout_text = timeout};
    if (!timeout.empty()) {
        auto d = parse_duration(timeout);
        if (!d) return std::unexpected(d.error());
        end.timeout = *d;
    }
    return end;
}

class TopCommand : public Command {
public:
    std::string name() const override { return "top"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(
            "Live system-call statistics of pods, counted in the kernel by the syscall_stats hook: calls/s, errors/s, "
            "p50 and p99 latency per container and syscall, refreshed every interval (in place on a terminal). The "
            "session is deleted when top ends (Ctrl-C, the timeout, or the output closed).");
        c.add_option("pods", pods_, "[namespace-glob/]pod-glob of the pods to count")->required();
        c.add_option("-c,--container", container_, "glob of the containers in those pods")->capture_default_str();
        c.add_option("--args", args_, "the hook's arguments, e.g. \"-s openat,read\" to count only those calls");
        c.add_option("--sort", sort_, "sort by: calls, errors, p50, p99, name")->capture_default_str();
        c.add_option("-n,--rows", rows_, "rows shown (0: all)")->capture_default_str();
        c.add_option("--interval", interval_, "refresh interval, e.g. 1s, 500ms")->capture_default_str();
        c.add_option("--timeout", timeout_, "end after this long, e.g. 30s (default: until Ctrl-C)");
        c.footer(fmt::format("Examples:\n"
                             "  {0} top 'default/web-*'\n"
                             "  {0} top 'shop/*' --sort errors -n 10\n"
                             "  {0} top db --args '-s read,write,fsync' --interval 2s --timeout 1m | tee top.txt\n"
                             "Columns: NODE POD CONTAINER SYSCALL CALLS/S ERRORS/S P50 P99 (over the last interval).",
                             program));
    }
    int run(Context& context) override {
        auto selector = parse_pod_selector(pods_);
        if (!selector) return usage(selector.error().message);
        auto sort = parse_top_sort(sort_);
        if (!sort) return usage(sort.error().message);
        auto interval = parse_duration(interval_);
        if (!interval) return usage(interval.error().message);
        auto end = lease_end(timeout_);
        if (!end) return usage(end.error().message);
        auto api = context.client();
        if (!api) return report("", api.error());
        SessionSpec spec{.pod = selector->pattern(), .container = container_, .hook = "syscall_stats", .args = args_,
                         .context = generated_context(), .context_generated = true};
        return run_top(*api, *context.out, spec,
                       {.sort = *sort, .limit = rows_, .interval = *interval, .end = std::move(*end)});
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        if (option == "--sort") return {"calls", "errors", "p50", "p99", "name"};
        return option.empty() ? pod_candidates(context) : std::vector<std::string>{};
    }

private:
    std::string pods_, container_ = "*", args_, sort_ = "calls", interval_ = "1s", timeout_;
    size_t rows_ = 20;
};

class RecordCommand : public Command {
public:
    std::string name() const override { return "record"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description(
            "Record pods into a file a viewer opens: trace, and when the timeout or Ctrl-C ends it, stop the session, "
            "download its recording as a trace-cmd data file (-O x.dat: trace-cmd report, KernelShark) or Chrome trace "
            "JSON (-O x.json: Perfetto UI), and delete the session.");
        session_.define(c);
        c.add_option("-O,--output-file", path_, "the file: ends in .dat (trace.dat) or .json (Chrome trace JSON)")
            ->required();
        c.add_option("--timeout", timeout_, "record this long, e.g. 10s (default: until Ctrl-C)");
        c.footer(fmt::format("Examples:\n"
                             "  {0} record 'default/web-*' --args '-s openat' --timeout 10s -O web.dat\n"
                             "  trace-cmd report -i web.dat | head\n"
                             "  {0} record 'shop/*' --timeout 30s -O shop.json   # open in https://ui.perfetto.dev\n"
                             "Through tracer-svc with sessions on several nodes: one file per node, <name>.<node>.<ext>.",
                             program));
    }
    int run(Context& context) override {
        if (!path_.ends_with(".dat") && !path_.ends_with(".json"))
            return usage(fmt::format("-O \"{}\": the file must end in .dat (trace.dat) or .json (Chrome trace JSON)", path_));
        auto spec = session_.spec();
        if (!spec) return usage(spec.error().message);
        auto end = lease_end(timeout_);
        if (!end) return usage(end.error().message);
        auto api = context.client();
        if (!api) return report("", api.error());
        return run_record(*api, *spec, {.path = path_, .end = std::move(*end)});
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        return SessionFlags::complete(option, context);
    }

private:
    SessionFlags session_;
    std::string path_, timeout_;
};

class DeleteCommand : public Command {
public:
    std::string name() const override { return "delete"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description("Delete trace sessions (stopping them first), e.g. ones left running by `detach`.");
        c.add_option("ids", ids_, "session ids, or `all` for every session on the server")->required();
        c.footer(fmt::format("Examples:\n  {0} delete 6903485068587058765\n  {0} delete all", program));
    }
    int run(Context& context) override {
        for (const auto& id : ids_)
            if (id != "all" && !parse_u64(id))
                return usage(fmt::format("invalid session id \"{}\": expected a decimal number or all", id));
        auto api = context.client();
        if (!api) return report("", api.error());
        int code = kExitOk;
        for (const auto& id : ids_) {
            if (auto r = api->call("DELETE", "/v1/trace-session/" + id); !r)
                code = report(fmt::format("deleting session {}", id), r.error());
            else
                std::fprintf(stderr, "ctrace: deleted %s\n", id == "all" ? "every session" : ("session " + id).c_str());
        }
        return code;
    }
    std::vector<std::string> complete(const std::string& option, const Context& context) const override {
        if (!option.empty()) return {};
        auto ids = session_candidates(context);
        ids.push_back("all");
        return ids;
    }

private:
    std::vector<std::string> ids_;
};

class CompletionCommand : public Command {
public:
    std::string name() const override { return "completion"; }
    void define(CLI::App& c, const std::string& program) override {
        c.description("Print the shell completion script (bash).");
        c.add_option("shell", shell_, "the shell")->required()->check(CLI::IsMember({"bash"}));
        c.footer(fmt::format("Examples:\n"
                             "  source <({0} completion bash)\n"
                             "  {0} completion bash > /etc/bash_completion.d/ctrace\n"
                             "Completes commands, options, pod names and session ids (asking the server).",
                             program));
    }
    int run(Context& context) override { return write_result(context, bash_completion_script()); }
    std::vector<std::string> complete(const std::string& option, const Context&) const override {
        return option.empty() ? std::vector<std::string>{"bash"} : std::vector<std::string>{};
    }

private:
    std::string shell_;
};

// What the completion script calls on TAB: `ctrace __complete -- <words so far>`.
class CompleteCommand : public Command {
public:
    std::string name() const override { return std::string(kCompleteCommand); }
    void define(CLI::App& c, const std::string&) override {
        c.description("candidates for shell completion");
        c.group("");  // hidden
        c.add_option("words", words_, "the command line's words after the program, the last one being completed");
    }
    int run(Context& context) override {
        if (words_.empty()) words_.push_back("");
        return write_result(context, complete_command_line(context, words_));
    }

private:
    std::vector<std::string> words_;
};

}  // namespace

int report(const std::string& context, const Error& error) {
    if (context.empty()) std::fprintf(stderr, "ctrace: %s\n", error.message.c_str());
    else std::fprintf(stderr, "ctrace: %s: %s\n", context.c_str(), error.message.c_str());
    return kExitFailed;
}

Registry shipped_commands() {
    Registry r;
    r.add(std::make_unique<PodsCommand>());
    r.add(hooks_command());
    r.add(sessions_command());
    r.add(std::make_unique<TraceCommand>());
    r.add(std::make_unique<DetachCommand>());
    r.add(std::make_unique<AttachCommand>());
    r.add(std::make_unique<TopCommand>());
    r.add(std::make_unique<RecordCommand>());
    r.add(std::make_unique<DeleteCommand>());
    r.add(std::make_unique<CompletionCommand>());
    r.add(std::make_unique<CompleteCommand>());
    return r;
}

}  // namespace ct::cli
