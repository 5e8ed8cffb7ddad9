#include "common/request_body.h"

#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::api {

namespace json = boost::json;

namespace {

auto bad(std::string message) { return fail(Errc::kInvalidArgument, std::move(message)); }

// `key` folded as Go's encoding/json folds object keys: ASCII letters to lower case, and the two
// non-ASCII letters that fold to ASCII ones (U+017F LATIN SMALL LETTER LONG S -> 's', U+212A
// KELVIN SIGN -> 'k').
std::string fold(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 'a');
        else if (key.substr(i, 2) == "\xC5\xBF") out += 's', i += 1;
        else if (key.substr(i, 3) == "\xE2\x84\xAA") out += 'k', i += 2;
        else out += c;
    }
    return out;
}

// basic_parser handler that only records the keys of the top-level object, in order: Boost.JSON
// 1.81's parse() keeps one of two equal keys silently, so duplicates are found here.
struct TopLevelKeys {
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

    std::vector<std::string> keys;
    std::string partial;
    int depth = 0;  // objects and arrays open around the current position

    using ec_t = boost::system::error_code;
    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_array_begin(ec_t&) { return ++depth, true; }
    bool on_array_end(std::size_t, ec_t&) { return --depth, true; }
    bool on_object_begin(ec_t&) { return ++depth, true; }
    bool on_object_end(std::size_t, ec_t&) { return --depth, true; }
    bool on_string_part(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_string(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_key_part(json::string_view s, std::size_t, ec_t&) {
        if (depth == 1) partial.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, ec_t&) {
        if (depth == 1) {
            partial.append(s.data(), s.size());
            keys.push_back(std::exchange(partial, {}));
        }
        return true;
    }
    bool on_number_part(json::string_view, ec_t&) { return true; }
    bool on_int64(std::int64_t, json::string_view, ec_t&) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, ec_t&) { return true; }
    bool on_double(double, json::string_view, ec_t&) { return true; }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(json::string_view, ec_t&) { return true; }
    bool on_comment(json::string_view, ec_t&) { return true; }
};

std::string list(std::span<const std::string_view> names) {
    std::string out;
    for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
}

// The string value of `field` in `object`, within `limit` bytes. `required`: present and not blank.
Result<std::string> string_field(const std::map<std::string, json::value, std::less<>>& object,
                                 std::string_view field, bool required, std::size_t limit) {
    auto it = object.find(field);
    if (it == object.end()) {
        if (required) return bad(fmt::format("missing field \"{}\"", field));
        return std::string();
    }
    if (!it->second.is_string())
        return bad(fmt::format("field \"{}\" must be a string, got {}", field, json::serialize(it->second)));
    const auto& value = it->second.get_string();
    if (value.size() > limit)
        return bad(fmt::format("field \"{}\" is {} bytes long; the limit is {} bytes", field, value.size(), limit));
    if (required && trim(std::string_view(value.data(), value.size())).empty())
        return bad(fmt::format("field \"{}\" must not be empty", field));
    return std::string(value);
}

// PIDs are the node's (docs/hooks.md): tracer-node gives every hook the session's threads with
// --pid, and user arguments may narrow what is traced but never add processes.
Status check_no_pid_option(std::string_view args) {
    for (const auto& token : split_whitespace(args))
        if (token == "--pid" || token.starts_with("--pid="))
            return bad(fmt::format("field \"trace-arguments\" must not contain \"{}\": tracer-node alone chooses the "
                                   "processes a hook traces (those of the session's containers)",
                                   token));
    return {};
}

// The ring size is handed to the hook as the ftrace manager's -b (docs/flight-recorder.md): a -b
// of the user's own would contradict it.
Status check_no_buffer_option(std::string_view args) {
    for (const auto& token : split_whitespace(args))
        if (token == "-b" || token == "--buffer-kb" || token.starts_with("--buffer-kb=") ||
            (token.starts_with("-b") && token.size() > 2 && !token.starts_with("--")))
            return bad(fmt::format("field \"trace-arguments\" must not contain \"{}\" when \"ring-size\" is given: "
                                   "ring-size sets the hook's per-CPU buffer",
                                   token));
    return {};
}

}  // namespace

std::string_view trace_mode_name(TraceMode mode) {
    return mode == TraceMode::kFlightRecorder ? kTraceModeFlight : kTraceModeStream;
}

Result<std::uint64_t> parse_size(std::string_view text) {
    auto refuse = [&] {
        return bad(fmt::format("\"{}\" is not a size: expected a number of bytes with an optional K, M or G suffix "
                               "(e.g. \"8M\")",
                               text));
    };
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 19) return refuse();
    auto number = parse_u64(text.substr(0, digits));
    if (!number) return refuse();
    std::string unit;
    for (char c : text.substr(digits)) unit += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
    else if (unit.ends_with("B") && unit.size() > 1) unit.resize(unit.size() - 1);
    else if (unit == "B") unit.clear();
    int shift = 0;
    if (unit == "K") shift = 10;
    else if (unit == "M") shift = 20;
    else if (unit == "G") shift = 30;
    else if (!unit.empty()) return refuse();
    if (*number > (UINT64_MAX >> shift)) return refuse();
    return *number << shift;
}

bool keys_match(std::string_view a, std::string_view b) { return fold(a) == fold(b); }

