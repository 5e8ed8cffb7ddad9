#include "tracer-svc/merge/merge.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/syscall_stats.h"

namespace ct::svc {

namespace json = boost::json;

namespace {

constexpr size_t kMaxReasonBody = 200;

// Boost.JSON reads an out-of-range number (1e309) as infinity and would write it back as
// "Infinity", which is not JSON; no tracer-node answer has one.
bool all_finite(const json::value& v) {
    switch (v.kind()) {
        case json::kind::double_: return std::isfinite(v.get_double());
        case json::kind::array:
            for (const auto& e : v.get_array())
                if (!all_finite(e)) return false;
            return true;
        case json::kind::object:
            for (const auto& kv : v.get_object())
                if (!all_finite(kv.value())) return false;
            return true;
        default: return true;
    }
}

std::optional<json::object> parse_object(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object() || !all_finite(v)) return std::nullopt;
    return std::move(v.as_object());
}

// No node succeeded: a 4xx when some node refused (the most common refusal wins), else 502.
Merged merge_refusals(const std::vector<NodeReply>& replies, Merged merged) {
    // Only 4xx answers refuse; a 2xx whose body was unusable is already in merged.failed.
    std::vector<const NodeReply*> refusals;
    for (const auto& r : replies)
        if (r.refused()) refusals.push_back(&r);
    if (replies.empty()) {
        merged.response = http::error_response(404, "no tracer nodes are known");
        return merged;
    }
    if (refusals.empty()) {
        std::string reasons;
        for (const auto& f : merged.failed) reasons += (reasons.empty() ? "" : "; ") + f;
        merged.response = http::error_response(502, fmt::format("every tracer node failed: {}", reasons));
        return merged;
    }
    // One status for the answer: 400 (the request itself is bad) beats 404 beats the rest.
    int status = refusals.front()->status;
    for (const auto* r : refusals)
        if (r->status == 400 || (r->status == 404 && status != 400)) status = r->status;
    bool same = true;
    for (const auto* r : refusals) same = same && reply_reason(*r) == reply_reason(*refusals.front());
    std::string message;
    if (same && merged.failed.empty()) {
        message = reply_reason(*refusals.front());
    } else {
        for (const auto* r : refusals)
            message += fmt::format("{}{}: {}", message.empty() ? "" : "; ", r->node, reply_reason(*r));
        for (const auto& f : merged.failed) message += "; " + f;
    }
    merged.response = http::error_response(status, std::move(message));
    return merged;
}

void add_failure(Merged& merged, const NodeReply& reply, std::string reason) {
    merged.failed.push_back(fmt::format("{}: {}", reply.node, reason));
    merged.failed_nodes.push_back(reply.node);
}

}  // namespace

std::string reply_reason(const NodeReply& reply) {
    if (reply.failure) return *reply.failure;
    if (auto obj = parse_object(reply.body)) {
        if (auto* e = obj->if_contains("error"); e && e->is_string()) return std::string(e->as_string());
    }
    std::string body = reply.body.substr(0, kMaxReasonBody);
    return fmt::format("status {}{}{}", reply.status, body.empty() ? "" : ": ", body);
}

