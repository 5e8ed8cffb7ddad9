// page_reader: walks the records of one ftrace ring-buffer sub-buffer (a page read from
// per_cpu/cpuN/trace_pipe_raw), as the kernel's ring_buffer.c lays it out and its
// events/header_page and header_event describe it. Pure, no allocation: bytes in, records out.
// Used by RawDecoder (decoding) and record/scope_scrub (rewriting records in place).
//
// A sub-buffer is a u64 timestamp, a long "commit" (data bytes in its low 27 bits; bit 31: events
// were lost before this page, bit 30: their count is stored after the data), then records, each a
// u32 header (type_len: 5 bits, time_delta: 27 bits) and a body. type_len 1-28: that many 4-byte
// words of data; 0: the data length (+4) in the next word, data after it; 29: padding (time_delta
// 0: the rest of the page; else a discarded event of 4 + the next word's bytes), 30: a time
// extension (the next word holds the delta's upper bits), 31: an absolute time stamp. Every read
// stays inside the bytes given; a damaged page ends early, never loops.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ct::node {

inline constexpr unsigned kRingPadding = 29, kRingTimeExtend = 30, kRingTimeStamp = 31;
inline constexpr int kRingTsShift = 27;
inline constexpr std::uint64_t kRingTsMsb = 0xf8ULL << 56;  // an absolute time stamp lacks these bits

// One record where read_ring_record() found it.
struct RingRecord {
    unsigned type_len = 0;
    std::uint32_t delta = 0;      // the header's time_delta
    std::uint32_t word = 0;       // the 32-bit word after the header (0 when there is none)
    std::size_t size = 0;         // bytes of the whole record, header included
    const char* body = nullptr;   // data records (type_len 0-28): the event's bytes
    std::size_t length = 0;       // and how many
    bool data() const { return type_len <= 28; }
};

// Parses the record at `pos`, which is before `end`. False when there is none: fewer than 4 bytes
// left, the page's closing padding (time_delta 0), or a record running past `end`.
bool read_ring_record(const char* pos, const char* end, RingRecord& r);

// Reads an unsigned little-endian integer of 1, 2, 4 or 8 bytes (0 for another size).
std::uint64_t read_unsigned(const char* p, int size);

class PageReader {
public:
    // `commit_bytes`: 8 (long) on 64-bit kernels, 4 on 32-bit ones.
    PageReader(const char* page, std::size_t size, int commit_bytes);

    // The next data record: its body and timestamp. False at the end of the page.
    bool next(const char*& body, std::size_t& length, std::uint64_t& ts);
    // Events the kernel reports lost before this page: -1 when it does not know how many.
    long long missed() const { return missed_; }
    // Where the records start and end (after the header, up to the committed bytes).
    const char* data() const { return data_; }
    const char* end() const { return end_; }
    std::uint64_t page_timestamp() const { return page_ts_; }

private:
    bool stop() {
        pos_ = end_;
        return false;
    }
    const char* data_ = nullptr;
    const char* end_ = nullptr;
    const char* pos_ = nullptr;
    std::uint64_t ts_ = 0, page_ts_ = 0;
    long long missed_ = 0;
};

// The timestamp after a non-data record (time extension or stamp) or a discarded one, from the
// one before it.
std::uint64_t ring_time_after(const RingRecord& r, std::uint64_t ts);

}  // namespace ct::node
