ct_add_test(common_unit_test
  SOURCES unit/strings_test.cpp unit/glob_test.cpp unit/subprocess_test.cpp unit/stream_fanout_test.cpp
  LIBS ct_common)