namespace {

// `key`, or when an entry already has it, `key#2`, `key#3`, ...: the last guard that no two
// entries share a key, whatever the nodes sent.
std::string unique_key(const json::object& out, std::string key) {
    if (!out.contains(key)) return key;
    for (size_t n = 2;; ++n)
        if (auto k = fmt::format("{}#{}", key, n); !out.contains(k)) return k;
}

json::string_view string_or(const json::object& o, json::string_view name, json::string_view fallback) {
    auto* v = o.if_contains(name);
    return v && v->is_string() ? json::string_view(v->get_string()) : fallback;
}

// Of the `candidates` (indexes into keys, ascending), those whose key another candidate has too,
// in the same order. One hash and compare each (an open-addressing table of positions).
std::vector<size_t> duplicated(const std::vector<std::string_view>& keys, const std::vector<size_t>& candidates) {
    constexpr uint32_t kFree = std::numeric_limits<uint32_t>::max();
    const size_t mask = std::bit_ceil(2 * candidates.size() + 1) - 1;
    std::vector<uint32_t> table(mask + 1, kFree);
    std::vector<bool> dup(candidates.size());
    bool any = false;
    for (size_t c = 0; c < candidates.size(); ++c) {
        std::string_view key = keys[candidates[c]];
        for (size_t h = std::hash<std::string_view>{}(key) & mask;; h = (h + 1) & mask) {
            if (table[h] == kFree) {
                table[h] = static_cast<uint32_t>(c);
                break;
            }
            if (keys[candidates[table[h]]] == key) {
                dup[c] = dup[table[h]] = any = true;
                break;
            }
        }
    }
    std::vector<size_t> out;
    if (!any) return out;
    for (size_t c = 0; c < candidates.size(); ++c)
        if (dup[c]) out.push_back(candidates[c]);
    return out;
}


// Reading JSON in place, for the fast path of pods (MapMerge::scan_pods): a reader of a strict
// subset of JSON that checks every byte as it goes, so a body it takes is one that
// boost::json::parse() takes too, with the same meaning. Anything outside the subset stops it and
// the body is parsed as a tree instead, by boost::json's exact rules.
namespace raw {

constexpr size_t kStop = std::string_view::npos;
// boost::json's default max_depth is 32; deeper documents go to the tree parser (which refuses them).
constexpr int kMaxDepth = 30;
// Numbers without exponents of at most this many characters are finite doubles or integers.
constexpr size_t kMaxNumber = 20;

// The subset: ASCII strings without escapes or control characters, numbers without exponents,
// true/false/null, objects and arrays, whitespace. Each member returns the index after what it
// read, or kStop.
class Reader {
    // Bytes a string of the subset holds as they are: printable ASCII but '"' and '\\'.
    static constexpr std::array<bool, 256> kPlain = [] {
        std::array<bool, 256> t{};
        for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
        return t;
    }();

public:
    explicit Reader(std::string_view s) : s_(s) {}

