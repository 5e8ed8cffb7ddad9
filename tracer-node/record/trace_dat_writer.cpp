#include "tracer-node/record/trace_dat_writer.h"

#include <map>

#include <fmt/format.h>

namespace ct::node::record {

namespace {

// Section and option ids of the v7 format (man 5 trace-cmd.dat.v7).
enum : std::uint16_t {
    kOptDone = 0,
    kOptBuffer = 3,
    kOptTraceClock = 4,
    kOptUname = 5,
    kOptCpuCount = 8,
    kOptVersion = 9,
    kSecHeaderInfo = 16,
    kSecFtraceEvents = 17,
    kSecEventFormats = 18,
    kSecCmdlines = 21,
};
constexpr std::uint16_t kFlagCompressed = 1;
constexpr std::uint32_t kNoDescription = 0xffffffff;
constexpr std::size_t kSectionHeaderSize = 16;  // id, flags, description, size

// Little-endian appends: the file says it is little endian (this writer's only flavour; the
// pages themselves are the x86/arm64 kernel's own, little endian).
void put16(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>(v >> 8);
}
void put32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_cstr(std::string& out, std::string_view s) {
    out += s;
    out += '\0';
}

// A section: its header (with its size) and body.
std::string section(std::uint16_t id, std::uint16_t flags, const std::string& body) {
    std::string out;
    put16(out, id);
    put16(out, flags);
    put32(out, kNoDescription);
    put64(out, body.size());
    out += body;
    return out;
}

void option(std::string& out, std::uint16_t id, const std::string& data) {
    put16(out, id);
    put32(out, static_cast<std::uint32_t>(data.size()));
    out += data;
}

std::string u64_bytes(std::uint64_t v) {
    std::string s;
    put64(s, v);
    return s;
}

std::string cstr_bytes(std::string_view v) {
    std::string s;
    put_cstr(s, v);
    return s;
}

std::uint64_t align_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

Result<std::vector<DatPiece>> plan_trace_dat(const DatInput& in) {
    if (in.page_size < 4096 || (in.page_size & (in.page_size - 1)))
        return fail(Errc::kInvalidArgument, fmt::format("page size {} is not a power of two of at least 4096", in.page_size));
    if (in.long_size != 4 && in.long_size != 8)
        return fail(Errc::kInvalidArgument, fmt::format("long size {} is neither 4 nor 8", in.long_size));
    for (const auto& f : in.formats)
        if (f.text.size() > UINT32_MAX || f.system.empty() || f.system.find('\0') != std::string::npos)
            return fail(Errc::kInvalidArgument, fmt::format("format of {}/{} cannot be stored", f.system, f.name));

    // Metadata sections, uncompressed (small next to the data; readable with any reader).
    std::string header_info;
    put_cstr(header_info, "header_page");
    put64(header_info, in.header_page.size());
    header_info += in.header_page;
    put_cstr(header_info, "header_event");
    put64(header_info, in.header_event.size());
    header_info += in.header_event;

    std::string ftrace_events;
    std::map<std::string, std::vector<const EventFormat*>> systems;
    std::uint32_t ftrace_count = 0;
    std::string ftrace_body;
    for (const auto& f : in.formats) {
        if (f.system == "ftrace") {
            put64(ftrace_body, f.text.size());
            ftrace_body += f.text;
            ++ftrace_count;
        } else {
            systems[f.system].push_back(&f);
        }
    }
    put32(ftrace_events, ftrace_count);
    ftrace_events += ftrace_body;

    std::string event_formats;
    put32(event_formats, static_cast<std::uint32_t>(systems.size()));
    for (const auto& [system, formats] : systems) {
        put_cstr(event_formats, system);
        put32(event_formats, static_cast<std::uint32_t>(formats.size()));
        for (const auto* f : formats) {
            put64(event_formats, f->text.size());
            event_formats += f->text;
        }
    }

    std::string cmdlines;
    put64(cmdlines, in.cmdlines.size());
    cmdlines += in.cmdlines;

    std::string head;
    head += "\x17\x08\x44";
    head += "tracing";
    put_cstr(head, "7");
    head += '\0';  // little endian
    head += static_cast<char>(in.long_size);
    put32(head, in.page_size);
    put_cstr(head, "zstd");
    put_cstr(head, in.compression_version);
    const std::size_t options_offset_at = head.size();
    put64(head, 0);  // the OPTIONS section's offset, set below

    std::vector<std::pair<std::uint16_t, std::uint64_t>> section_offsets;
    for (auto [id, body] : {std::pair{kSecHeaderInfo, &header_info}, {kSecFtraceEvents, &ftrace_events},
                            {kSecEventFormats, &event_formats}, {kSecCmdlines, &cmdlines}}) {
        section_offsets.emplace_back(id, head.size());
        head += section(id, 0, *body);
    }

    // Every size is known now: the OPTIONS section's own, hence where the data goes.
    const auto cpus = static_cast<std::uint32_t>(in.cpus.size());
    std::string options;
    for (auto [id, offset] : section_offsets) option(options, id, u64_bytes(offset));
    std::string cpu_count;
    put32(cpu_count, cpus);
    option(options, kOptCpuCount, cpu_count);
    option(options, kOptTraceClock, cstr_bytes("[" + in.trace_clock + "]"));
    if (!in.uname.empty()) option(options, kOptUname, cstr_bytes(in.uname));
    if (!in.version.empty()) option(options, kOptVersion, cstr_bytes(in.version));
    const std::size_t buffer_option_size = 8 + 1 + in.trace_clock.size() + 1 + 4 + 4 + std::size_t{cpus} * 20;
    const std::uint64_t options_offset = head.size();
    const std::uint64_t buffer_offset =
        options_offset + kSectionHeaderSize + options.size() + 6 + buffer_option_size + 6 + 8;

    // The data: after the BUFFER section's header, each CPU's chunks from a page boundary.
    struct CpuPlace {
        std::uint64_t offset = 0, size = 0;
    };
    std::vector<CpuPlace> places(cpus);
    std::uint64_t at = buffer_offset + kSectionHeaderSize;
    for (std::uint32_t c = 0; c < cpus; ++c) {
        at = align_up(at, in.page_size);
        places[c].offset = at;
        if (in.cpus[c].empty()) continue;
        std::uint64_t size = 4;
        for (const auto& chunk : in.cpus[c]) {
            if (chunk.usize == 0 || chunk.usize % in.page_size != 0 || chunk.zsize == 0)
                return fail(Errc::kInvalidArgument, fmt::format("a chunk of CPU {} is not whole pages ({} bytes)", c,
                                                                chunk.usize));
            size += 8 + chunk.zsize;
        }
        places[c].size = size;
        at += size;
    }
    const std::uint64_t end = at;

    std::string buffer;
    put64(buffer, buffer_offset);
    put_cstr(buffer, "");  // the top instance: what trace-cmd reads by default
    put_cstr(buffer, in.trace_clock);
    put32(buffer, in.page_size);
    put32(buffer, cpus);
    for (std::uint32_t c = 0; c < cpus; ++c) {
        put32(buffer, c);
        put64(buffer, places[c].offset);
        put64(buffer, places[c].size);
    }
    option(options, kOptBuffer, buffer);
    option(options, kOptDone, u64_bytes(0));
    head += section(kOptDone, 0, options);
    if (head.size() != buffer_offset)
        return fail(Errc::kInternal, fmt::format("trace.dat layout: options end at {}, not {}", head.size(), buffer_offset));
    for (int i = 0; i < 8; ++i) head[options_offset_at + i] = static_cast<char>((options_offset >> (8 * i)) & 0xff);

    put16(head, kOptBuffer);
    put16(head, kFlagCompressed);
    put32(head, kNoDescription);
    put64(head, end - buffer_offset - kSectionHeaderSize);

    std::vector<DatPiece> pieces;
    pieces.push_back({std::move(head)});
    std::uint64_t written = buffer_offset + kSectionHeaderSize;
    for (std::uint32_t c = 0; c < cpus; ++c) {
        std::string lead(places[c].offset - written, '\0');
        written = places[c].offset;
        if (!in.cpus[c].empty()) {
            put32(lead, static_cast<std::uint32_t>(in.cpus[c].size()));
            written += 4;
        }
        pieces.push_back({std::move(lead)});
        for (std::size_t k = 0; k < in.cpus[c].size(); ++k) {
            std::string sizes;
            put32(sizes, in.cpus[c][k].zsize);
            put32(sizes, in.cpus[c][k].usize);
            pieces.push_back({std::move(sizes)});
            pieces.push_back({{}, static_cast<int>(c), k});
            written += 8 + in.cpus[c][k].zsize;
        }
    }
    return pieces;
}

}  // namespace ct::node::record
