/* libtracefs behind tracefs_adapter.h; see there for conventions. */
#define _GNU_SOURCE
#include "tracefs_adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tracefs.h>

static int errno_or(int fallback) { return errno != 0 ? errno : fallback; }

int ctfs_set_tracing_dir(const char *dir) {
    /* libtracefs copies the string; its prototype just lacks const. */
    return tracefs_set_tracing_dir((char *)dir) == 0 ? 0 : errno_or(ENOMEM);
}

int ctfs_instance_create(const char *name, struct tracefs_instance **out) {
    *out = NULL;
    errno = 0;
    struct tracefs_instance *inst = tracefs_instance_create(name);
    if (!inst) return errno_or(EIO);
    if (!tracefs_instance_is_new(inst)) {
        tracefs_instance_free(inst);
        return EEXIST;
    }
    *out = inst;
    return 0;
}

struct tracefs_instance *ctfs_instance_open(const char *name) {
    return tracefs_instance_alloc(NULL, name);
}

int ctfs_instance_destroy(struct tracefs_instance *inst) {
    errno = 0;
    if (tracefs_instance_destroy(inst) == 0) return 0;
    return errno_or(EIO);
}

void ctfs_instance_free(struct tracefs_instance *inst) { tracefs_instance_free(inst); }

char *ctfs_instance_dir(struct tracefs_instance *inst) {
    char *dir = tracefs_instance_get_dir(inst);
    if (!dir) return NULL;
    /* tracefs strings must be released with tracefs_put_tracing_file: hand out a plain copy. */
    char *copy = strdup(dir);
    tracefs_put_tracing_file(dir);
    return copy;
}

int ctfs_write_file(struct tracefs_instance *inst, const char *file, const char *data, size_t len) {
    char *path = tracefs_instance_get_file(inst, file);
    if (!path) return ENOMEM;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    tracefs_put_tracing_file(path);
    if (fd < 0) return err;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    close(fd);
    return err;
}

char *ctfs_read_file(struct tracefs_instance *inst, const char *file) {
    return tracefs_instance_file_read(inst, file, NULL);
}

int ctfs_set_buffer_kb(struct tracefs_instance *inst, size_t kb) {
    errno = 0;
    return tracefs_instance_set_buffer_size(inst, kb, -1) == 0 ? 0 : errno_or(EIO);
}

int ctfs_enable_event_fork(struct tracefs_instance *inst) {
    errno = 0;
    return tracefs_option_enable(inst, TRACEFS_OPTION_EVENT_FORK) == 0 ? 0 : errno_or(EIO);
}

int ctfs_event_enable(struct tracefs_instance *inst, const char *system, const char *event, int enable) {
    char *file = NULL;
    int ret = event ? asprintf(&file, "events/%s/%s/enable", system, event)
                    : asprintf(&file, "events/%s/enable", system);
    if (ret < 0) return ENOMEM;
    ret = ctfs_write_file(inst, file, enable ? "1" : "0", 1);
    free(file);
    return ret;
}

int ctfs_tracing_on(struct tracefs_instance *inst, int on) {
    errno = 0;
    int ret = on ? tracefs_trace_on(inst) : tracefs_trace_off(inst);
    return ret == 0 ? 0 : errno_or(EIO);
}

char **ctfs_system_events(const char *system) { return tracefs_system_events(NULL, system); }

struct collect_ctx {
    char **list;
    int failed;
};

static int collect_instance(const char *name, void *context) {
    struct collect_ctx *ctx = context;
    char **grown = tracefs_list_add(ctx->list, name);
    if (!grown) {
        ctx->failed = 1;
        return 1; /* stops the walk */
    }
    ctx->list = grown;
    return 0;
}

int ctfs_instance_names(char ***out) {
    struct collect_ctx ctx = {NULL, 0};
    *out = NULL;
    errno = 0;
    if (tracefs_instances_walk(collect_instance, &ctx) < 0 || ctx.failed) {
        int err = ctx.failed ? ENOMEM : errno_or(ENOENT);
        tracefs_list_free(ctx.list);
        return err;
    }
    *out = ctx.list;
    return 0;
}

void ctfs_list_free(char **list) { tracefs_list_free(list); }

void ctfs_free(void *p) { free(p); }
