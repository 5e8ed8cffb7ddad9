#include "cli/completion.h"

#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace ct::cli {

namespace {

const CLI::Option* find_option(const CLI::App& app, std::string_view name) {
    for (const auto* o : app.get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
        for (const auto& l : o->get_lnames())
            if (name == "--" + l) return o;
        for (const auto& s : o->get_snames())
            if (name == "-" + s) return o;
    }
    return nullptr;
}

bool takes_value(const CLI::Option* o) { return o->get_type_size_max() > 0 && o->get_items_expected_max() > 0; }

std::string long_name(const CLI::Option* o) {
    return o->get_lnames().empty() ? "-" + o->get_snames().front() : "--" + o->get_lnames().front();
}

// The global options that say which server to ask, from the words typed so far.
void apply_global(ConnectionOptions& c, const std::string& option, const std::string& value) {
    if (option == "--server") c.server = value;
    else if (option == "--token-file") c.token_file = value;
    else if (option == "--cacert") c.cacert = value;
}

std::vector<std::string> option_names(const CLI::App& app) {
    std::vector<std::string> out;
    for (const auto* o : app.get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
        for (const auto& l : o->get_lnames()) out.push_back("--" + l);
        for (const auto& s : o->get_snames()) out.push_back("-" + s);
    }
    return out;
}

}  // namespace

std::string bash_completion_script() {
    return R"(# bash completion for ctrace (and kubectl-ctrace): source <(ctrace completion bash)
_ctrace() {
    local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' out
    out=$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
    if [ "$out" = "__files__" ]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        COMPREPLY=($out)
    fi
}
complete -F _ctrace ctrace kubectl-ctrace
)";
}

std::string complete_command_line(const Context& context, const std::vector<std::string>& words,
                                  CompletionFormat format) {
    const CLI::App& root = *context.app;
    const CLI::App* command_app = nullptr;
    const Command* command = nullptr;
    Context asking = context;  // with the server options typed so far
    const CLI::Option* pending = nullptr;
    std::string cur = words.empty() ? "" : words.back();
    for (size_t i = 0; i + 1 < words.size(); ++i) {
        const auto& w = words[i];
        if (pending) {
            apply_global(asking.connection, long_name(pending), w);
            pending = nullptr;
        } else if (w.starts_with("-") && w.size() > 1) {
            auto eq = w.find('=');
            auto name = w.substr(0, eq);
            const CLI::Option* o = command_app ? find_option(*command_app, name) : nullptr;
            if (!o) o = find_option(root, name);
            if (o && takes_value(o)) {
                if (eq == std::string::npos) pending = o;
                else apply_global(asking.connection, long_name(o), w.substr(eq + 1));
            }
        } else if (!command) {
            command = context.registry->find(w);
            if (command) command_app = root.get_subcommand(w);
        }
    }

    std::vector<std::string> candidates;
    bool files = false;
    if (pending) {
        auto name = long_name(pending);
        if (name == "--token-file" || name == "--cacert") files = true;
        else if (command) candidates = command->complete(name, asking);
    } else if (cur.starts_with("-")) {
        if (command_app) candidates = option_names(*command_app);
        auto globals = option_names(root);
        candidates.insert(candidates.end(), globals.begin(), globals.end());
    } else if (!command) {
        for (const auto* sub : root.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); }))
            candidates.push_back(sub->get_name());
    } else {
        candidates = command->complete("", asking);
    }

    if (files && format == CompletionFormat::kBash) return "__files__\n";
    std::string out;
    std::set<std::string> seen;
    for (const auto& c : candidates)
        if (c.starts_with(cur) && seen.insert(c).second) out += c + "\n";
    if (format == CompletionFormat::kCobra) out += files ? ":0\n" : ":4\n";
    return out;
}

}  // namespace ct::cli
