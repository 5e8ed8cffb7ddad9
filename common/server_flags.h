// The HTTP server's and the live streams' limits as command-line flags, each with its environment
// variable, the same for both programs (tracer-node: env_prefix "TRACER_", tracer-svc: "TRACE_KUBE_"); listed with
// their defaults in docs/operations.md and docs/tracer-svc.md. Header-only: used by main() files,
// which link CLI11.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "common/http_server.h"

namespace ct::http {

// Adds the flags to `app`, writing into `options` (whose values are the defaults shown).
inline void add_server_flags(CLI::App& app, ServerOptions& options, const std::string& env_prefix) {
    auto ms = [&app, &env_prefix](const std::string& flag, std::chrono::milliseconds& value, const std::string& env,
                                  const std::string& help) {
        app.add_option_function<unsigned>(
               flag, [&value](unsigned v) { value = std::chrono::milliseconds(v); }, help)
            ->default_str(std::to_string(value.count()))
            ->envname(env_prefix + env)
            ->check(CLI::Range(1u, 3600000u));
    };
    app.add_option("--max-connections", options.max_connections,
                   "open API connections served; past it a connection gets one answer: 503 (health routes: "
                   "answered)")
        ->envname(env_prefix + "MAX_CONNECTIONS")
        ->check(CLI::Range(size_t{1}, size_t{1} << 24));
    app.add_option("--max-connections-per-address", options.max_connections_per_address,
                   "open API connections served from one client IP address; past it 429 (health routes: answered)")
        ->envname(env_prefix + "MAX_CONNECTIONS_PER_ADDRESS")
        ->check(CLI::Range(size_t{1}, size_t{1} << 24));
    ms("--header-timeout", options.header_timeout, "HEADER_TIMEOUT",
       "ms a client has to send a request's headers (from connecting, or from the first byte of a "
       "kept-alive request); slower connections are closed");
    ms("--body-timeout", options.body_timeout, "BODY_TIMEOUT", "ms a client has to send a request's body after its headers");
    ms("--idle-timeout", options.idle_timeout, "IDLE_TIMEOUT", "ms a kept-alive connection may idle between requests");
    ms("--write-timeout", options.write_timeout, "WRITE_TIMEOUT",
       "ms one response write (or one chunk of a live stream) may take; a client that reads slower is cut");
    app.add_option("--handler-threads", options.handler_threads,
                   "threads running API requests that may block (session start and stop, fan-out); others queue")
        ->envname(env_prefix + "HANDLER_THREADS")
        ->check(CLI::Range(size_t{1}, size_t{1024}));
}

// Limits of live trace streams, the same flags in both programs.
struct StreamLimits {
    size_t max_streams = 0;          // readers of all sessions
    size_t max_session_streams = 0;  // readers of one session
    size_t queue_bytes = 0;          // how far one reader may fall behind (set in MiB)
};

// Adds --max-streams, --max-session-streams and --stream-queue-mib (defaults: `limits` as given).
inline void add_stream_flags(CLI::App& app, StreamLimits& limits, const std::string& env_prefix,
                             const std::string& session_note) {
    app.add_option("--max-streams", limits.max_streams, "live trace streams open at once (all sessions); more answer 429")
        ->envname(env_prefix + "MAX_STREAMS")
        ->check(CLI::Range(size_t{1}, size_t{1} << 24));
    app.add_option("--max-session-streams", limits.max_session_streams,
                   "live trace streams of one session (" + session_note + "); more answer 429")
        ->envname(env_prefix + "MAX_SESSION_STREAMS")
        ->check(CLI::Range(size_t{1}, size_t{1} << 24));
    app.add_option_function<size_t>(
           "--stream-queue-mib", [&limits](size_t mib) { limits.queue_bytes = mib << 20; },
           "MiB a live stream reader may fall behind before it loses events (its own, counted)")
        ->default_str(std::to_string(limits.queue_bytes >> 20))
        ->envname(env_prefix + "STREAM_QUEUE_MIB")
        ->check(CLI::Range(size_t{1}, size_t{4096}));
}

}  // namespace ct::http
