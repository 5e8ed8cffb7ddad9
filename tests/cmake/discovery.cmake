# Discovery: procfs parsers and pod index on fixture trees (unit), real unshare pods (integration).
ct_add_test(discovery_unit_test
  SOURCES unit/procfs_parse_test.cpp unit/pod_db_test.cpp unit/process_scanner_test.cpp
  LIBS ct_node_discovery)
ct_add_test(discovery_integration_test
  SOURCES integration/procfs_source_test.cpp
  LIBS ct_node_discovery)
