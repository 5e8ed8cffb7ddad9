#include "tracer-node/record/zstd_codec.h"

#include <zstd.h>

#include <fmt/format.h>

namespace ct::node::record {

ZstdCompressor::ZstdCompressor(int level) : ctx_(ZSTD_createCCtx()) {
    if (!ctx_) return;
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 1);
}

ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(ctx_); }

Status ZstdCompressor::compress(std::string_view in, std::string& out) {
    if (!ctx_) return fail(Errc::kInternal, "zstd: cannot allocate a compression context");
    out.resize(ZSTD_compressBound(in.size()));
    std::size_t n = ZSTD_compress2(ctx_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) return fail(Errc::kInternal, fmt::format("zstd compression: {}", ZSTD_getErrorName(n)));
    out.resize(n);
    return {};
}

ZstdDecompressor::ZstdDecompressor() : ctx_(ZSTD_createDCtx()) {}

ZstdDecompressor::~ZstdDecompressor() { ZSTD_freeDCtx(ctx_); }

Status ZstdDecompressor::decompress(std::string_view frame, std::size_t size, std::string& out) {
    if (!ctx_) return fail(Errc::kInternal, "zstd: cannot allocate a decompression context");
    out.resize(size);
    std::size_t n = ZSTD_decompressDCtx(ctx_, out.data(), out.size(), frame.data(), frame.size());
    if (ZSTD_isError(n)) return fail(Errc::kInvalidArgument, fmt::format("damaged chunk: {}", ZSTD_getErrorName(n)));
    if (n != size) return fail(Errc::kInvalidArgument, fmt::format("chunk holds {} bytes, not {}", n, size));
    return {};
}

void append_skippable_frame(std::string& out, std::size_t bytes) {
    if (bytes < 8) return;
    const std::uint32_t magic = ZSTD_MAGIC_SKIPPABLE_START, size = static_cast<std::uint32_t>(bytes - 8);
    out.append(reinterpret_cast<const char*>(&magic), 4);
    out.append(reinterpret_cast<const char*>(&size), 4);
    out.append(bytes - 8, '\0');
}

std::string zstd_version() { return ZSTD_versionString(); }

}  // namespace ct::node::record
