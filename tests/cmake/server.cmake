# The HTTP server of both programs: lock-outs (deadlines, connection limits, probes) and live
# streams with 1,000 readers, against the real tracer-node and tracer-svc. Root: pods, ftrace.
ct_add_test(http_limits_test
  SOURCES integration/http_limits_test.cpp integration/process_probe.cpp integration/raw_connection.cpp
  LIBS ct_common)
add_dependencies(http_limits_test tracer-node tracer-svc ftrace-manager)

ct_add_test(stream_scale_test
  SOURCES integration/stream_scale_test.cpp integration/process_probe.cpp
  LIBS ct_common)
add_dependencies(stream_scale_test tracer-node tracer-svc ftrace-manager getppid_loop)
