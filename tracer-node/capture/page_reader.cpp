#include "tracer-node/capture/page_reader.h"

#include <algorithm>
#include <cstring>

namespace ct::node {

std::uint64_t read_unsigned(const char* p, int size) {
    switch (size) {
        case 1: return static_cast<std::uint8_t>(*p);
        case 2: { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
        case 4: { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
        case 8: { std::uint64_t v; std::memcpy(&v, p, 8); return v; }
        default: return 0;
    }
}

bool read_ring_record(const char* pos, const char* end, RingRecord& r) {
    if (end - pos < 4) return false;
    std::uint32_t header;
    std::memcpy(&header, pos, 4);
    r.type_len = header & 31;
    r.delta = header >> 5;
    const char* rest = pos + 4;
    const std::size_t left = static_cast<std::size_t>(end - rest);
    r.word = 0;
    if (left >= 4) std::memcpy(&r.word, rest, 4);
    r.body = nullptr;
    r.length = 0;
    switch (r.type_len) {
        case kRingPadding:
            // A discarded event: its first data word holds its length (that word included), the
            // bytes after the header. Time delta 0: the rest of the page is padding.
            if (r.delta == 0 || left < 4 || r.word > left || r.word < 4) return false;
            r.size = 4 + r.word;
            return true;
        case kRingTimeExtend:
        case kRingTimeStamp:
            if (left < 4) return false;
            r.size = 8;
            return true;
        case 0: {
            // The length word counts itself; data is padded to whole words.
            if (left < 4 || r.word < 4) return false;
            const std::size_t padded = (std::size_t{r.word} - 4 + 3) & ~std::size_t{3};
            r.body = rest + 4;
            r.length = std::min<std::size_t>(r.word - 4, left - 4);
            r.size = 8 + std::min(padded, left - 4);
            return true;
        }
        default:
            r.body = rest;
            r.length = std::min<std::size_t>(std::size_t{r.type_len} * 4, left);
            r.size = 4 + r.length;
            return true;
    }
}

std::uint64_t ring_time_after(const RingRecord& r, std::uint64_t ts) {
    switch (r.type_len) {
        case kRingTimeExtend: return ts + r.delta + (std::uint64_t{r.word} << kRingTsShift);
        case kRingTimeStamp: return ((std::uint64_t{r.word} << kRingTsShift) | r.delta) | (ts & kRingTsMsb);
        default: return ts + r.delta;
    }
}

PageReader::PageReader(const char* page, std::size_t size, int commit_bytes) {
    const std::size_t header = 8 + static_cast<std::size_t>(commit_bytes);
    if (size < header) return;
    std::memcpy(&ts_, page, 8);
    page_ts_ = ts_;
    std::uint64_t commit = read_unsigned(page + 8, commit_bytes);
    std::size_t length = commit & ((1U << 27) - 1);
    data_ = page + header;
    end_ = data_ + std::min(length, size - header);
    if (commit & (1ULL << 31)) {
        missed_ = -1;  // lost, count unknown
        if ((commit & (1ULL << 30)) && length + commit_bytes <= size - header)
            missed_ = static_cast<long long>(read_unsigned(data_ + length, commit_bytes));
    }
    pos_ = data_;
}

bool PageReader::next(const char*& body, std::size_t& length, std::uint64_t& ts) {
    RingRecord r;
    while (read_ring_record(pos_, end_, r)) {
        pos_ += r.size;
        ts_ = ring_time_after(r, ts_);
        if (!r.data()) continue;
        body = r.body;
        length = r.length;
        ts = ts_;
        return true;
    }
    return stop();
}

}  // namespace ct::node
