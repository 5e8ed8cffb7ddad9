// ctrace: the command line for people over container-tracer's API (docs/cli.md). Builds the
// CLI11 app from the command registry (cli/command.h), resolves the global options, runs the
// chosen command. Also runs as `kubectl-ctrace` (kubectl's plugin name: `kubectl ctrace ...`)
// and as `kubectl_complete-ctrace` (kubectl's plugin completion).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/completion.h"

using namespace ct::cli;

namespace {

std::string program_name(const char* argv0) {
    auto base = std::filesystem::path(argv0 ? argv0 : "ctrace").filename().string();
    return base.starts_with("kubectl-") || base.starts_with("kubectl_") ? "kubectl ctrace" : "ctrace";
}

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    // Write errors show as EPIPE (the reader of stdout left), never as a fatal signal.
    std::signal(SIGPIPE, SIG_IGN);
    Output out(1);
    Context context{.program = program_name(argc > 0 ? argv[0] : nullptr), .out = &out};
    bool kubectl_completion = argc > 0 && std::filesystem::path(argv[0]).filename() == kKubectlCompleteName;

    CLI::App app{"ctrace: trace the system calls and kernel events of Kubernetes containers through container-tracer "
                 "(tracer-svc for a cluster, or one tracer-node).",
                 context.program};
    app.fallthrough();  // global options may also come after the command
    app.require_subcommand(1);
    app.set_version_flag("--version", CT_VERSION);
    auto& conn = context.connection;
    app.add_option("--server", conn.server,
                   "the API's URL: http(s)://host:port[/path] (a tracer-svc, a tracer-node, or a kubectl port-forward)")
        ->envname("CTRACE_SERVER")
        ->capture_default_str();
    app.add_option("--token-file", conn.token_file, "file holding the bearer token (else $CTRACE_TOKEN holds the token)")
        ->envname("CTRACE_TOKEN_FILE");
    app.add_option("--cacert", conn.cacert, "PEM CA bundle to verify an https server with (default: the system's)")
        ->envname("CTRACE_CACERT");
    conn.token = env_or("CTRACE_TOKEN", "");
    app.footer(fmt::format("Examples:\n"
                           "  {0} pods\n"
                           "  {0} trace 'default/web-*' --args '-s openat' --timeout 30s\n"
                           "  kubectl -n tracing port-forward svc/tracer-container-tracer-svc 8080 &   # release \"tracer\"\n"
                           "  CTRACE_SERVER=http://127.0.0.1:8080 {0} sessions\n"
                           "Run `{0} <command> --help` for a command's options. Exit status: 0 done, 1 failed, 2 bad "
                           "usage.",
                           context.program));

    Registry registry = shipped_commands();
    context.app = &app;
    context.registry = &registry;
    Command* chosen = nullptr;
    for (const auto& command : registry.commands()) {
        auto* sub = app.add_subcommand(command->name());
        command->define(*sub, context.program);
        sub->callback([&chosen, c = command.get()] { chosen = c; });
    }

    if (kubectl_completion) {
        // kubectl runs `kubectl_complete-ctrace <words>`: every argument is a word of the command
        // line. No CLI11 parse here, so the environment's defaults are applied by hand.
        conn.server = env_or("CTRACE_SERVER", conn.server);
        conn.token_file = env_or("CTRACE_TOKEN_FILE", conn.token_file);
        conn.cacert = env_or("CTRACE_CACERT", conn.cacert);
        std::vector<std::string> words(argv + 1, argv + argc);
        if (words.empty()) words.push_back("");
        std::string text = complete_command_line(context, words, CompletionFormat::kCobra);
        std::fwrite(text.data(), 1, text.size(), stdout);
        return kExitOk;
    }

    // CLI11 would only say "A subcommand is required" for a mistyped command: name it.
    for (int i = 1; i < argc; ++i) {
        std::string_view word = argv[i];
        if (word == "--server" || word == "--token-file" || word == "--cacert") ++i;  // and its value
        if (word.starts_with("-")) continue;
        if (!registry.find(std::string(word))) {
            std::string names;
            for (const auto& c : registry.commands())
                if (c->name() != kCompleteCommand) names += (names.empty() ? "" : ", ") + c->name();
            std::fprintf(stderr, "ctrace: unknown command \"%s\" (commands: %s; see %s --help)\n", argv[i], names.c_str(),
                         context.program.c_str());
            return kExitUsage;
        }
        break;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // One line, naming what was wrong, and where to look.
        std::string what = e.what();
        if (what.empty()) what = "bad command line";
        std::string help = context.program;
        for (const auto* sub : app.get_subcommands()) help += " " + sub->get_name();
        std::fprintf(stderr, "ctrace: %s (see %s --help)\n", what.c_str(), help.c_str());
        return kExitUsage;
    }
    if (!chosen) return kExitUsage;
    return chosen->run(context);
}
