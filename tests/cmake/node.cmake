# tracer-node: pure API/session/trace-line logic (unit) and the real binary end to end.
ct_add_test(node_unit_test
  SOURCES unit/node_api_shapes_test.cpp unit/trace_line_parse_test.cpp
  LIBS ct_node)

ct_add_test(node_integration_test
  SOURCES integration/node_api_test.cpp
  LIBS ct_node)
add_dependencies(node_integration_test tracer-node ftrace-manager getppid_loop)
