#include "trace-hooks/ftrace/trace_filter.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

namespace ct::hooks::ftrace {
namespace {

bool is_field_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_field_char(char c) { return is_field_start(c) || (c >= '0' && c <= '9') || c == '.'; }
// Characters of an unquoted value: numbers, globs, cpu lists ("CPUS{0-3}"), symbol names. None
// of them is a quote, a parenthesis, '&', '|', '!' or a space, so a word can never carry structure.
bool is_word_char(char c) {
    constexpr std::string_view kExtra = "_.:*?+-/,[]{}";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kExtra.find(c) != std::string_view::npos;
}
bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// Recursive descent over the user's text, collecting tokens; each error names the character.
class FilterParser {
public:
    explicit FilterParser(std::string_view text) : s_(text) {}

    Result<std::string> run() {
        for (std::size_t k = 0; k < s_.size(); ++k)
            if (is_control(s_[k]) && s_[k] != '\t')
                return bad(fmt::format("a control character (0x{:02x}) at character {}", static_cast<unsigned>(s_[k]), k + 1));
        skip_space();
        if (at_end()) return bad("it is empty");
        if (auto ok = expr(0); !ok) return std::unexpected(ok.error());
        skip_space();
        if (!at_end()) {
            if (s_[i_] == ')') return bad(fmt::format("unbalanced parenthesis: \")\" at character {} closes nothing", i_ + 1));
            return bad(fmt::format("unexpected \"{}\" at character {}: expected && or ||", s_.substr(i_, 8), i_ + 1));
        }
        std::string out;
        for (const auto& t : tokens_) {
            if (!out.empty()) out += ' ';
            out += t;
        }
        if (out.size() > kMaxUserFilterBytes)
            return bad(fmt::format("it is {} bytes long; at most {}", out.size(), kMaxUserFilterBytes));
        return out;
    }

private:
    std::unexpected<Error> bad(std::string why) const {
        return fail(Errc::kInvalidArgument, fmt::format("invalid filter \"{}\": {}", s_, why));
    }
    bool at_end() const { return i_ >= s_.size(); }
    void skip_space() {
        while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    }
    bool starts(std::string_view what) const { return s_.substr(i_).starts_with(what); }

    Status expr(int depth) {
        while (true) {
            if (auto ok = unary(depth); !ok) return ok;
            skip_space();
            if (!starts("&&") && !starts("||")) return {};
            tokens_.emplace_back(s_.substr(i_, 2));
            i_ += 2;
        }
    }

    Status unary(int depth) {
        skip_space();
        if (at_end()) return bad("a condition is missing at its end");
        if (s_[i_] == '!') {
            const std::size_t bang = i_++;
            skip_space();
            if (at_end() || s_[i_] != '(')
                return bad(fmt::format("\"!\" at character {} must be followed by \"(\"", bang + 1));
            tokens_.emplace_back("!");
        }
        if (s_[i_] == '(') {
            const std::size_t open = i_++;
            if (depth + 1 > kMaxFilterDepth)
                return bad(fmt::format("parentheses nest deeper than {} at character {}", kMaxFilterDepth, open + 1));
            tokens_.emplace_back("(");
            if (auto ok = expr(depth + 1); !ok) return ok;
            skip_space();
            if (at_end() || s_[i_] != ')')
                return bad(fmt::format("unbalanced parenthesis: \"(\" at character {} is never closed", open + 1));
            ++i_;
            tokens_.emplace_back(")");
            return {};
        }
        return predicate();
    }

