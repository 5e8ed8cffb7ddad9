# Session persistence (--state-dir): the state JSON codec and the StateStore on a temp dir (unit),
# and the real tracer-node killed and restarted on the same state dir (integration, root).
ct_add_test(state_unit_test
  SOURCES unit/state_codec_test.cpp unit/state_store_test.cpp
  LIBS ct_node)

ct_add_test(persist_integration_test
  SOURCES integration/persist_test.cpp
  LIBS ct_node)
add_dependencies(persist_integration_test tracer-node ftrace-manager getppid_loop)
