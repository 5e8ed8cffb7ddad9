/* Empty programs on the tracepoints syscall_stats uses (syscall_stats_bench's "floor" mode): what
 * any BPF program there costs every task before doing anything (the syscall slow path every task
 * takes once a syscall tracepoint has a probe, the tracepoint, the program call). */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter, struct pt_regs *regs, long id)
{
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit, struct pt_regs *regs, long ret)
{
    return 0;
}
