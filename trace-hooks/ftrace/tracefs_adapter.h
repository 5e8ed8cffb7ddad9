/* The only door to libtracefs: its 1.6.4 header is not valid C++, so every call into it lives in
 * tracefs_adapter.c, and C++ includes this narrow header inside extern "C".
 * Conventions: functions returning int give 0 on success or a positive errno value.
 * Strings returned are malloc'ed (release with ctfs_free); lists with ctfs_list_free.
 * The tracing directory is process-global (libtracefs keeps it in a static): set it once, from the
 * main thread, before any other call. Instances may be used from one thread at a time. */
#ifndef CT_TRACEFS_ADAPTER_H
#define CT_TRACEFS_ADAPTER_H

#include <stddef.h>

struct tracefs_instance;

/* Makes libtracefs use `dir` (e.g. /sys/kernel/tracing) as the tracing directory. */
int ctfs_set_tracing_dir(const char *dir);

/* Creates instances/<name>; *out is NULL on error. EEXIST when the directory already existed
 * (the handle is then not returned: the caller picks another name). */
int ctfs_instance_create(const char *name, struct tracefs_instance **out);
/* A handle on an existing (or not) instance, without creating it; NULL on allocation failure. */
struct tracefs_instance *ctfs_instance_open(const char *name);
/* rmdir of the instance directory; EBUSY while a reader holds one of its pipes open. */
int ctfs_instance_destroy(struct tracefs_instance *inst);
void ctfs_instance_free(struct tracefs_instance *inst);
/* Absolute directory of the instance (malloc'ed), NULL on error. */
char *ctfs_instance_dir(struct tracefs_instance *inst);

/* Writes all `len` bytes of `data` to the instance file `file` (relative path, e.g.
 * "set_event_pid"), opened with O_TRUNC, looping over partial writes. */
int ctfs_write_file(struct tracefs_instance *inst, const char *file, const char *data, size_t len);
/* Contents of an instance file (malloc'ed), NULL on error (errno set). */
char *ctfs_read_file(struct tracefs_instance *inst, const char *file);

int ctfs_set_buffer_kb(struct tracefs_instance *inst, size_t kb);
int ctfs_enable_event_fork(struct tracefs_instance *inst);
/* Writes `enable` (0/1) to events/<system>/<event>/enable; event NULL = the whole system. */
int ctfs_event_enable(struct tracefs_instance *inst, const char *system, const char *event, int enable);
int ctfs_tracing_on(struct tracefs_instance *inst, int on);

/* Event names of a system in the tracing directory; NULL-terminated, NULL on error or none. */
char **ctfs_system_events(const char *system);
/* Names of all instances: *out is a NULL-terminated list, or NULL when there are none. */
int ctfs_instance_names(char ***out);

void ctfs_list_free(char **list);
void ctfs_free(void *p);

#endif
