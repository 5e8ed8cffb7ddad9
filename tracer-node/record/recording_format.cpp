#include "tracer-node/record/recording_format.h"

#include <cstring>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/strings.h"

namespace ct::node::record {

namespace json = boost::json;

namespace {

constexpr std::string_view kMetaWhat = "run metadata";

Result<json::object> parse_object(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return fail(Errc::kInvalidArgument, fmt::format("{} is not JSON: {}", what, ec.message()));
    if (!v.is_object()) return fail(Errc::kInvalidArgument, fmt::format("{} is not a JSON object", what));
    return std::move(v.as_object());
}

Result<std::string> get_string(const json::object& o, std::string_view key, std::string_view what) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_string())
        return fail(Errc::kInvalidArgument, fmt::format("{}: \"{}\" must be a string", what, key));
    return std::string(v->as_string());
}

Result<std::int64_t> get_int(const json::object& o, std::string_view key, std::string_view what) {
    auto* v = o.if_contains(key);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->as_uint64());
    return fail(Errc::kInvalidArgument, fmt::format("{}: \"{}\" must be an integer", what, key));
}

Result<std::uint32_t> get_u32(const json::object& o, std::string_view key, std::string_view what) {
    auto v = get_int(o, key, what);
    if (!v) return std::unexpected(v.error());
    if (*v < 0 || *v > UINT32_MAX)
        return fail(Errc::kInvalidArgument, fmt::format("{}: \"{}\" is out of range: {}", what, key, *v));
    return static_cast<std::uint32_t>(*v);
}

void put_u32(std::string& out, std::uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    out.append(b, 4);
}

std::uint32_t get_u32_le(const char* p) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

// "<prefix><digits>" with exactly `digits` decimal digits -> the number.
std::optional<std::uint64_t> parse_numbered(std::string_view name, std::string_view prefix, std::string_view suffix,
                                            std::size_t digits) {
    if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
    auto number = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (number.size() < digits) return std::nullopt;  // zero-padded; longer once past the padding
    return parse_u64(number);
}

}  // namespace

std::string encode_meta(const RunMeta& m) {
    json::array formats;
    for (const auto& f : m.formats) formats.push_back(json::object{{"system", f.system}, {"name", f.name}, {"format", f.text}});
    json::object o{{"version", 1},
                   {"run", m.run},
                   {"node", m.node},
                   {"session", m.session_id},
                   {"hook", m.hook},
                   {"instance", m.instance},
                   {"header_page", m.header_page},
                   {"header_event", m.header_event},
                   {"formats", std::move(formats)},
                   {"page_size", m.page_size},
                   {"cpus", m.cpus},
                   {"trace_clock", m.trace_clock},
                   {"started_unix_ns", m.started_unix_ns},
                   {"uname", m.uname}};
    o["realtime_offset_ns"] = m.realtime_offset_ns ? json::value(*m.realtime_offset_ns) : json::value(nullptr);
    return json::serialize(o);
}

Result<RunMeta> decode_meta(std::string_view text) {
    auto o = parse_object(text, kMetaWhat);
    if (!o) return std::unexpected(o.error());
    auto version = get_int(*o, "version", kMetaWhat);
    if (!version) return std::unexpected(version.error());
    if (*version != 1) return fail(Errc::kInvalidArgument, fmt::format("{}: unknown version {}", kMetaWhat, *version));
    RunMeta m;
    auto run = get_int(*o, "run", kMetaWhat);
    if (!run) return std::unexpected(run.error());
    if (*run <= 0) return fail(Errc::kInvalidArgument, fmt::format("{}: run number {} is not positive", kMetaWhat, *run));
    m.run = static_cast<std::uint64_t>(*run);
    for (auto [key, field] : {std::pair{"node", &m.node}, {"session", &m.session_id}, {"hook", &m.hook},
                              {"instance", &m.instance}, {"header_page", &m.header_page},
                              {"header_event", &m.header_event}, {"trace_clock", &m.trace_clock}, {"uname", &m.uname}}) {
        auto s = get_string(*o, key, kMetaWhat);
        if (!s) return std::unexpected(s.error());
        *field = std::move(*s);
    }
    auto page_size = get_u32(*o, "page_size", kMetaWhat);
    if (!page_size) return std::unexpected(page_size.error());
    // A sub-buffer is at least a page of 4 KiB and at most the kernel's 1 MiB (buffer_subbuf_size_kb).
    if (*page_size < 4096 || *page_size > (1u << 20) || (*page_size & (*page_size - 1)))
        return fail(Errc::kInvalidArgument, fmt::format("{}: page_size {} is not a power of two in 4 KiB..1 MiB",
                                                        kMetaWhat, *page_size));
    m.page_size = *page_size;
    auto cpus = get_u32(*o, "cpus", kMetaWhat);
    if (!cpus) return std::unexpected(cpus.error());
    if (*cpus == 0 || *cpus > 65536)
        return fail(Errc::kInvalidArgument, fmt::format("{}: cpus {} is out of range", kMetaWhat, *cpus));
    m.cpus = *cpus;
    auto started = get_int(*o, "started_unix_ns", kMetaWhat);
    if (!started) return std::unexpected(started.error());
    m.started_unix_ns = *started;
    if (auto* off = o->if_contains("realtime_offset_ns"); off && !off->is_null()) {
        auto v = get_int(*o, "realtime_offset_ns", kMetaWhat);
        if (!v) return std::unexpected(v.error());
        m.realtime_offset_ns = *v;
    }
    auto* formats = o->if_contains("formats");
    if (!formats || !formats->is_array())
        return fail(Errc::kInvalidArgument, fmt::format("{}: \"formats\" must be an array", kMetaWhat));
    for (const auto& f : formats->as_array()) {
        if (!f.is_object()) return fail(Errc::kInvalidArgument, fmt::format("{}: a format is not an object", kMetaWhat));
        EventFormat ef;
        for (auto [key, field] : {std::pair{"system", &ef.system}, {"name", &ef.name}, {"format", &ef.text}}) {
            auto s = get_string(f.as_object(), key, kMetaWhat);
            if (!s) return std::unexpected(s.error());
            *field = std::move(*s);
        }
        m.formats.push_back(std::move(ef));
    }
    return m;
}

