/* libtracefs behind tracefs_events.h. */
#define _GNU_SOURCE
#include "tracefs_events.h"

#include <errno.h>

#include <tracefs.h>

struct tep_handle *ctx_load_local_events(const char *tracing_dir) {
    errno = 0;
    struct tep_handle *tep = tracefs_local_events(tracing_dir);
    if (!tep && errno == 0) errno = EIO;
    return tep;
}
