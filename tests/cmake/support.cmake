# Shared fixtures (tests/support): real tracer-node processes, unshare pods, temp dirs.
add_library(ct_test_support STATIC
  support/fixtures.cpp
  support/viewer_tools.cpp
  support/otlp_receiver.cpp
)
target_include_directories(ct_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ct_test_support PUBLIC ct_common Catch2::Catch2)
target_compile_definitions(ct_test_support PUBLIC ${CT_TEST_DEFS})