    size_t space(size_t i) const {
        if (i < s_.size() && s_[i] > ' ') return i;  // compact JSON has none
        while (i < s_.size() && (s_[i] == ' ' || s_[i] == '\t' || s_[i] == '\n' || s_[i] == '\r')) ++i;
        return i;
    }
    // s[i] == '"'.
    size_t string(size_t i) const {
        size_t j = i + 1;
        // Eight bytes at a time: the lowest byte that is '"', '\\', < 0x20 or >= 0x80 ends the run
        // (the "has a zero byte" trick flags the lowest such byte exactly).
        constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
        auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
        for (; j + 8 <= s_.size(); j += 8) {
            uint64_t x;
            std::memcpy(&x, s_.data() + j, 8);
            uint64_t stop = zero_byte(x ^ (kOnes * '"')) | zero_byte(x ^ (kOnes * '\\')) |
                            ((x - kOnes * 0x20) & ~x & kHigh) | (x & kHigh);
            if (stop) {
                j += static_cast<size_t>(std::countr_zero(stop)) / 8;
                break;
            }
        }
        while (j < s_.size() && kPlain[static_cast<unsigned char>(s_[j])]) ++j;
        return j < s_.size() && s_[j] == '"' ? j + 1 : kStop;
    }
    size_t value(size_t i, int depth) const {
        if (i >= s_.size()) return kStop;
        switch (s_[i]) {
            case '"': return string(i);
            case '{': return object(i, depth, [this](std::string_view, size_t v, int d) { return value(v, d); });
            case '[': return array(i, depth);
            case 't': return literal(i, "true");
            case 'f': return literal(i, "false");
            case 'n': return literal(i, "null");
            default: return number(i);
        }
    }
    // s[i] == '{': on_member(key, value_begin, depth) reads each member's value and returns the
    // index after it (or kStop).
    template <class OnMember>
    size_t object(size_t i, int depth, OnMember&& on_member) const {
        if (depth >= kMaxDepth) return kStop;
        i = space(i + 1);
        if (i < s_.size() && s_[i] == '}') return i + 1;
        for (;;) {
            if (i >= s_.size() || s_[i] != '"') return kStop;
            size_t key_end = string(i);
            if (key_end == kStop) return kStop;
            std::string_view key = s_.substr(i + 1, key_end - i - 2);
            i = space(key_end);
            if (i >= s_.size() || s_[i] != ':') return kStop;
            i = on_member(key, space(i + 1), depth + 1);
            if (i == kStop) return kStop;
            i = space(i);
            if (i >= s_.size()) return kStop;
            if (s_[i] == '}') return i + 1;
            if (s_[i] != ',') return kStop;
            i = space(i + 1);
        }
    }
    // The whole text is one object and whitespace.
    template <class OnMember>
    bool document(OnMember&& on_member) const {
        size_t i = space(0);
        if (i >= s_.size() || s_[i] != '{') return false;
        size_t end = object(i, 0, on_member);
        return end != kStop && space(end) == s_.size();
    }
    bool empty_object(size_t i) const { return s_[space(i + 1)] == '}'; }
    std::string_view text() const { return s_; }

private:
    size_t array(size_t i, int depth) const {
        if (depth >= kMaxDepth) return kStop;
        i = space(i + 1);
        if (i < s_.size() && s_[i] == ']') return i + 1;
        for (;;) {
            i = value(i, depth + 1);
            if (i == kStop) return kStop;
            i = space(i);
            if (i >= s_.size()) return kStop;
            if (s_[i] == ']') return i + 1;
            if (s_[i] != ',') return kStop;
            i = space(i + 1);
        }
    }
    size_t literal(size_t i, std::string_view word) const {
        return s_.substr(i, word.size()) == word ? i + word.size() : kStop;
    }
    size_t number(size_t i) const {
        auto digit = [&](size_t j) { return j < s_.size() && s_[j] >= '0' && s_[j] <= '9'; };
        size_t j = i;
        if (j < s_.size() && s_[j] == '-') ++j;
        if (!digit(j)) return kStop;
        if (s_[j] == '0') ++j;
        else
            while (digit(j)) ++j;
        if (j < s_.size() && s_[j] == '.') {
            if (!digit(++j)) return kStop;
            while (digit(j)) ++j;
        }
        if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) return kStop;
        return j - i <= kMaxNumber ? j : kStop;
    }

    std::string_view s_;
};

// `text`, which needs no escapes, as a JSON string.
void append_plain(std::string& out, std::string_view text) {
    out += '"';
    out += text;
    out += '"';
}

bool needs_escapes(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\'; });
}

// `text` as a JSON string.
void append_string(std::string& out, std::string_view text) {
    if (needs_escapes(text)) {
        out += json::serialize(json::string_view(text.data(), text.size()));
        return;
    }
    append_plain(out, text);
}

// True when `keys` holds a value twice: pairwise for a few, else a table of hashes.
bool has_duplicates(const std::vector<std::string_view>& keys) {
    if (keys.size() <= 8) {
        for (size_t i = 0; i < keys.size(); ++i)
            for (size_t j = i + 1; j < keys.size(); ++j)
                if (keys[i] == keys[j]) return true;
        return false;
    }
    std::vector<size_t> all(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) all[i] = i;
    return !duplicated(keys, all).empty();
}

}  // namespace raw

}  // namespace

