// The command registry of ctrace (docs/cli.md). Each command is one Command: it defines its
// options and help on its own CLI11 subcommand and runs when chosen. main builds the registry
// (commands.cpp: shipped_commands()) and the CLI11 app from it; to add a command (e.g. `top`,
// `record`), write a Command and add it to shipped_commands() — nothing else changes.
// Single-threaded: the registry and its commands are used from main's thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/output.h"
#include "common/result.h"

namespace CLI {
class App;
}

namespace ct::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;   // the server or the system refused, or failed
inline constexpr int kExitUsage = 2;    // bad flags or arguments

class Registry;

// What every command gets when it runs.
struct Context {
    std::string program;            // "ctrace", or "kubectl ctrace" when run as the kubectl plugin
    ConnectionOptions connection;   // the global options, resolved
    const CLI::App* app = nullptr;  // the whole command line (for completion)
    const Registry* registry = nullptr;
    Output* out = nullptr;          // stdout

    // A client for the server the options name. Errors: those of ApiClient::open.
    Result<ApiClient> client() const { return ApiClient::open(connection); }
};

class Command {
public:
    virtual ~Command() = default;
    virtual std::string name() const = 0;
    // Adds the command's description, options, positionals and help footer (with examples) to
    // its subcommand. `program` is how the user calls ctrace (for the examples).
    virtual void define(CLI::App& command, const std::string& program) = 0;
    // Runs after the command line parsed. Returns the exit code; prints its own errors (one line
    // each, through report()).
    virtual int run(Context& context) = 0;
    // Candidates for the value of `option` (its long name, "--output"), or for the next
    // positional when `option` is "", as the user presses TAB (cli/completion.h). May ask the
    // server; failures give no candidates. Default: none.
    virtual std::vector<std::string> complete(const std::string& option, const Context& context) const {
        (void)option, (void)context;
        return {};
    }
};

class Registry {
public:
    void add(std::unique_ptr<Command> command) { commands_.push_back(std::move(command)); }
    const std::vector<std::unique_ptr<Command>>& commands() const { return commands_; }
    const Command* find(const std::string& name) const {
        for (const auto& c : commands_)
            if (c->name() == name) return c.get();
        return nullptr;
    }

private:
    std::vector<std::unique_ptr<Command>> commands_;
};

// Every command ctrace ships, in the order `--help` lists them.
Registry shipped_commands();

// Prints "ctrace: <context>: <message>" (context may be empty) on stderr; returns kExitFailed.
int report(const std::string& context, const Error& error);

}  // namespace ct::cli
