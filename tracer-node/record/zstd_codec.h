// zstd_codec: one-frame zstd compression and decompression of recorded chunks, the codec trace-cmd
// v7 files name "zstd" (recording_format.h). Pure: bytes in, bytes out. One object per thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace ct::node::record {

class ZstdCompressor {
public:
    explicit ZstdCompressor(int level);
    ~ZstdCompressor();
    ZstdCompressor(const ZstdCompressor&) = delete;
    ZstdCompressor& operator=(const ZstdCompressor&) = delete;
    // Replaces `out` with one frame holding `in` (with a content checksum, so a damaged frame
    // fails to decompress instead of yielding wrong pages). kInternal when zstd fails.
    Status compress(std::string_view in, std::string& out);

private:
    ZSTD_CCtx_s* ctx_;
};

class ZstdDecompressor {
public:
    ZstdDecompressor();
    ~ZstdDecompressor();
    ZstdDecompressor(const ZstdDecompressor&) = delete;
    ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;
    // Decompresses one frame into `out`, which must come out exactly `size` bytes.
    // kInvalidArgument naming the problem when the frame is damaged or of another size.
    Status decompress(std::string_view frame, std::size_t size, std::string& out);

private:
    ZSTD_DCtx_s* ctx_;
};

// Appends a skippable frame of exactly `bytes` bytes (8 at least: its magic and size), which every
// zstd decoder passes over: a rewritten chunk keeps the size a file already announced.
void append_skippable_frame(std::string& out, std::size_t bytes);

// The library's version text ("1.5.4"), as trace-cmd files record it.
std::string zstd_version();

}  // namespace ct::node::record
