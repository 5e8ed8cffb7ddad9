#!/usr/bin/env bash
# sanitizer_launcher_check.sh LAUNCHER CANARY BUG EXPECTED: runs `CANARY spawn BUG` through the
# sanitizer test launcher; passes only when the launcher failed and its output shows EXPECTED
# (the child's report). See tests/cmake/sanitizers.cmake.
set -u
launcher=$1 canary=$2 bug=$3 expected=$4
out="$("$launcher" "$canary" spawn "$bug" 2>&1)"
status=$?
echo "$out"
if [ "$status" -eq 0 ]; then
    echo "FAIL: the launcher passed a test whose child had a $bug" >&2
    exit 1
fi
if ! grep -qF -- "$expected" <<<"$out"; then
    echo "FAIL: launcher output (status $status) lacks the child's report: $expected" >&2
    exit 1
fi
echo "ok: child's $bug reported, launcher exited $status"
