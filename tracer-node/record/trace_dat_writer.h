// trace_dat_writer: lays out a trace-cmd data file, version 7 (man 5 trace-cmd.dat.v7), from
// ring-buffer pages already compressed in zstd chunks (recording_format.h: a chunk is one CPU's
// consecutive pages, each padded to the page size, as one frame). Pure: metadata and chunk sizes
// in, the file as a list of pieces out — literal bytes, and places where the caller copies a
// chunk's frame — so a file of any size streams without being built in memory, and any source
// of chunks (a session's recording, a flight recorder's dump) can use it.
//
// The file: initial header (compression "zstd"), the HEADER_INFO, FTRACE_EVENTS, EVENT_FORMATS
// and CMDLINES sections (uncompressed), one OPTIONS section (their offsets, CPUCOUNT,
// TRACECLOCK, UNAME, VERSION, and the BUFFER option of the top instance with each CPU's offset
// and size), then the BUFFER FLYRECORD section: per CPU, page-aligned, the chunk count and the
// chunks. No kallsyms or printk formats: syscall and sched events need neither.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "tracer-node/capture/raw_decode.h"

namespace ct::node::record {

struct DatChunk {
    std::uint32_t usize = 0;  // uncompressed: a whole number of pages
    std::uint32_t zsize = 0;  // bytes of its zstd frame
};

struct DatInput {
    std::uint32_t page_size = 4096;  // of the ring buffer's sub-buffers
    std::uint8_t long_size = 8;      // the kernel's long (header_page's commit field)
    std::string compression_version; // the zstd library's
    std::string header_page;         // events/header_page
    std::string header_event;        // events/header_event
    std::vector<EventFormat> formats;  // "ftrace" system ones go to FTRACE_EVENTS, the others by system
    std::string cmdlines;            // "<pid> <comm>\n" lines
    std::string trace_clock = "local";
    std::string uname;
    std::string version;             // of the writing program
    std::vector<std::vector<DatChunk>> cpus;  // index = CPU id, in page order
};

// One piece of the file: `bytes` as they are, or, when `cpu` >= 0, the frame of
// DatInput::cpus[cpu][chunk] (its zsize bytes).
struct DatPiece {
    std::string bytes;
    int cpu = -1;
    std::size_t chunk = 0;
};

// The whole file in order. kInvalidArgument naming the problem when the input cannot be written
// (page size not a power of two, a chunk not whole pages, a format of more than 4 GiB ...).
Result<std::vector<DatPiece>> plan_trace_dat(const DatInput& input);

}  // namespace ct::node::record
