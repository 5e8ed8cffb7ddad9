# Flight recorder (tracer-node/flight/, docs/flight-recorder.md): a real tracer-node with a real
# ftrace hook in flight-recorder mode on an unshare pod; dumps read by the real trace-cmd, as JSON
# lines, and their records in the JSON-lines file and at a loopback OTLP receiver.
ct_add_test(flight_recorder_test
  SOURCES integration/flight_recorder_test.cpp integration/process_probe.cpp
  LIBS ct_node_record ct_svc)
target_include_directories(flight_recorder_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(flight_recorder_test tracer-node tracer-svc ftrace-manager getppid_loop)

ct_add_test(flight_unit_test
  SOURCES unit/flight_unit_test.cpp
  LIBS ct_node_flight)
