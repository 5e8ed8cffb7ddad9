# syscall_stats eBPF hook: pure parts (unit) and the built manager on the real kernel.
ct_add_test(ebpf_stats_test
  SOURCES unit/ebpf_stats_test.cpp
  LIBS ct_ebpf_stats)

ct_add_test(ebpf_manager_test
  SOURCES integration/ebpf_manager_test.cpp
  LIBS ct_common)
# The test spawns the manager and the workload: build them first.
add_dependencies(ebpf_manager_test ebpf-manager syscall_mix)
