# syscall_stats eBPF hook: pure parts (unit) and the built manager on the real kernel.
ct_add_test(ebpf_stats_test
  SOURCES unit/ebpf_stats_test.cpp
  LIBS ct_ebpf_stats)

ct_add_test(ebpf_manager_test
  SOURCES integration/ebpf_manager_test.cpp
  LIBS ct_common)
# The test spawns the manager and the workload: build them first.
add_dependencies(ebpf_manager_test ebpf-manager syscall_mix)

# Statistics sessions through the real tracer-node (and tracer-svc) with the real eBPF manager.
ct_add_test(node_stats_test
  SOURCES integration/node_stats_test.cpp
  LIBS ct_common)
add_dependencies(node_stats_test tracer-node tracer-svc ebpf-manager ftrace-manager syscall_mix)

# Their pure parts on tracer-node and tracer-svc.
ct_add_test(stats_unit_test
  SOURCES unit/stats_export_test.cpp
  LIBS ct_node ct_svc)
