/* The kernel/user contract of the syscall_stats hook: map keys and values shared by
 * syscall_stats.bpf.c and the manager (bpf_counter.cpp). C, fixed-width, no padding holes. */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Syscall numbers at or above this are not counted (x86_64 and arm64 stay below 512). */
#define CT_MAX_SYSCALLS 1024
/* A compat (32-bit) call k is counted as CT_MAX_SYSCALLS + k: its numbers are another table. */
#define CT_COUNTED_NRS (2 * CT_MAX_SYSCALLS)
/* Bucket k counts calls of duration d ns with 2^(k-1) < d <= 2^k (bucket 0: d <= 1); the last
 * bucket also takes anything longer (2^63 ns is 292 years). */
#define CT_HIST_BUCKETS 64

struct ct_stats_key {
    __u32 group; /* tgid of the traced process the task descends from */
    __u32 nr;    /* syscall number, CT_MAX_SYSCALLS + k for compat call k */
};

struct ct_stats_value {
    __u64 count;
    __u64 errors; /* returns in [-4095, -1] */
    __u64 total_ns;
    __u64 hist[CT_HIST_BUCKETS];
};

struct ct_errno_key {
    __u32 group;
    __u32 nr;
    __u32 err; /* positive errno */
};
