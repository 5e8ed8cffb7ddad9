# Export pipeline: raw ftrace capture, loss accounting, live streams, metrics.
ct_add_test(export_raw_decode_test
  SOURCES unit/export_raw_decode_test.cpp
  LIBS ct_node)

ct_add_test(export_event_json_test
  SOURCES unit/export_event_json_test.cpp
  LIBS ct_node)

ct_add_test(export_pipeline_test
  SOURCES integration/export_pipeline_test.cpp
  LIBS ct_common)
add_dependencies(export_pipeline_test tracer-node ftrace-manager getppid_loop)

ct_add_test(raw_capture_test
  SOURCES integration/raw_capture_test.cpp
  LIBS ct_node)
add_dependencies(raw_capture_test getppid_loop)

# The capture component alone (links only ct_node_capture: capture must not need sessions or api).
ct_add_test(capture_unit_test
  SOURCES unit/ftrace_instance_test.cpp
  LIBS ct_node_capture)

# Capture and export through the real tracer-node: scope, bounded caches, a full disk.
ct_add_test(capture_node_test
  SOURCES integration/capture_node_test.cpp integration/process_probe.cpp
  LIBS ct_common)
add_dependencies(capture_node_test tracer-node ftrace-manager getppid_loop forkexit)