// A pod map read in place (raw::Reader): each entry's key and value bytes, and from its
// containers what merge_pods() needs. Anything the tree would see differently is left to it:
// bodies outside the reader's subset, duplicate keys (the tree keeps the last).
bool MapMerge::scan_pods(std::string_view body, std::vector<RawPod>& pods) {
    using raw::kStop;
    const size_t first = pods.size();
    raw::Reader r(body);
    const std::string_view s = r.text();
    // One container: "Pod", "Namespace", "Node" (when strings), and whether "Node" is there.
    auto container = [&](RawPod& p, size_t begin, int depth) {
        std::string_view fields[3];
        bool present[3] = {false, false, false};
        size_t end = r.object(begin, depth, [&](std::string_view field, size_t v, int d) {
            int f = field == "Pod" ? 0 : field == "Namespace" ? 1 : field == "Node" ? 2 : -1;
            if (f < 0) return r.value(v, d);
            if (present[f]) return kStop;
            present[f] = true;
            size_t ve = r.value(v, d);
            if (ve != kStop && s[v] == '"') fields[f] = s.substr(v + 1, ve - v - 2);
            return ve;
        });
        if (end == kStop) return kStop;
        if (!present[2]) p.add_node.emplace_back(end - 1, r.empty_object(begin));
        if (std::exchange(p.first_container, false)) {
            if (fields[0].data()) p.pod = fields[0];
            p.ns = fields[1];
            p.node = fields[2];
        }
        return end;
    };
    std::vector<std::string_view> names;  // of one pod's containers, then of the pods
    auto containers = [&](RawPod& p, size_t begin, int depth) {
        names.clear();
        size_t end = r.object(begin, depth, [&](std::string_view name, size_t v, int d) {
            names.push_back(name);
            return v < s.size() && s[v] == '{' ? container(p, v, d) : r.value(v, d);
        });
        return end == kStop || raw::has_duplicates(names) ? kStop : end;
    };
    bool ok = r.document([&](std::string_view key, size_t begin, int depth) {
        RawPod p{.key = key, .begin = begin, .pod = key};
        if (begin < s.size() && s[begin] == '{') {
            bool seen = false;
            p.end = r.object(begin, depth, [&](std::string_view name, size_t v, int d) {
                if (name != "Containers") return r.value(v, d);
                if (std::exchange(seen, true)) return kStop;
                return v < s.size() && s[v] == '{' ? containers(p, v, d) : r.value(v, d);
            });
        } else {
            p.end = r.value(begin, depth);
        }
        if (p.end == kStop) return kStop;
        pods.push_back(std::move(p));
        return pods.back().end;
    });
    if (!ok) return false;
    names.clear();
    for (size_t k = first; k < pods.size(); ++k) names.push_back(pods[k].key);
    return !raw::has_duplicates(names);
}

MapMerge::MapMerge(MergeKind kind, size_t nodes, bool in_place)
    : kind_(kind), in_place_(in_place), parser_(json::storage_ptr(), json::parse_options{}), slots_(nodes) {}

void MapMerge::add(size_t index, NodeReply reply) {
    auto& slot = slots_.at(index);
    slot.added = true;
    slot.reply = std::move(reply);
    if (slot.reply.ok()) parse(slot);
}

// Pods are read in place (scan_pods) when they can be; the rest is parsed into a tree.
void MapMerge::parse(Slot& slot) {
    std::string& body = slot.reply.body;
    if (kind_ == MergeKind::kPods && in_place_) {
        slot.first_pod = pods_.size();
        if (scan_pods(body, pods_)) {
            slot.pods = pods_.size() - slot.first_pod;
            slot.usable = true;
            // Nodes tend to run alike numbers of pods: room for all after the first.
            if (slot.first_pod == 0) pods_.reserve(slots_.size() * (slot.pods + 1));
            return;
        }
        pods_.resize(slot.first_pod);
    }
    boost::system::error_code ec;
    parser_.reset(json::storage_ptr(&arena_));
    parser_.write(body, ec);
    if (ec) return;
    json::value v = parser_.release();
    if (!v.is_object() || !all_finite(v)) return;
    slot.usable = true;
    slot.map.emplace(std::move(v.get_object()));
    std::string().swap(body);  // parsed: the text is not needed any more
}

