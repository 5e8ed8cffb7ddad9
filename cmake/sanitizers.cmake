# Sanitizer builds (CMakePresets.json: `asan`, `tsan`; Makefile: test-asan, test-tsan).
# CT_SANITIZE is the -fsanitize= list, e.g. "address,undefined" or "thread"; empty = none.
# Applied to every target defined after this file is included (our code, tests, hook managers),
# so the tracer-node/tracer-svc/manager binaries the integration tests start are checked too.
set(CT_SANITIZE "" CACHE STRING "-fsanitize= list for every target (empty: no sanitizers)")

if(CT_SANITIZE)
  add_compile_options(-fsanitize=${CT_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CT_SANITIZE})
  if(CT_SANITIZE MATCHES "undefined")
    # UBSan only warns by default; a finding must fail the program (and so the test).
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  if(CT_SANITIZE MATCHES "thread")
    # g++ warns that TSan does not model atomic_thread_fence, used only by Boost.Asio's
    # std_fenced_block (third-party). Reports through those fences go to tsan.supp, with a reason.
    add_compile_options(-Wno-tsan)
  endif()
  # ctest runs each test through this launcher (CMake uses a target's CROSSCOMPILING_EMULATOR
  # for add_test and Catch2's test discovery): it collects the reports of every sanitized child
  # the test starts and fails the test on any of them. See the script for why.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PROJECT_SOURCE_DIR}/scripts/sanitizers/run-test.sh)
endif()

# ct_no_sanitize(target): for the workloads the tests trace: payloads, not the code under test.
# Some cannot carry a sanitizer runtime (ASan/TSan do not link with -static), and the runtimes
# make system calls of their own that would change the counts the tests check.
function(ct_no_sanitize target)
  target_compile_options(${target} PRIVATE -fno-sanitize=all)
  target_link_options(${target} PRIVATE -fno-sanitize=all)
endfunction()
