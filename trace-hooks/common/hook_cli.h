// The hook manager protocol's command line (docs/hooks.md), shared by hook managers: the
// manager commands (--get-all / --describe / --clear / --run NAME --args ...) and a tokenizer for
// the hook arguments after --args. Pure: no I/O, no globals. Errors are Errc::kInvalidArgument
// with a message naming the offending value; managers print it on stderr and exit kExitUsage.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct::hooks {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the kernel or the file system failed us
inline constexpr int kExitUsage = 2;    // bad command line or hook arguments

enum class Mode { kGetAll, kDescribe, kClear, kRun };

struct Command {
    Mode mode = Mode::kGetAll;
    std::string hook;                    // kDescribe, kRun
    std::vector<std::string> hook_args;  // kRun: every element after --args, whitespace-split
};

// argv without the program name; `hooks` are the names this manager offers.
Result<Command> parse_command(const std::vector<std::string>& args, const std::vector<std::string_view>& hooks);

// One hook option: its spellings ("-s", "--syscall"; the first is the name parse_options
// reports) and whether it takes every following non-option token (true) or exactly one.
struct OptionSpec {
    std::vector<std::string_view> spellings;
    bool many = false;
};

struct ParsedOption {
    std::string name;                 // spellings[0] of its spec
    std::string spelled;              // as given, for messages
    std::vector<std::string> values;
};

// Splits hook arguments into options with their values: "--name=value" gives a first value,
// then following tokens up to the next "-x" token (one at most unless `many`). An unknown option,
// a stray value or a single-value option without one fails.
Result<std::vector<ParsedOption>> parse_options(const std::vector<std::string>& args,
                                                const std::vector<OptionSpec>& specs);

// The values of the one --pid option tracer-node puts first (decision: only tracer-node chooses
// PIDs): a missing --pid, a second one, no value or a value that is not a positive pid fails.
Result<std::vector<pid_t>> take_pids(const std::vector<ParsedOption>& options);

}  // namespace ct::hooks