// Every pod entry of every node, keyed so that none is merged with another (docs/tracer-svc.md):
// the pod name when it is unique, else <namespace>/<pod> (no namespace: <pod>), and when several
// entries still share that (same namespace or none, on different nodes) ...@<node name>, or
// ...@<host:port> should two nodes give the same name. Every container gets "Node" (the node's
// own name; tracer-svc's address for it when the node did not say). Written straight from the
// nodes' bodies: values read in place are copied as they are, with "Node" put in where missing.
std::string MapMerge::merge_pods() {
    struct Entry {
        size_t slot;
        const RawPod* raw = nullptr;      // read in place, or
        json::value* value = nullptr;     // parsed
        std::string_view pod, ns, node_name;
        bool plain = false;               // every piece of its key needs no escapes
    };
    std::vector<Entry> entries;
    size_t bytes = 2;
    for (size_t i = 0; i < slots_.size(); ++i) {
        auto& slot = slots_[i];
        const std::string& node = slot.reply.node;
        const bool plain_node = !raw::needs_escapes(node);  // read-in-place strings need none
        for (size_t k = slot.first_pod; k < slot.first_pod + slot.pods; ++k) {
            const auto& p = pods_[k];
            entries.push_back({i, &p, nullptr, p.pod, p.ns, p.node.data() ? p.node : std::string_view(node), plain_node});
        }
        bytes += slot.reply.body.size() + slot.pods * (node.size() + 16);
        if (!slot.map) continue;
        for (auto& [key, value] : *slot.map) {
            Entry e{i, nullptr, &value, key, "", node};
            auto* containers = value.is_object() ? value.get_object().if_contains("Containers") : nullptr;
            if (containers && containers->is_object()) {
                bool first = true;
                for (auto& [name, c] : containers->get_object()) {
                    if (!c.is_object()) continue;
                    auto& co = c.get_object();
                    if (!co.contains("Node")) co.emplace("Node", node);
                    if (!first) continue;
                    first = false;
                    e.pod = string_or(co, "Pod", key);
                    e.ns = string_or(co, "Namespace", "");
                    e.node_name = string_or(co, "Node", node);
                }
            }
            entries.push_back(e);
        }
    }
    // Keys are views of the pod names; one that has to be qualified gets a string of its own.
    std::vector<std::string_view> keys(entries.size());
    std::vector<std::string> owned(entries.size());
    std::vector<size_t> all(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) keys[i] = entries[i].pod, all[i] = i;
    auto dups = duplicated(keys, all);
    if (!dups.empty()) {
        for (size_t i : dups)
            if (!entries[i].ns.empty()) keys[i] = owned[i] = fmt::format("{}/{}", entries[i].ns, entries[i].pod);
        dups = duplicated(keys, dups);
        for (size_t i : dups) keys[i] = owned[i] = fmt::format("{}@{}", keys[i], entries[i].node_name);
        // Two nodes with one name: their address instead.
        dups = duplicated(keys, dups);
        for (size_t i : dups) {
            owned[i].resize(owned[i].size() - entries[i].node_name.size());
            keys[i] = owned[i] += slots_[entries[i].slot].reply.node;
        }
        // Last guard, whatever the nodes sent: a key met again becomes key#2, key#3, ...
        if (!duplicated(keys, all).empty()) {
            std::unordered_set<std::string> used;
            for (size_t i = 0; i < entries.size(); ++i) {
                std::string key(keys[i]);
                for (size_t n = 2; used.contains(key); ++n) key = fmt::format("{}#{}", keys[i], n);
                keys[i] = owned[i] = key;
                used.insert(std::move(key));
            }
        }
    }
    std::string out;
    out.reserve(bytes);
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if (i > 0) out += ',';
        if (e.plain) raw::append_plain(out, keys[i]);
        else raw::append_string(out, keys[i]);
        out += ':';
        if (e.value) {
            out += json::serialize(*e.value);
            continue;
        }
        const std::string& body = slots_[e.slot].reply.body;
        size_t at = e.raw->begin;
        for (const auto& [brace, empty] : e.raw->add_node) {
            out.append(body, at, brace - at);
            out += empty ? "\"Node\":" : ",\"Node\":";
            if (e.plain) raw::append_plain(out, slots_[e.slot].reply.node);
            else raw::append_string(out, slots_[e.slot].reply.node);
            at = brace;
        }
        out.append(body, at, e.raw->end - at);
    }
    out += '}';
    return out;
}

