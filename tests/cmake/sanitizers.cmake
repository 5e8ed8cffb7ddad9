# Sanitizer builds only: the test launcher (scripts/sanitizers/run-test.sh) must fail a test when
# a child process it does not check reports a bug, and must show that report. Each case runs a
# parent that spawns a buggy child (tests/support/sanitizer_canary.cpp) and exits 0 regardless.
if(CT_SANITIZE)
  add_executable(sanitizer_canary support/sanitizer_canary.cpp)
  if(CT_SANITIZE MATCHES "thread")
    set(_ct_canary_cases "race:ThreadSanitizer: data race")
  else()
    set(_ct_canary_cases
      "leak:ERROR: LeakSanitizer: detected memory leaks"
      "use-after-free:ERROR: AddressSanitizer: heap-use-after-free"
      "overflow:__ubsan_handle_add_overflow")
  endif()
  foreach(_case IN LISTS _ct_canary_cases)
    string(REGEX MATCH "^[^:]+" _bug "${_case}")
    string(REGEX REPLACE "^[^:]+:" "" _expect "${_case}")
    add_test(NAME sanitizer_launcher_catches_child_${_bug}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/support/sanitizer_launcher_check.sh
                     ${PROJECT_SOURCE_DIR}/scripts/sanitizers/run-test.sh
                     $<TARGET_FILE:sanitizer_canary> ${_bug} "${_expect}")
    set_tests_properties(sanitizer_launcher_catches_child_${_bug} PROPERTIES TIMEOUT 60 LABELS "unit")
  endforeach()
endif()
