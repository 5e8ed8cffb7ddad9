#include "tracer-node/export/otlp_exporter.h"

#include <time.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http_client.h"
#include "common/strings.h"

namespace ct::node {

namespace {

std::int64_t realtime_minus_monotonic_ns() {
    timespec mono{}, real{};
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    ::clock_gettime(CLOCK_REALTIME, &real);
    auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
    return ns(real) - ns(mono);
}

std::uint64_t unix_now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// Worth another attempt: the receiver is down or says it is busy.
bool retryable(int status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

Result<OtlpEndpoint> parse_otlp_endpoint(const std::string& url) {
    constexpr std::string_view kHttp = "http://";
    if (url.starts_with("https://"))
        return fail(Errc::kInvalidArgument,
                    fmt::format("OTLP endpoint \"{}\": https is not supported yet, use http://", url));
    if (!url.starts_with(kHttp))
        return fail(Errc::kInvalidArgument, fmt::format("OTLP endpoint \"{}\" must start with http://", url));
    std::string_view rest = std::string_view(url).substr(kHttp.size());
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view base = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    auto hp = parse_host_port(authority);
    if (!hp || hp->host.empty() || hp->port == 0 || authority.find(':') == std::string_view::npos)
        return fail(Errc::kInvalidArgument,
                    fmt::format("OTLP endpoint \"{}\" must be http://host:port", url));
    while (base.ends_with('/')) base.remove_suffix(1);
    return OtlpEndpoint{hp->host, hp->port, std::string(base) + "/v1/traces"};
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options)
    : options_(std::move(options)), clock_offset_ns_(realtime_minus_monotonic_ns()), rng_(std::random_device{}()) {
    sender_ = std::thread([this] { sender_loop(); });
}

OtlpExporter::~OtlpExporter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    sender_.join();
}

std::string OtlpExporter::name() const {
    return fmt::format("otlp:http://{}:{}{}", options_.endpoint.host, options_.endpoint.port,
                       options_.endpoint.traces_path);
}

std::shared_ptr<OtlpExporter::Counts> OtlpExporter::counts_of(const std::string& session_id) {
    auto& c = counts_[session_id];
    if (!c) c = std::make_shared<Counts>();
    return c;
}

std::uint64_t OtlpExporter::random_id() {
    std::uint64_t id = 0;
    while (id == 0) id = rng_();  // all-zero ids are invalid in OTLP
    return id;
}

void OtlpExporter::on_run_start(const EventContext& context) {
    std::lock_guard lock(mutex_);
    counts_of(context.session_id);
    otlp::SpanBuilder::Options o{.trace_id = otlp::trace_id_hex(random_id(), random_id()),
                                 .root_span_id = otlp::span_id_hex(random_id()),
                                 .clock_offset_ns = clock_offset_ns_};
    runs_[context.session_id] =
        std::make_unique<Run>(Run{otlp::SpanBuilder(std::move(o), [this] { return random_id(); }), unix_now_ns()});
}

void OtlpExporter::export_events(const EventContext& context, std::span<const EnrichedEvent> events) {
    std::vector<otlp::Span> spans;
    bool notify = false;
    {
        std::lock_guard lock(mutex_);
        auto it = runs_.find(context.session_id);
        if (it == runs_.end()) return;  // no run started (not ours to trace)
        it->second->builder.add(events, spans);
        enqueue(spans, counts_of(context.session_id), false);
        notify = queue_.size() >= options_.max_batch;
    }
    if (notify) wake_.notify_all();
}

void OtlpExporter::on_run_stop(const EventContext& context) {
    {
        std::lock_guard lock(mutex_);
        auto it = runs_.find(context.session_id);
        if (it == runs_.end()) return;
        std::vector<otlp::Span> root{it->second->builder.finish_root(context, it->second->start_unix_ns, unix_now_ns())};
        runs_.erase(it);
        // The root is queued even when the queue is full: one per run, and its children need it.
        enqueue(root, counts_of(context.session_id), true);
    }
    wake_.notify_all();
}

void OtlpExporter::export_dump(const EventContext& context, const DumpRecord& dump) {
    {
        std::lock_guard lock(mutex_);
        std::vector<otlp::Span> span{otlp::dump_span(context, dump, otlp::trace_id_hex(random_id(), random_id()),
                                                     otlp::span_id_hex(random_id()))};
        enqueue(span, counts_of(context.session_id), true);  // one per dump, as a run's root span
    }
    wake_.notify_all();
}

void OtlpExporter::enqueue(std::vector<otlp::Span>& spans, const std::shared_ptr<Counts>& counts, bool force) {
    for (auto& s : spans) {
        if (!force && queue_.size() >= options_.max_queue_spans) {
            counts->dropped++;
            total_.dropped++;
            continue;
        }
        queue_.push_back({std::move(s), counts});
    }
}

void OtlpExporter::sender_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
        auto deadline = std::chrono::steady_clock::now() + options_.flush_interval;
        wake_.wait_until(lock, deadline, [&] { return stopping_ || queue_.size() >= options_.max_batch; });
        if (queue_.empty()) {
            if (stopping_) return;
            continue;
        }
        bool last = stopping_;
        std::vector<Queued> batch;
        while (!queue_.empty() && batch.size() < options_.max_batch) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        // When stopping: one attempt per batch, so shutdown stays bounded.
        send_batch(batch, last ? 1 : options_.max_attempts);
        lock.lock();
    }
}