Result<std::map<std::string, json::value, std::less<>>> parse_request_object(std::string_view body,
                                                                            std::span<const std::string_view> accepted) {
    if (trim(body).empty()) return bad("request body is empty: expected a JSON object");
    json::basic_parser<TopLevelKeys> keys_parser(json::parse_options{});
    boost::system::error_code ec;
    keys_parser.write_some(false, body.data(), body.size(), ec);
    if (ec) return bad(fmt::format("request body is not valid JSON: {}", ec.message()));
    json::value value = json::parse(json::string_view(body.data(), body.size()), ec);
    if (ec) return bad(fmt::format("request body is not valid JSON: {}", ec.message()));
    if (!value.is_object()) return bad("request body must be a JSON object");

    std::map<std::string, json::value, std::less<>> out;
    std::map<std::string, std::string> seen;  // folded key -> the spelling given first
    const auto& keys = keys_parser.handler().keys;
    const auto& object = value.get_object();
    for (const auto& key : keys) {
        auto folded = fold(key);
        if (auto [it, fresh] = seen.emplace(folded, key); !fresh) {
            if (it->second == key) return bad(fmt::format("field \"{}\" is given twice", key));
            return bad(fmt::format("fields \"{}\" and \"{}\" are the same field (keys match without regard to case)",
                                   it->second, key));
        }
        const std::string_view* name = nullptr;
        for (const auto& a : accepted)
            if (fold(a) == folded) name = &a;
        if (!name)
            return bad(fmt::format("unknown field \"{}\" (accepted: {}; without regard to case)", key, list(accepted)));
        out.emplace(std::string(*name), object.at(key));
    }
    return out;
}

Result<SessionSpec> parse_session_spec(std::string_view body, std::uint64_t max_ring_bytes) {
    static constexpr std::string_view kFields[] = {"pod",        "container", "trace-hook", "trace-arguments",
                                                   "trace-user-context", "trace-mode", "ring-size"};
    auto object = parse_request_object(body, kFields);
    if (!object) return std::unexpected(object.error());
    SessionSpec spec;
    struct Field {
        std::string_view name;
        std::string* into;
        bool required;
        std::size_t limit;
    };
    for (const auto& f : {Field{"pod", &spec.pod, true, kMaxPatternBytes},
                          Field{"container", &spec.container, true, kMaxPatternBytes},
                          Field{"trace-hook", &spec.hook, true, kMaxHookNameBytes},
                          Field{"trace-arguments", &spec.args, false, kMaxArgumentsBytes},
                          Field{"trace-user-context", &spec.context, false, kMaxContextBytes}}) {
        auto value = string_field(*object, f.name, f.required, f.limit);
        if (!value) return std::unexpected(value.error());
        *f.into = std::move(*value);
    }
    if (auto ok = check_no_pid_option(spec.args); !ok) return std::unexpected(ok.error());
    auto mode = string_field(*object, "trace-mode", false, 64);
    if (!mode) return std::unexpected(mode.error());
    if (*mode == kTraceModeFlight) spec.mode = TraceMode::kFlightRecorder;
    else if (!mode->empty() && *mode != kTraceModeStream)
        return bad(fmt::format("field \"trace-mode\" is \"{}\": expected \"{}\" or \"{}\"", *mode, kTraceModeStream,
                               kTraceModeFlight));
    auto ring = string_field(*object, "ring-size", false, 64);
    if (!ring) return std::unexpected(ring.error());
    if (object->contains("ring-size")) {
        auto bytes = parse_size(*ring);
        if (!bytes) return bad(fmt::format("field \"ring-size\": {}", bytes.error().message));
        if (*bytes < kMinRingBytes || *bytes > max_ring_bytes)
            return bad(fmt::format("field \"ring-size\" is \"{}\" ({} bytes per CPU): it must be from {} to {} bytes "
                                   "(--max-ring)",
                                   *ring, *bytes, kMinRingBytes, max_ring_bytes));
        if (auto ok = check_no_buffer_option(spec.args); !ok) return std::unexpected(ok.error());
        spec.ring_size = std::move(*ring);
        spec.ring_bytes = *bytes;
    }
    return spec;
}

Result<bool> parse_run_request(std::string_view body) {
    static constexpr std::string_view kFields[] = {"Run"};
    auto object = parse_request_object(body, kFields);
    if (!object) return std::unexpected(object.error());
    auto it = object->find("Run");
    if (it == object->end()) return bad("missing field \"Run\" (expected {\"Run\": true|false})");
    if (!it->second.is_bool())
        return bad(fmt::format("field \"Run\" must be true or false, got {}", json::serialize(it->second)));
    return it->second.get_bool();
}

Result<std::optional<std::uint64_t>> parse_session_id(std::string_view text) {
    if (text == "all") return std::optional<std::uint64_t>();
    auto id = parse_u64(text);
    // parse_u64 already refuses signs, blanks and values past u64; a canonical id also has no
    // leading zero, so one session has exactly one id text.
    if (!id || (text.size() > 1 && text.front() == '0'))
        return bad(fmt::format("invalid trace session id \"{}\": expected \"all\" or a decimal unsigned 64-bit "
                               "number without leading zeros",
                               text));
    return std::optional<std::uint64_t>(*id);
}

}  // namespace ct::api
