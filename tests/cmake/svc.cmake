# tracer-svc: pure merge/validation/discovery parsing (unit) and the real svc against real
# tracer-node processes, hundreds of in-process stand-in nodes, a real dnsmasq and a local HTTPS
# "Kubernetes API" (integration).
ct_add_test(svc_unit_test
  SOURCES unit/svc_merge_test.cpp unit/svc_discovery_test.cpp
  LIBS ct_svc)

ct_add_test(svc_integration_test
  SOURCES integration/svc_cluster_test.cpp integration/svc_dns_test.cpp integration/svc_fanout_test.cpp
  LIBS ct_svc)
add_dependencies(svc_integration_test tracer-svc tracer-node)

# Kubernetes mode against a local HTTPS API server (openssl CLI certificates) and stand-in nodes.
ct_add_test(svc_kube_test
  SOURCES integration/svc_kube_test.cpp
  LIBS ct_svc)
add_dependencies(svc_kube_test tracer-svc)

# The svc relaying a session's live stream from a real tracer-node with real ftrace.
ct_add_test(svc_stream_test
  SOURCES integration/svc_stream_test.cpp
  LIBS ct_common)
add_dependencies(svc_stream_test tracer-svc tracer-node ftrace-manager getppid_loop)

# The trace_events hook through tracer-svc on a real tracer-node with real ftrace.
ct_add_test(svc_events_test
  SOURCES integration/svc_events_test.cpp
  LIBS ct_common)
add_dependencies(svc_events_test tracer-svc tracer-node ftrace-manager)

# Trace-session request bodies and ids: tracer-node's and tracer-svc's parsers on the same cases.
ct_add_test(request_body_test
  SOURCES unit/request_body_test.cpp
  LIBS ct_node ct_svc)

# The original's clients through tracer-svc: request keys in any case, refusals answered locally.
ct_add_test(svc_request_keys_test
  SOURCES integration/svc_request_keys_test.cpp
  LIBS ct_svc)
add_dependencies(svc_request_keys_test tracer-svc tracer-node)
