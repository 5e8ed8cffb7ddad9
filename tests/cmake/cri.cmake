# CRI discovery: pure parser/selection unit tests, and integration tests against a private real
# containerd. ct_test_cri_support holds the reusable containerd/pod fixtures (link it from other
# areas' integration tests that need a CRI runtime).
add_library(ct_test_cri_support STATIC
  support/oci_image.cpp
  support/containerd_fixture.cpp
  support/cri_pod_runner.cpp
)
target_include_directories(ct_test_cri_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ct_test_cri_support PUBLIC ct_common ct_node_cri)
target_compile_definitions(ct_test_cri_support PUBLIC ${CT_TEST_DEFS})

ct_add_test(cri_unit_test
  SOURCES unit/cri_parse_test.cpp unit/source_select_test.cpp
  LIBS ct_node_discovery ct_node_cri ct_node_source_select)

ct_add_test(cri_integration_test
  SOURCES integration/cri_source_test.cpp
  LIBS ct_test_cri_support ct_node_discovery ct_node_cri ct_node_source_select)
