#include "trace-hooks/common/hook_cli.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/strings.h"

namespace ct::hooks {
namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

bool is_option(std::string_view token) { return token.size() >= 2 && token.front() == '-'; }

}  // namespace

Result<Command> parse_command(const std::vector<std::string>& args, const std::vector<std::string_view>& hooks) {
    constexpr std::string_view kUsage =
        "expected --get-all, --describe NAME, --clear or --run NAME --args ARGS...";
    if (args.empty()) return bad(fmt::format("no command: {}", kUsage));
    const std::string& first = args[0];
    Command cmd;
    auto no_extra = [&](size_t used) -> Status {
        if (args.size() > used)
            return bad(fmt::format("unexpected argument \"{}\" after {}", args[used], first));
        return {};
    };
    auto known_hook = [&](size_t at) -> Status {
        if (args.size() <= at) return bad(fmt::format("{} needs a hook name", first));
        if (std::ranges::find(hooks, args[at]) == hooks.end())
            return bad(fmt::format("unknown hook \"{}\" (available: {})", args[at], fmt::join(hooks, ", ")));
        return {};
    };
    if (first == "--get-all" || first == "--clear") {
        cmd.mode = first == "--clear" ? Mode::kClear : Mode::kGetAll;
        if (auto ok = no_extra(1); !ok) return std::unexpected(ok.error());
    } else if (first == "--describe") {
        cmd.mode = Mode::kDescribe;
        if (auto ok = known_hook(1); !ok) return std::unexpected(ok.error());
        if (auto ok = no_extra(2); !ok) return std::unexpected(ok.error());
        cmd.hook = args[1];
    } else if (first == "--run") {
        cmd.mode = Mode::kRun;
        if (auto ok = known_hook(1); !ok) return std::unexpected(ok.error());
        cmd.hook = args[1];
        if (args.size() > 2 && args[2] != "--args")
            return bad(fmt::format("unexpected argument \"{}\": hook arguments follow --args", args[2]));
        // tracer-node passes each argument as its own element; a hand caller may pass them as
        // one string. No argument legitimately contains whitespace, so splitting serves both.
        for (size_t i = 3; i < args.size(); ++i)
            for (auto& token : split_whitespace(args[i])) cmd.hook_args.push_back(std::move(token));
    } else {
        return bad(fmt::format("unknown command \"{}\": {}", first, kUsage));
    }
    return cmd;
}

Result<std::vector<ParsedOption>> parse_options(const std::vector<std::string>& args,
                                                const std::vector<OptionSpec>& specs) {
    std::vector<ParsedOption> out;
    size_t i = 0;
    while (i < args.size()) {
        std::string_view token = args[i++];
        if (!is_option(token)) return bad(fmt::format("unexpected argument \"{}\"", token));
        ParsedOption option;
        if (token.starts_with("--")) {
            if (size_t eq = token.find('='); eq != std::string_view::npos) {
                option.values.emplace_back(token.substr(eq + 1));
                token = token.substr(0, eq);
            }
        }
        auto spec = std::ranges::find_if(specs, [&](const OptionSpec& s) {
            return std::ranges::find(s.spellings, token) != s.spellings.end();
        });
        if (spec == specs.end()) return bad(fmt::format("unknown option \"{}\"", token));
        option.name = spec->spellings.front();
        option.spelled = token;
        while (i < args.size() && !is_option(args[i]) && (spec->many || option.values.empty()))
            option.values.push_back(args[i++]);
        if (!spec->many && option.values.empty()) return bad(fmt::format("{} needs a value", token));
        out.push_back(std::move(option));
    }
    return out;
}

Result<std::vector<pid_t>> take_pids(const std::vector<ParsedOption>& options) {
    std::vector<pid_t> pids;
    bool seen = false;
    for (const auto& option : options) {
        if (option.name != "--pid") continue;
        if (seen) return bad("a second --pid: only tracer-node chooses the traced processes");
        seen = true;
        if (option.values.empty()) return bad("--pid needs at least one PID");
        for (const auto& v : option.values) {
            auto n = parse_u64(v);
            if (!n || *n == 0 || *n > static_cast<unsigned long long>(INT_MAX))
                return bad(fmt::format("invalid pid \"{}\": expected a positive number", v));
            pids.push_back(static_cast<pid_t>(*n));
        }
    }
    if (!seen) return bad("missing --pid: the threads to trace");
    return pids;
}

}  // namespace ct::hooks
