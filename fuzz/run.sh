#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (make fuzz / make fuzz-ci).
#   fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET [TARGET...]   (default: every target)
# For each target: first replays fuzz/regressions/<target>/* (every input that once crashed it;
# each must now pass), then fuzzes for SECONDS with the seed corpus fuzz/corpus/<target> and the
# target's dictionary. New interesting inputs go to BUILD_DIR/fuzz-corpus/<target> (kept between
# runs, never into the source tree); a crash, hang (> 10 s per input) or OOM (> 2 GB) leaves its
# input in BUILD_DIR/fuzz-artifacts/<target>/ and fails the run. Copy such an input into
# fuzz/regressions/<target>/ once fixed. Prints executions per target; exit 1 if any failed.
set -uo pipefail

build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
src="$(cd "$(dirname "$0")" && pwd)"
all=(node_api svc_api trace_line raw_decode procfs_parse cri_parse session_parse svc_merge)
[ $# -gt 0 ] && targets=("$@") || targets=("${all[@]}")

dict_for() {
    case "$1" in
        node_api | svc_api) echo "$src/http.dict" ;;
        session_parse | cri_parse | svc_merge) echo "$src/json.dict" ;;
        procfs_parse) echo "$src/procfs_parse.dict" ;;
        trace_line) echo "$src/trace_line.dict" ;;
    esac
}

# Readable stacks in the logs.
for s in llvm-symbolizer-16 /usr/lib/llvm-16/bin/llvm-symbolizer llvm-symbolizer; do
    command -v "$s" >/dev/null && { export ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; }
done

failed=()
for t in "${targets[@]}"; do
    bin="$build/fuzz/${t}_fuzz"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $t: $bin is not built" >&2
        failed+=("$t")
        continue
    fi
    work="$build/fuzz-corpus/$t"
    artifacts="$build/fuzz-artifacts/$t"
    log="$build/fuzz-logs/$t.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"

    shopt -s nullglob
    regressions=("$src/regressions/$t"/*)
    shopt -u nullglob
    if [ ${#regressions[@]} -gt 0 ]; then
        if ! "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >"$log.regressions" 2>&1; then
            echo "fuzz: $t: a regression input fails again (log: $log.regressions)" >&2
            tail -n 30 "$log.regressions" >&2
            failed+=("$t")
            continue
        fi
    fi

    dict=$(dict_for "$t")
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
          -artifact_prefix="$artifacts/")
    [ -n "$dict" ] && args+=(-dict="$dict")
    "$bin" "${args[@]}" "$work" "$src/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz: $t: ${execs:-?} executions in ${seconds}s, ${#regressions[@]} regression inputs replayed, exit $rc"
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t: FAILED (log: $log; input in $artifacts/)" >&2
        grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|deadly signal|fuzz invariant|ALARM|out-of-memory' "$log" | head -n 5 >&2
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
