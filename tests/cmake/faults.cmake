# Limits, faults and load against the real tracer-node (real ftrace, unshare pods). Root.
set(CT_FAULTS_PROBE integration/process_probe.cpp integration/raw_connection.cpp)

ct_add_test(fault_test
  SOURCES integration/fault_test.cpp ${CT_FAULTS_PROBE}
  LIBS ct_common)
add_dependencies(fault_test tracer-node ftrace-manager getppid_loop)

ct_add_test(load_test
  SOURCES integration/load_test.cpp ${CT_FAULTS_PROBE}
  LIBS ct_common)
add_dependencies(load_test tracer-node ftrace-manager getppid_loop)
