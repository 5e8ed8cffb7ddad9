# tracer-node with CRI discovery, end to end: a private real containerd (tests/support fixtures),
# the built tracer-node and ftrace-manager, queried through the HTTP API.
ct_add_test(cri_node_test
  SOURCES integration/cri_node_test.cpp
  LIBS ct_test_cri_support ct_node_discovery ct_node_cri)
add_dependencies(cri_node_test tracer-node ftrace-manager getppid_loop_static)