// Directories and their hooks unioned (docs/tracer-svc.md). A hook that nodes describe
// differently keeps the entry most nodes ship, plus "Variants": every distinct entry (without its
// "Name") with the "Nodes" that ship it, the most shipped first. Entries that cannot be merged
// (a directory that is not {"Tracers": {...}}, a hook that is not an object) are kept whole: the
// first under its key, each different one under <key>@<node address>.
json::value MapMerge::merge_hooks() {
    struct Variant {
        const json::value* value;
        std::vector<size_t> slots;
    };
    // Distinct values in order of first appearance, each with the nodes that sent it.
    using Variants = std::vector<Variant>;
    auto add_variant = [](Variants& vs, const json::value& v, size_t slot) {
        for (auto& known : vs)
            if (*known.value == v) return known.slots.push_back(slot);
        vs.push_back({&v, {slot}});
    };
    struct Dir {
        std::string name;
        std::vector<std::pair<std::string, Variants>> hooks;  // in order of first appearance
        std::unordered_map<std::string, size_t> hook_index;
        Variants odd;  // directory values that are not {"Tracers": {...}}
        bool tracers = false;
    };
    std::vector<Dir> dirs;
    std::unordered_map<std::string, size_t> dir_index;
    for (size_t i = 0; i < slots_.size(); ++i) {
        if (!slots_[i].map) continue;
        for (const auto& [key, value] : *slots_[i].map) {
            auto [it, fresh] = dir_index.try_emplace(std::string(key), dirs.size());
            if (fresh) dirs.push_back({std::string(key), {}, {}, {}, false});
            Dir& dir = dirs[it->second];
            const auto* o = value.if_object();
            const auto* tracers = o && o->size() == 1 ? o->if_contains("Tracers") : nullptr;
            if (!tracers || !tracers->is_object()) {
                add_variant(dir.odd, value, i);
                continue;
            }
            dir.tracers = true;
            for (const auto& [name, hook] : tracers->get_object()) {
                auto [h, new_hook] = dir.hook_index.try_emplace(std::string(name), dir.hooks.size());
                if (new_hook) dir.hooks.emplace_back(std::string(name), Variants{});
                add_variant(dir.hooks[h->second].second, hook, i);
            }
        }
    }
    json::storage_ptr sp(&arena_);
    auto at_node = [&](const std::string& key, const Variant& v) {
        return fmt::format("{}@{}", key, slots_[v.slots.front()].reply.node);
    };
    json::object out(sp);
    for (auto& dir : dirs) {
        if (dir.tracers) {
            json::object tracers(sp);
            for (auto& [name, variants] : dir.hooks) {
                bool objects = std::all_of(variants.begin(), variants.end(),
                                           [](const Variant& v) { return v.value->is_object(); });
                if (variants.size() == 1 || !objects) {
                    tracers.emplace(name, json::value(*variants.front().value, sp));
                    for (size_t k = 1; k < variants.size(); ++k)
                        tracers.emplace(unique_key(tracers, at_node(name, variants[k])), json::value(*variants[k].value, sp));
                    continue;
                }
                std::stable_sort(variants.begin(), variants.end(),
                                 [](const Variant& a, const Variant& b) { return a.slots.size() > b.slots.size(); });
                json::object entry(variants.front().value->get_object(), sp);
                json::array shown(sp);
                for (const auto& v : variants) {
                    json::object variant(v.value->get_object(), sp);
                    variant.erase("Name");
                    json::array nodes(sp);
                    for (size_t s : v.slots) nodes.emplace_back(json::string_view(slots_[s].reply.node));
                    variant.emplace("Nodes", std::move(nodes));
                    shown.emplace_back(std::move(variant));
                }
                entry.insert_or_assign("Variants", std::move(shown));
                tracers.emplace(name, std::move(entry));
            }
            json::object entry(sp);
            entry.emplace("Tracers", std::move(tracers));
            out.emplace(unique_key(out, dir.name), std::move(entry));
        }
        for (size_t k = 0; k < dir.odd.size(); ++k) {
            auto key = !dir.tracers && k == 0 ? dir.name : at_node(dir.name, dir.odd[k]);
            out.emplace(unique_key(out, std::move(key)), json::value(*dir.odd[k].value, sp));
        }
    }
    return out;
}

