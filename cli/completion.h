// Shell completion (docs/cli.md): the bash script `ctrace completion bash` prints, and what it
// calls on every TAB — `ctrace __complete -- <words>` — which finds the command being typed in
// the CLI11 tree, and asks that command (Command::complete) for option values and positionals,
// e.g. pod names or session ids from the server. Run as `kubectl_complete-ctrace` (a link to
// ctrace), the same candidates come in the format kubectl's plugin completion reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"

namespace ct::cli {

inline constexpr std::string_view kCompleteCommand = "__complete";
// The name kubectl (1.26+) runs to complete `kubectl ctrace ...`.
inline constexpr std::string_view kKubectlCompleteName = "kubectl_complete-ctrace";

std::string bash_completion_script();

enum class CompletionFormat {
    kBash,   // one candidate per line; a lone "__files__" line: complete file names
    kCobra,  // one candidate per line, then ":4" (no file names) or ":0" (file names): kubectl's format
};

// The candidates for the last of `words` (the command line after the program name; the last
// word is the one being completed, possibly ""), filtered by its prefix. Options given earlier
// (--server, --token-file, --cacert) apply to the server asked for pod names and session ids.
std::string complete_command_line(const Context& context, const std::vector<std::string>& words,
                                  CompletionFormat format = CompletionFormat::kBash);

}  // namespace ct::cli
