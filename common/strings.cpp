#include "common/strings.h"

#include <time.h>

#include <charconv>

#include <fmt/format.h>

namespace ct {

std::vector<std::string> split_any(std::string_view text, std::string_view separators) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t start = text.find_first_not_of(separators, pos);
        if (start == std::string_view::npos) break;
        size_t end = text.find_first_of(separators, start);
        if (end == std::string_view::npos) end = text.size();
        out.emplace_back(text.substr(start, end - start));
        pos = end;
    }
    return out;
}

std::vector<std::string> split_whitespace(std::string_view text) {
    return split_any(text, " \t\r\n\v\f");
}

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n\v\f";
    size_t start = text.find_first_not_of(kSpace);
    if (start == std::string_view::npos) return {};
    size_t end = text.find_last_not_of(kSpace);
    return text.substr(start, end - start + 1);
}

std::optional<unsigned long long> parse_u64(std::string_view text) {
    if (text.empty() || text.front() == '+' || text.front() == '-') return std::nullopt;
    unsigned long long value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

Result<HostPort> parse_host_port(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return fail(Errc::kInvalidArgument, fmt::format("invalid address \"{}\": {}", text, why));
    };
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port or :port");
    HostPort out;
    std::string_view host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string_view::npos) return bad("IPv6 hosts must be in brackets");
    out.host = std::string(host);
    auto port = parse_u64(text.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return bad("port must be 1-65535");
    out.port = static_cast<unsigned short>(*port);
    return out;
}

namespace {

// Length of the valid UTF-8 sequence starting at text[0], 0 when it is not one.
size_t utf8_sequence(std::string_view text) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char b0 = byte(0);
    if (b0 < 0x80) return 1;
    size_t n = b0 >= 0xC2 && b0 <= 0xDF ? 2 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : 0;
    if (n == 0 || text.size() < n) return 0;
    // The second byte's range rules out overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    unsigned char lo = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
    if (byte(1) < lo || byte(1) > hi) return 0;
    for (size_t i = 2; i < n; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    return n;
}

}  // namespace

size_t valid_utf8_prefix(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {  // the common case: ASCII
            ++i;
            continue;
        }
        size_t n = utf8_sequence(text.substr(i));
        if (n == 0) return i;
        i += n;
    }
    return i;
}

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        size_t good = valid_utf8_prefix(text);
        out.append(text.substr(0, good));
        text.remove_prefix(good);
        if (text.empty()) break;
        out += "\xEF\xBF\xBD";  // U+FFFD for one invalid byte
        text.remove_prefix(1);
    }
    return out;
}

std::string rfc3339(std::int64_t unix_ns) {
    time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
    tm t{};
    ::gmtime_r(&secs, &t);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                       t.tm_hour, t.tm_min, t.tm_sec, unix_ns % 1'000'000'000);
}

}  // namespace ct
