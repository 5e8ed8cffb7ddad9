# Sessions and hook processes: SessionManager over fake discovery, hooks and captures, and
# HookProcess over real child processes (a shell-script manager). Unit: no root, seconds.
ct_add_test(session_unit_test
  SOURCES unit/session_manager_test.cpp unit/session_hook_process_test.cpp
  LIBS ct_node)