bool OtlpExporter::send_batch(std::vector<Queued>& batch, int max_attempts) {
    std::vector<otlp::Span> spans;
    spans.reserve(batch.size());
    for (const auto& q : batch) spans.push_back(q.span);
    http::ClientRequest request{.host = options_.endpoint.host,
                                .port = options_.endpoint.port,
                                .method = "POST",
                                .target = options_.endpoint.traces_path,
                                .body = otlp::encode_request(options_.node_name, spans),
                                .headers = {{"Content-Type", "application/json"}},
                                .timeout = options_.request_timeout};
    auto backoff = options_.initial_backoff;
    for (int attempt = 1; attempt <= max_attempts; ++attempt) {
        auto response = http::send(request);
        bool ok = response && response->status / 100 == 2;
        if (ok) {
            for (const auto& q : batch) q.counts->exported++;
            total_.exported += batch.size();
            return true;
        }
        // One error per failed POST, charged to the session of the batch's first span.
        batch.front().counts->errors++;
        total_.errors++;
        std::string why = response ? fmt::format("HTTP {}: {}", response->status, response->body.substr(0, 200))
                                   : response.error().message;
        spdlog::debug("OTLP export of {} spans to {} failed (attempt {}/{}): {}", batch.size(), name(), attempt,
                      max_attempts, why);
        if (response && !retryable(response->status)) break;
        if (attempt == max_attempts) break;
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, backoff, [&] { return stopping_; })) {
            max_attempts = std::min(max_attempts, attempt + 1);  // stopping: one more try at most
        }
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
    spdlog::warn("OTLP export to {} gave up on {} spans", name(), batch.size());
    for (const auto& q : batch) q.counts->dropped++;
    total_.dropped += batch.size();
    return false;
}

ExportCounts OtlpExporter::session_counts(const std::string& session_id) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(session_id);
    if (it == counts_.end()) return {};
    return {it->second->exported.load(), it->second->dropped.load(), it->second->errors.load()};
}

ExportCounts OtlpExporter::total_counts() const {
    return {total_.exported.load(), total_.dropped.load(), total_.errors.load()};
}

void OtlpExporter::forget_session(const std::string& session_id) {
    std::lock_guard lock(mutex_);
    counts_.erase(session_id);  // queued batches hold their own reference to the counts
}

}  // namespace ct::node
