#include "tracer-svc/nodes/dns_wire.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace ct::svc::dns {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v & 0xff));
}

struct Reader {
    const std::vector<uint8_t>& m;
    size_t pos = 0;
    bool ok = true;

    uint16_t u16() {
        if (pos + 2 > m.size()) return ok = false, 0;
        uint16_t v = static_cast<uint16_t>(m[pos] << 8 | m[pos + 1]);
        pos += 2;
        return v;
    }
    uint32_t u32() {
        uint32_t hi = u16();
        return hi << 16 | u16();
    }
    // Skips a possibly compressed name: labels end at a zero byte or at a 2-byte pointer.
    void skip_name() {
        for (int labels = 0; labels < 128; ++labels) {
            if (pos >= m.size()) return void(ok = false);
            uint8_t len = m[pos];
            if ((len & 0xc0) == 0xc0) return void(pos += 2);
            if (len & 0xc0) return void(ok = false);  // reserved label types
            pos += 1 + len;
            if (len == 0) return;
        }
        ok = false;
    }
};

}  // namespace

Result<std::vector<uint8_t>> encode_query(uint16_t id, std::string_view name, uint16_t qtype) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return fail(Errc::kInvalidArgument, fmt::format("invalid DNS name \"{}\"", name));
    std::vector<uint8_t> out;
    put16(out, id);
    put16(out, 0x0100);  // standard query, recursion desired
    put16(out, 1);       // one question
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        size_t len = dot - start;
        if (len == 0 || len > 63)
            return fail(Errc::kInvalidArgument, fmt::format("invalid DNS name \"{}\": labels must be 1-63 bytes", name));
        out.push_back(static_cast<uint8_t>(len));
        out.insert(out.end(), name.begin() + start, name.begin() + dot);
        start = dot + 1;
    }
    out.push_back(0);
    put16(out, qtype);
    put16(out, 1);  // class IN
    return out;
}

Result<std::vector<std::string>> decode_addresses(const std::vector<uint8_t>& message, uint16_t id, uint16_t qtype) {
    Reader r{message};
    uint16_t got_id = r.u16();
    uint16_t flags = r.u16();
    uint16_t qd = r.u16(), an = r.u16();
    r.u16();
    r.u16();
    if (!r.ok) return fail(Errc::kInvalidArgument, "DNS answer shorter than its header");
    if (got_id != id) return fail(Errc::kInvalidArgument, fmt::format("DNS answer id {} does not match query id {}", got_id, id));
    if (!(flags & 0x8000)) return fail(Errc::kInvalidArgument, "DNS message is a query, not an answer");
    if (flags & 0x0200) return fail(Errc::kUnavailable, "DNS answer truncated (TC set)");
    int rcode = flags & 0x000f;
    if (rcode == 3) return fail(Errc::kNotFound, "DNS name does not exist (NXDOMAIN)");
    if (rcode != 0) return fail(Errc::kUnavailable, fmt::format("DNS server answered rcode {}", rcode));
    for (uint16_t i = 0; i < qd && r.ok; ++i) {
        r.skip_name();
        r.pos += 4;
    }
    std::vector<std::string> out;
    for (uint16_t i = 0; i < an; ++i) {
        r.skip_name();
        uint16_t type = r.u16(), klass = r.u16();
        r.u32();
        uint16_t rdlen = r.u16();
        if (!r.ok || r.pos + rdlen > message.size()) return fail(Errc::kInvalidArgument, "DNS answer record is cut short");
        const uint8_t* rdata = message.data() + r.pos;
        r.pos += rdlen;
        if (klass != 1 || type != qtype) continue;  // CNAMEs etc.: the addresses follow as their own records
        char text[INET6_ADDRSTRLEN] = {};
        if (type == kTypeA && rdlen == 4) inet_ntop(AF_INET, rdata, text, sizeof text);
        else if (type == kTypeAAAA && rdlen == 16) inet_ntop(AF_INET6, rdata, text, sizeof text);
        else return fail(Errc::kInvalidArgument, fmt::format("DNS address record of type {} has {} bytes", type, rdlen));
        out.emplace_back(text);
    }
    return out;
}

}  // namespace ct::svc::dns
