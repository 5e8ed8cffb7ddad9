/* syscall_stats: per traced group and syscall, counts calls, errors (per errno), total time and
 * a log2 latency histogram in per-CPU hash maps; nothing is sent per event. The manager reads
 * the maps (bpf_counter.cpp). See docs/hooks.md "syscall_stats".
 *
 * Membership lives in task storage: a task is traced iff it has a `tasks` entry, which holds
 * its group and the syscall it is in. Entries are made for the given threads by the ct_seed
 * iterator, for children of traced tasks on fork, and dropped on exit. An untraced task costs
 * one load per tracepoint (traced()) and writes nothing. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "trace-hooks/ebpf/syscall_stats_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NOT_IN_CALL CT_COUNTED_NRS
#define MAX_ERRNO 4095

struct ct_task {
    __u64 start_ns; /* when the current counted call entered */
    __u32 group;
    __u32 nr; /* counted number of the current call, NOT_IN_CALL outside one */
};

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct ct_task);
} tasks SEC(".maps");

/* Thread ids given on the command line; read once by ct_seed. Sized by the manager. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u8);
} seeds SEC(".maps");

/* Entries are allocated on a key's first call (no preallocation: memory grows with the
 * (group, syscall) pairs actually seen, up to max_entries, set by the manager). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __type(key, struct ct_stats_key);
    __type(value, struct ct_stats_value);
} stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __type(key, struct ct_errno_key);
    __type(value, __u64);
} errnos SEC(".maps");

/* Set by the manager before load. */
const volatile __u8 filter_syscalls = 0;
const volatile __u8 selected[CT_COUNTED_NRS] = {};

/* Read by the manager (mmapped .bss). */
__u64 dropped_counts = 0; /* calls not counted because `stats` was full */
__u64 dropped_errnos = 0; /* errors whose errno was not counted because `errnos` was full */
__u64 dropped_tasks = 0;  /* tasks that could not be given storage (not counted at all) */
__u64 seeded_tasks = 0;   /* given threads found by ct_seed */

const struct ct_stats_value zero_stats = {};
const __u64 zero_count = 0;

/* The task's entry when it is traced, else NULL. Most tasks own no BPF task storage at all: one
 * load tells them apart without a helper call (bystanders pay only this on every syscall). */
static __always_inline struct ct_task *traced(struct task_struct *task)
{
    if (!task->bpf_storage)
        return 0;
    return bpf_task_storage_get(&tasks, task, 0, 0);
}

/* The counted number of call `id` by `task`, or NOT_IN_CALL when it is not counted. */
static __always_inline __u32 counted_nr(struct task_struct *task, long id)
{
    if (id < 0 || id >= CT_MAX_SYSCALLS)
        return NOT_IN_CALL;
    __u32 nr = id;
#ifdef __TARGET_ARCH_x86
    /* A kernel without the field loads too: the guarded read is dead code there. */
    if (bpf_core_field_exists(task->thread_info.status) &&
        (task->thread_info.status & 0x0002 /* TS_COMPAT: an int 0x80 / 32-bit call */))
        nr += CT_MAX_SYSCALLS;
#endif
    if (filter_syscalls && !selected[nr & (CT_COUNTED_NRS - 1)])
        return NOT_IN_CALL;
    return nr;
}

/* Bucket k holds 2^(k-1) < ns <= 2^k (see syscall_stats_abi.h): k = bit length of ns - 1. */
static __always_inline __u32 bucket_of(__u64 ns)
{
    if (ns <= 1)
        return 0;
    __u64 x = ns - 1;
    __u32 k = 0;
    if (x >> 32) { x >>= 32; k += 32; }
    if (x >> 16) { x >>= 16; k += 16; }
    if (x >> 8) { x >>= 8; k += 8; }
    if (x >> 4) { x >>= 4; k += 4; }
    if (x >> 2) { x >>= 2; k += 2; }
    if (x >> 1) { x >>= 1; k += 1; }
    k += x;
    return k < CT_HIST_BUCKETS ? k : CT_HIST_BUCKETS - 1;
}

