# ftrace hook manager: pure argument parsing (unit) and the built manager on real ftrace.
ct_add_test(ftrace_args_test
  SOURCES unit/ftrace_args_test.cpp unit/ftrace_filter_test.cpp
  LIBS ct_ftrace_args)

ct_add_test(ftrace_manager_test
  SOURCES integration/ftrace_manager_test.cpp
  LIBS ct_common)
# The test spawns the manager: build it first.
add_dependencies(ftrace_manager_test ftrace-manager)