    Status predicate() {
        if (s_[i_] == ')') return bad(fmt::format("unbalanced parenthesis: \")\" at character {} closes nothing", i_ + 1));
        if (!is_field_start(s_[i_]))
            return bad(fmt::format("expected a field name at character {}, found \"{}\"", i_ + 1, s_.substr(i_, 8)));
        const std::size_t field = i_;
        while (!at_end() && is_field_char(s_[i_])) ++i_;
        tokens_.emplace_back(s_.substr(field, i_ - field));
        skip_space();
        // Longest first: "<=" before "<"; "&&" is not the bit test "&".
        constexpr std::array<std::string_view, 8> kOps = {"==", "!=", "<=", ">=", "<", ">", "&", "~"};
        auto op = std::ranges::find_if(kOps, [&](std::string_view o) { return starts(o); });
        if (op == kOps.end() || starts("&&"))
            return bad(fmt::format("expected an operator (== != < <= > >= & ~) after \"{}\" at character {}",
                                   tokens_.back(), i_ + 1));
        tokens_.emplace_back(*op);
        i_ += op->size();
        skip_space();
        if (at_end()) return bad(fmt::format("a value is missing after \"{} {}\"", tokens_[tokens_.size() - 2], *op));
        const std::size_t value = i_;
        if (s_[i_] == '"' || s_[i_] == '\'') {
            const char quote = s_[i_++];
            while (!at_end() && s_[i_] != quote) {
                if (s_[i_] == '\t') return bad(fmt::format("a tab inside the string at character {}", value + 1));
                ++i_;
            }
            if (at_end()) return bad(fmt::format("the string at character {} is never closed", value + 1));
            ++i_;
        } else {
            while (!at_end() && is_word_char(s_[i_])) ++i_;
            if (i_ == value)
                return bad(fmt::format("expected a value at character {}, found \"{}\"", value + 1, s_.substr(i_, 8)));
        }
        tokens_.emplace_back(s_.substr(value, i_ - value));
        return {};
    }

    std::string_view s_;
    std::size_t i_ = 0;
    std::vector<std::string> tokens_;
};

struct PidRange {
    pid_t first;
    pid_t last;
};

void append_range(std::string& out, std::string_view field, const PidRange& r) {
    if (!out.empty()) out += "||";
    if (r.first == r.last) out += fmt::format("{}=={}", field, r.first);
    else out += fmt::format("({}>={}&&{}<={})", field, r.first, field, r.last);
}

// The runs left when every gap of at most `bridge` missing pids is filled.
std::string render(std::string_view field, const std::vector<PidRange>& runs, pid_t bridge) {
    std::string out;
    PidRange cur = runs.front();
    for (std::size_t k = 1; k < runs.size(); ++k) {
        if (runs[k].first - cur.last - 1 <= bridge) {
            cur.last = runs[k].last;
            continue;
        }
        append_range(out, field, cur);
        cur = runs[k];
    }
    append_range(out, field, cur);
    return out;
}

}  // namespace

Result<std::string> normalize_user_filter(std::string_view text) { return FilterParser(text).run(); }

std::string pid_scope_filter(std::string_view field, std::vector<pid_t> pids, std::size_t max_bytes) {
    std::ranges::sort(pids);
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
    std::erase_if(pids, [](pid_t p) { return p <= 0; });
    if (pids.empty()) return fmt::format("{}==0", field);
    std::vector<PidRange> runs;
    for (pid_t p : pids) {
        if (!runs.empty() && runs.back().last + 1 == p) runs.back().last = p;
        else runs.push_back({p, p});
    }
    if (auto exact = render(field, runs, 0); exact.size() <= max_bytes) return exact;
    // Too long: bridge the smallest gaps first. The length only shrinks as the bridge grows, so
    // the smallest sufficient bridge among the gap sizes is found by bisection.
    std::vector<pid_t> gaps;
    for (std::size_t k = 1; k < runs.size(); ++k) gaps.push_back(runs[k].first - runs[k - 1].last - 1);
    std::ranges::sort(gaps);
    gaps.erase(std::unique(gaps.begin(), gaps.end()), gaps.end());
    std::size_t lo = 0, hi = gaps.size() - 1;  // bridging the largest gap leaves one range: fits
    while (lo < hi) {
        std::size_t mid = (lo + hi) / 2;
        if (render(field, runs, gaps[mid]).size() <= max_bytes) hi = mid;
        else lo = mid + 1;
    }
    return render(field, runs, gaps[lo]);
}

std::string combine_filters(std::string_view scope, std::string_view user) {
    if (user.empty()) return fmt::format("({})", scope);
    return fmt::format("({}) && ({})", scope, user);
}

}  // namespace ct::hooks::ftrace