json::value MapMerge::merge_sessions(Merged& merged) {
    json::object out{json::storage_ptr(&arena_)};
    for (auto& slot : slots_) {
        if (!slot.map) continue;
        for (auto& [key, value] : *slot.map) {
            merged.owners.emplace_back(std::string(key), slot.reply.node);
            if (!out.contains(key)) out.emplace(key, std::move(value));
        }
    }
    return out;
}

Merged MapMerge::finish() {
    Merged merged;
    bool any_ok = false;
    for (const auto& slot : slots_) {
        const auto& r = slot.reply;
        if (r.failed()) add_failure(merged, r, reply_reason(r));
        else if (r.ok() && !slot.usable)
            add_failure(merged, r, fmt::format("answered status {} with a body that is not a JSON object", r.status));
        any_ok = any_ok || slot.usable;
    }
    std::vector<NodeReply> replies;
    if (!any_ok) {
        for (auto& slot : slots_) replies.push_back(std::move(slot.reply));
        return merge_refusals(replies, std::move(merged));
    }
    merged.response.body = kind_ == MergeKind::kPods    ? merge_pods()
                           : kind_ == MergeKind::kHooks ? json::serialize(merge_hooks())
                                                        : json::serialize(merge_sessions(merged));
    return merged;
}

Merged merge_maps(std::vector<NodeReply> replies, MergeKind kind) {
    MapMerge merge(kind, replies.size());
    for (size_t i = 0; i < replies.size(); ++i) merge.add(i, std::move(replies[i]));
    return merge.finish();
}

Merged merge_stats(const std::vector<NodeReply>& replies) {
    Merged merged;
    for (const auto& r : replies)
        if (r.failed()) add_failure(merged, r, reply_reason(r));
    stats::PodStats all;
    bool any_ok = false;
    for (const auto& r : replies) {
        if (!r.ok()) continue;
        auto obj = parse_object(r.body);
        auto counts = obj ? stats::parse_pod_stats(*obj)
                          : Result<stats::PodStats>(fail(Errc::kInvalidArgument, "not a JSON object"));
        if (!counts) {
            add_failure(merged, r, fmt::format("answered status {} with a body that is not a stats answer: {}",
                                               r.status, counts.error().message));
            continue;
        }
        any_ok = true;
        stats::merge_into(all, *counts);
    }
    if (!any_ok) return merge_refusals(replies, std::move(merged));
    merged.response = http::json_response(stats::to_json(all));
    return merged;
}

Merged merge_empty(const std::vector<NodeReply>& replies) {
    Merged merged;
    for (const auto& r : replies)
        if (r.failed()) add_failure(merged, r, reply_reason(r));
    for (const auto& r : replies) {
        if (r.ok()) {
            merged.response = http::json_response(json::object{});
            return merged;
        }
    }
    return merge_refusals(replies, std::move(merged));
}

}  // namespace ct::svc
