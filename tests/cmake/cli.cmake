# ctrace: its pure parts (unit) and the real binary against real tracer-node / tracer-svc
# processes, completion in a real bash, and `cmake --install` of the whole tree.
ct_add_test(cli_unit_test
  SOURCES unit/cli_test.cpp
  LIBS ct_cli)

ct_add_test(cli_integration_test
  SOURCES integration/cli_test.cpp
  LIBS ct_common)
target_include_directories(cli_integration_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(cli_integration_test ctrace tracer-node tracer-svc ftrace-manager ebpf-manager getppid_loop)
