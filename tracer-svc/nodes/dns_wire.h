// Minimal DNS wire format (RFC 1035, AAAA per RFC 3596) for A/AAAA queries: pure encoder and
// decoder, no sockets. Used when tracer-svc must ask a specific DNS server (--dns-server).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ct::svc::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAAAA = 28;

// A recursive query for `name` ("a.b.c", a trailing dot allowed). kInvalidArgument for an empty
// label or a label over 63 bytes or a name over 253 bytes.
Result<std::vector<uint8_t>> encode_query(uint16_t id, std::string_view name, uint16_t qtype);

// Addresses (text form) of the answer records of type `qtype` in a response to query `id`.
// NXDOMAIN -> kNotFound; another error rcode, a wrong id, a truncated or malformed message ->
// kUnavailable / kInvalidArgument naming the problem. No records -> empty vector.
Result<std::vector<std::string>> decode_addresses(const std::vector<uint8_t>& message, uint16_t id, uint16_t qtype);

}  // namespace ct::svc::dns