std::string encode_task(const TaskInfo& t) {
    json::object o{{"tid", t.tid}, {"tgid", t.tgid}, {"comm", t.comm}};
    if (t.owner) {
        o["pod"] = t.owner->pod;
        o["namespace"] = t.owner->pod_namespace;
        o["container"] = t.owner->container;
        o["container_id"] = t.owner->container_id;
    }
    return json::serialize(o);
}

Result<TaskInfo> decode_task(std::string_view line) {
    constexpr std::string_view what = "task line";
    auto o = parse_object(line, what);
    if (!o) return std::unexpected(o.error());
    TaskInfo t;
    auto tid = get_int(*o, "tid", what);
    if (!tid) return std::unexpected(tid.error());
    auto tgid = get_int(*o, "tgid", what);
    if (!tgid) return std::unexpected(tgid.error());
    if (*tid < 0 || *tid > INT32_MAX || *tgid < 0 || *tgid > INT32_MAX)
        return fail(Errc::kInvalidArgument, fmt::format("{}: tid {} or tgid {} out of range", what, *tid, *tgid));
    t.tid = static_cast<pid_t>(*tid);
    t.tgid = static_cast<pid_t>(*tgid);
    auto comm = get_string(*o, "comm", what);
    if (!comm) return std::unexpected(comm.error());
    t.comm = std::move(*comm);
    if (o->contains("pod")) {
        EventOwner owner;
        for (auto [key, field] : {std::pair{"pod", &owner.pod}, {"namespace", &owner.pod_namespace},
                                  {"container", &owner.container}, {"container_id", &owner.container_id}}) {
            auto s = get_string(*o, key, what);
            if (!s) return std::unexpected(s.error());
            *field = std::move(*s);
        }
        t.owner = std::move(owner);
    }
    return t;
}

std::string encode_chunk_header(const ChunkHeader& h) {
    std::string out;
    out.reserve(kChunkHeaderSize);
    for (std::uint32_t v : {kChunkMagic, h.cpu, h.pages, h.events, h.usize, h.zsize}) put_u32(out, v);
    return out;
}

Result<ChunkHeader> decode_chunk_header(std::string_view bytes, std::uint32_t page_size, std::uint32_t cpus) {
    if (bytes.size() < kChunkHeaderSize)
        return fail(Errc::kInvalidArgument, fmt::format("chunk header cut short ({} of {} bytes)", bytes.size(),
                                                        kChunkHeaderSize));
    const char* p = bytes.data();
    if (get_u32_le(p) != kChunkMagic)
        return fail(Errc::kInvalidArgument, fmt::format("no chunk here (magic 0x{:08x})", get_u32_le(p)));
    ChunkHeader h{get_u32_le(p + 4), get_u32_le(p + 8), get_u32_le(p + 12), get_u32_le(p + 16), get_u32_le(p + 20)};
    if (h.cpu >= cpus) return fail(Errc::kInvalidArgument, fmt::format("chunk of CPU {}, but the run has {} CPUs", h.cpu, cpus));
    if (h.pages == 0 || static_cast<std::uint64_t>(h.pages) * page_size != h.usize)
        return fail(Errc::kInvalidArgument,
                    fmt::format("chunk of {} pages holds {} bytes, not pages x {}", h.pages, h.usize, page_size));
    if (h.zsize == 0 || h.zsize > kMaxChunkBytes)
        return fail(Errc::kInvalidArgument, fmt::format("chunk size {} is out of range", h.zsize));
    return h;
}

std::string run_dir_name(std::uint64_t run) { return fmt::format("run-{:06}", run); }
std::string segment_name(std::uint64_t seq) { return fmt::format("seg-{:08}.ctrec", seq); }
std::optional<std::uint64_t> parse_run_dir_name(std::string_view name) { return parse_numbered(name, "run-", "", 6); }
std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
    return parse_numbered(name, "seg-", ".ctrec", 8);
}
std::string session_dir_name(std::string_view session_id) { return fmt::format("session-{}", session_id); }
std::optional<std::string> parse_session_dir_name(std::string_view name) {
    if (!name.starts_with("session-")) return std::nullopt;
    auto id = name.substr(8);
    if (!parse_u64(id)) return std::nullopt;
    return std::string(id);
}

std::string saved_cmdlines(const std::vector<TaskInfo>& tasks) {
    std::string out;
    for (const auto& t : tasks) {
        // One line per task: a name with a newline would end the line early.
        std::string comm = t.comm;
        for (char& c : comm)
            if (c == '\n' || c == '\r') c = ' ';
        out += fmt::format("{} {}\n", t.tid, comm);
    }
    return out;
}

}  // namespace ct::node::record
