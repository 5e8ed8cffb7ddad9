# OpenTelemetry exporter: pure OTLP encoding (unit) and the real tracer-node exporting to a local
# OTLP/HTTP receiver (integration, root).
ct_add_test(otlp_unit_test
  SOURCES unit/otlp_encode_test.cpp
  LIBS ct_node)

ct_add_test(otlp_integration_test
  SOURCES integration/otlp_export_test.cpp
  LIBS ct_node)
add_dependencies(otlp_integration_test tracer-node ftrace-manager getppid_loop)