/* The value for `key` on this CPU, created zeroed on first use; NULL when the map is full.
 * A racing create on another CPU makes our update fail with EEXIST; the second lookup finds it. */
static __always_inline void *counter(void *map, const void *key, const void *zero)
{
    void *value = bpf_map_lookup_elem(map, key);
    if (value)
        return value;
    bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(map, key);
}

static __always_inline void account(__u32 group, __u32 nr, __u64 ns, long ret)
{
    struct ct_stats_key key = {.group = group, .nr = nr};
    struct ct_stats_value *v = counter(&stats, &key, &zero_stats);
    if (!v) {
        __sync_fetch_and_add(&dropped_counts, 1);
        return;
    }
    /* Per-CPU values, and programs on syscall tracepoints do not preempt each other on a CPU:
     * plain increments. */
    v->count++;
    v->total_ns += ns;
    v->hist[bucket_of(ns) & (CT_HIST_BUCKETS - 1)]++;
    if (ret < 0 && ret >= -MAX_ERRNO) {
        v->errors++;
        struct ct_errno_key ekey = {.group = group, .nr = nr, .err = (__u32)-ret};
        __u64 *n = counter(&errnos, &ekey, &zero_count);
        if (n)
            (*n)++;
        else
            __sync_fetch_and_add(&dropped_errnos, 1);
    }
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ct_sys_enter, struct pt_regs *regs, long id)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct ct_task *t = traced(task);
    if (!t)
        return 0;
    t->nr = counted_nr(task, id);
    t->start_ns = bpf_ktime_get_ns();
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ct_sys_exit, struct pt_regs *regs, long ret)
{
    struct ct_task *t = traced(bpf_get_current_task_btf());
    if (!t || t->nr == NOT_IN_CALL)
        return 0; /* untraced, not counted, or a child's first return from fork */
    account(t->group, t->nr, bpf_ktime_get_ns() - t->start_ns, ret);
    t->nr = NOT_IN_CALL;
    return 0;
}

/* Runs in the parent before the child is first scheduled, so the child's first syscall exit
 * (its return from fork, which it never entered) already finds its storage. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ct_fork, struct task_struct *parent, struct task_struct *child)
{
    struct ct_task *p = traced(parent);
    if (!p)
        return 0;
    struct ct_task init = {.group = p->group, .nr = NOT_IN_CALL};
    if (!bpf_task_storage_get(&tasks, child, &init, BPF_LOCAL_STORAGE_GET_F_CREATE))
        __sync_fetch_and_add(&dropped_tasks, 1);
    return 0;
}

/* A call that never returns (exit, exit_group) is counted when its task exits, as a success;
 * then the task leaves the traced set. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(ct_task_exit, struct task_struct *exiting)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct ct_task *t = traced(task);
    if (!t)
        return 0;
    if (t->nr != NOT_IN_CALL)
        account(t->group, t->nr, bpf_ktime_get_ns() - t->start_ns, 0);
    bpf_task_storage_delete(&tasks, task);
    return 0;
}

/* One pass over every thread: the given ones become traced, each in its own process's group. */
SEC("iter/task")
int ct_seed(struct bpf_iter__task *ctx)
{
    struct task_struct *task = ctx->task;
    if (!task)
        return 0;
    __u32 tid = task->pid;
    if (!bpf_map_lookup_elem(&seeds, &tid))
        return 0;
    struct ct_task init = {.group = task->tgid, .nr = NOT_IN_CALL};
    if (bpf_task_storage_get(&tasks, task, &init, BPF_LOCAL_STORAGE_GET_F_CREATE))
        __sync_fetch_and_add(&seeded_tasks, 1);
    else
        __sync_fetch_and_add(&dropped_tasks, 1);
    return 0;
}
