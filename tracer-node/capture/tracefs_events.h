/* The export component's only door to libtracefs (its 1.6.4 header is not valid C++): C++
 * includes this header inside extern "C"; tracefs_events.c is the only file including tracefs.h.
 * Thread-safe: no shared state. */
#ifndef CT_EXPORT_TRACEFS_EVENTS_H
#define CT_EXPORT_TRACEFS_EVENTS_H

struct tep_handle;

/* Parses every event format and the ring buffer's header_page under `tracing_dir` (e.g.
 * /sys/kernel/tracing) into a new tep handle the caller owns (release with tep_free).
 * NULL on error, errno set. */
struct tep_handle *ctx_load_local_events(const char *tracing_dir);

#endif
