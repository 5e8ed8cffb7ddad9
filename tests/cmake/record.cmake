# Recording and viewer exports (record/): the pure codecs and writers (unit; the trace.dat
# writer's output is read by the real trace-cmd), and end to end through tracer-node and
# tracer-svc: trace.dat in trace-cmd, trace.json in a real viewer's parser (trace_engine).
ct_add_test(record_unit_test
  SOURCES unit/record_format_test.cpp unit/trace_dat_writer_test.cpp unit/chrome_trace_writer_test.cpp
  LIBS ct_node_record)

ct_add_test(recorder_test
  SOURCES integration/recorder_test.cpp
  LIBS ct_node_record)

ct_add_test(viewer_export_test
  SOURCES integration/viewer_export_test.cpp
  LIBS ct_node_record ct_svc)
target_include_directories(viewer_export_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(viewer_export_test tracer-node tracer-svc ftrace-manager getppid_loop)
