#!/usr/bin/env bash
# Launcher for every Catch2 test of a sanitizer build (cmake/sanitizers.cmake makes it the tests'
# CROSSCOMPILING_EMULATOR, so ctest runs `run-test.sh <test binary> <args>`).
#
# Why: integration tests start sanitized children (tracer-node, tracer-svc, hook managers and
# their children) whose stderr goes to log files nobody reads, and whose exit status the tests
# mostly do not look at (they stop them with signals). So every sanitized process of the test
# writes its reports into one private directory (log_path), and after the test any report found
# there is printed and fails the test, whatever the test did with the child.
#
# Exit status: the test's own status if it failed, else 1 when a sanitizer reported, else 0.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
reports="$(mktemp -d "${TMPDIR:-/tmp}/ct-sanitizer.XXXXXX")"
trap 'rm -rf "$reports"' EXIT

# User-given options come first so ours (log_path, failing on a finding) win.
log="log_path=$reports/report:log_exe_name=1"
# g++ links ASan and UBSan as two runtimes sharing one report path, which UBSan's start-up resets:
# UBSan gets the same log_path so ASan's reports still land in $reports, but UBSan's own message
# still goes to the process's stderr. So UBSan aborts (abort_on_error) and ASan turns the SIGABRT
# into a report in $reports (handle_abort) whose stack names the check
# (__ubsan_handle_<kind>_abort) and the source line. Any other abort() is reported the same way.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:$log:halt_on_error=1:handle_abort=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:-}:suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:$log:print_stacktrace=1:halt_on_error=1:abort_on_error=1:suppressions=$here/ubsan.supp"
export TSAN_OPTIONS="${TSAN_OPTIONS:-}:$log:halt_on_error=0:second_deadlock_stack=1:suppressions=$here/tsan.supp"

# ctest kills only its direct child on timeout: the test must not outlive this script.
setpriv --pdeathsig KILL -- "$@"
status=$?

found=0
for f in "$reports"/report*; do
    [ -e "$f" ] || continue
    # Reports, not the runtimes' informational warnings, fail the test.
    if grep -qE 'ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$f"; then
        found=1
    fi
    echo "==== sanitizer output: $(basename "$f") ====" >&2
    cat "$f" >&2
done

if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$found" -ne 0 ]; then
    echo "FAILED: sanitizer reports above (the test itself passed)" >&2
    exit 1
fi
exit 0
