#!/usr/bin/env bash
# bench/run.sh [--quick|--full] [--reps N] [--build DIR] [--node-build DIR] [--out-dir DIR]
#              [--tools "untraced product ..."] [--workloads "getppid ..."] [--overhead-only]
#
# Benchmarks container-tracer on this machine and writes <out-dir>/benchmarks.md and
# <out-dir>/benchmarks.json (default out-dir: docs/). Needs root (unshare, ftrace).
#   * tracing overhead: each workload (getppid loop, file-system walk, fork/exec burst) untraced,
#     traced through the product end to end (tracer-node + trace_syscalls session in an unshare
#     pod), and under strace, perf trace, trace-cmd and bpftrace, interleaved A B C A B C ...
#   * completeness: events expected (the workload's own count) vs delivered vs reported lost
#   * API latency: GET /v1/pods with 10/100 (1000 with --full) one-process pods, session
#     create/start/stop/delete; tracer-node RSS idle and while exporting
#   * syscall_stats overhead (bench/syscall_stats_bench): the getppid loop counted in the kernel,
#     as a bystander of a run, and under empty BPF programs (the floor)
# --tools/--workloads: run only these (for quick comparisons; the report covers what ran);
# --overhead-only: skip the API latency, fan-out and pipeline parts.
# --quick: tiny N, one repetition; exits non-zero if any benchmark produced no numbers (CTest
# bench_quick). Every process this script starts is killed by PID on exit; its temp dir and its
# ftrace instance are removed; its sessions are deleted through the API.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=default
reps=
build=${BENCH_BUILD:-$repo/build}
out_dir=$repo/docs
only_tools= only_workloads= overhead_only=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --reps) reps=$2; shift ;;
    --build) build=$2; shift ;;
    --node-build) node_build=$2; shift ;;  # tracer-node and trace-hooks from another build dir
    --out-dir) out_dir=$2; shift ;;
    --tools) only_tools=$2; shift ;;
    --workloads) only_workloads=$2; shift ;;
    --overhead-only) overhead_only=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
build=$(cd "$build" && pwd) || { echo "bench: no build dir" >&2; exit 2; }

# Workload sizes per mode. N_* are the workloads' own arguments.
case $mode in
  quick)   reps=${reps:-1}; n_getppid=2000;   n_fswalk=1;  n_forkexec=5;   api_pods="10";         api_reps=2;  session_reps=1 ;;
  default) reps=${reps:-3}; n_getppid=200000; n_fswalk=40; n_forkexec=200; api_pods="10 100";     api_reps=20; session_reps=5 ;;
  full)    reps=${reps:-5}; n_getppid=500000; n_fswalk=100; n_forkexec=500; api_pods="10 100 1000"; api_reps=20; session_reps=10 ;;
esac

node_build=${node_build:-$build}
node_bin=$node_build/tracer-node/tracer-node
hooks=$node_build/trace-hooks
for f in "$node_bin" "$build/bench/getppid_loop" "$build/bench/fswalk" "$build/bench/forkexec"; do
  [ -x "$f" ] || { echo "bench: $f missing; build first (make build)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (unshare, ftrace)" >&2; exit 2; }
command -v jq >/dev/null && command -v curl >/dev/null || { echo "bench: needs jq and curl" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ct-bench.XXXXXX)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
samples=$tmp/samples.jsonl
: > "$samples"
instance=ctbench_$$          # trace-cmd's ftrace instance (one at a time, removed after each run)
tracefs=/sys/kernel/tracing
pids=()                      # every long-lived process we started
node_pid=
port=

# Drops a PID we have waited for, so cleanup never signals a PID the system may have reused.
forget() { local keep=() p; for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    curl -s -m 20 -X DELETE "http://127.0.0.1:$port/v1/trace-session/all" >/dev/null 2>&1
    kill -INT "$node_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$node_pid" 2>/dev/null
  fi
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -d "$tracefs/instances/$instance" ] && rmdir "$tracefs/instances/$instance" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

emit() { printf '%s\n' "$1" >> "$samples"; }   # one JSON object per line, read by report.py
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# ---------------------------------------------------------------------------------------------
# Tools: install the comparison tools from Debian if missing; probe that each can run here.
declare -A tool_status tool_version
ensure_pkg() {  # command package
  command -v "$1" >/dev/null && return 0
  log "installing $2 (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" > "$tmp/apt.log" 2>&1 ||
    { tool_status[$1]="not available: apt-get install $2 failed"; return 1; }
  command -v "$1" >/dev/null || { tool_status[$1]="not available: $2 installs no $1"; return 1; }
}
probe() {  # name command...: runs the tool once on a tiny workload; records why it cannot run
  local name=$1; shift
  if ! timeout 60 "$@" > "$tmp/probe.out" 2> "$tmp/probe.err"; then
    local why
    why=$(grep -v '^\s*$' "$tmp/probe.err" | head -1 | cut -c1-120)
    tool_status[$name]="not available: ${why:-exit status $?}"
  elif [ -z "${tool_status[$name]:-}" ]; then
    tool_status[$name]=ok
  fi
  [ -d "$tracefs/instances/$instance" ] && rmdir "$tracefs/instances/$instance" 2>/dev/null
  return 0
}
tiny=("$build/bench/getppid_loop" 10)
for t in strace:strace perf:linux-perf trace-cmd:trace-cmd bpftrace:bpftrace; do
  ensure_pkg "${t%%:*}" "${t#*:}"
done
[ -z "${tool_status[strace]:-}" ] && probe strace strace -f -c -o /dev/null "${tiny[@]}"
[ -z "${tool_status[perf]:-}" ] && probe perf perf trace -s -o /dev/null -- "${tiny[@]}"
[ -z "${tool_status[trace-cmd]:-}" ] &&
  probe trace-cmd trace-cmd record -q -B "$instance" -d -k -e raw_syscalls -F -c -o "$tmp/probe.dat" "${tiny[@]}"
[ -z "${tool_status[bpftrace]:-}" ] &&
  probe bpftrace bpftrace -q -c "${tiny[*]}" -e 'tracepoint:raw_syscalls:sys_enter /pid == cpid/ { @ = count(); }'
tool_version[strace]=$(strace -V 2>/dev/null | head -1)
tool_version[perf]=$(perf --version 2>/dev/null | head -1)
tool_version[trace-cmd]=$(trace-cmd --version 2>/dev/null | grep -m1 version)
tool_version[bpftrace]=$(bpftrace --version 2>/dev/null | head -1)
for t in strace perf trace-cmd bpftrace; do
  log "tool $t: ${tool_status[$t]} (${tool_version[$t]:-})"
  emit "$(jq -cn --arg t "$t" --arg s "${tool_status[$t]}" --arg v "${tool_version[$t]:-}" \
          '{kind:"tool", tool:$t, status:$s, version:$v}')"
done

# ---------------------------------------------------------------------------------------------
# tracer-node on a free loopback port.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 50); do
  port=$((20000 + RANDOM % 30000))
  port_free "$port" && break
done
api=http://127.0.0.1:$port
"$node_bin" --address "127.0.0.1:$port" --use-procfs --trace-hooks "$hooks" \
  --trace-output "$tmp/events.jsonl" --state-dir "$tmp/state" > "$tmp/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 200); do curl -sf -m 2 "$api/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -m 2 "$api/readyz" >/dev/null || { log "tracer-node did not become ready"; cat "$tmp/node.log" >&2; exit 1; }
log "tracer-node pid $node_pid on port $port"
# A second tracer-node with recording off (--record-limit 0), for what recording adds to the
# traced workload's slowdown (tool product-norec).
norec_pid= norec_api=
if [ -z "$only_tools" ] || [[ " $only_tools " == *" product-norec "* ]]; then
  for _ in $(seq 50); do norec_port=$((20000 + RANDOM % 30000)); port_free "$norec_port" && [ "$norec_port" != "$port" ] && break; done
  "$node_bin" --address "127.0.0.1:$norec_port" --use-procfs --trace-hooks "$hooks" --record-limit 0 \
    --trace-output "$tmp/events.jsonl" --state-dir "$tmp/state-norec" > "$tmp/node-norec.log" 2>&1 &
  norec_pid=$!
  pids+=("$norec_pid")
  norec_api=http://127.0.0.1:$norec_port
  for _ in $(seq 200); do curl -sf -m 2 "$norec_api/readyz" >/dev/null && break; sleep 0.1; done
fi

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
sleep 1
emit "{\"kind\":\"rss\",\"state\":\"idle\",\"kb\":$(rss_kb "$node_pid")}"

# ---------------------------------------------------------------------------------------------
# One measured run of a workload under a tool.
#
# Timing: every workload waits for a start file before its measured part and prints its result
# line (flushed) when done. t0 = just before the start file is created (after the tool is
# attached), t1 = when that line arrives on our pipe. So tool start-up and tear-down (bpftrace's
# compile, trace-cmd writing its file, ...) are not counted; only the workload's own run is.

# Prints the PID of the descendant of $1 whose command line starts with $2 (empty if none yet).
find_descendant() {
  ps -e -o pid=,ppid=,args= | awk -v root="$1" -v exe="$2" '
    { pid[NR] = $1; ppid[NR] = $2; args[NR] = $0; sub(/^ *[0-9]+ +[0-9]+ +/, "", args[NR]) }
    END {
      mine[root] = 1
      for (changed = 1; changed; ) {
        changed = 0
        for (i = 1; i <= NR; i++) if ((ppid[i] in mine) && !(pid[i] in mine)) { mine[pid[i]] = 1; changed = 1 }
      }
      for (i = 1; i <= NR; i++) if ((pid[i] in mine) && index(args[i], exe) == 1) { print pid[i]; exit }
    }'
}

api_call() {  # method path [body]: prints the body, exits non-zero on non-2xx (node: $node_api, else $api)
  curl -sf -m 60 -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "${node_api:-$api}$2"
}

run_sample() {  # workload tool rep
  local workload=$1 tool=$2 rep=$3 seq=$((++run_seq))
  local start=$tmp/start.$seq fifo=$tmp/fifo.$seq out=$tmp/out.$seq err=$tmp/err.$seq
  local syscall nr n cmd=() exe
  case $workload in
    getppid)  syscall=getppid;    nr=110; n=$n_getppid;  cmd=("$build/bench/getppid_loop" "$n" "$start") ;;
    fswalk)   syscall=newfstatat; nr=262; n=$n_fswalk;   cmd=("$build/bench/fswalk" "$tmp/fs" "$n" "$start") ;;
    forkexec) syscall=execve;     nr=59;  n=$n_forkexec; cmd=("$build/bench/forkexec" "$n" "$start") ;;
  esac
  exe=${cmd[0]}
  local launch=() pod=ctbench$$-$seq
  case $tool in
    untraced)  launch=("${cmd[@]}") ;;
    product|product-norec)
               launch=(unshare --uts --pid --fork --kill-child --mount-proc sh -c "hostname $pod; exec ${cmd[*]}") ;;
    strace-c)  launch=(strace -f -c -o "$out" "${cmd[@]}") ;;
    strace-o)  launch=(strace -f -o /dev/null "${cmd[@]}") ;;
    perf)      launch=(perf trace -s -o "$out" -- "${cmd[@]}") ;;
    trace-cmd) launch=(trace-cmd record -q -B "$instance" -d -k -e raw_syscalls -f "id == $nr" -F -c -o "$out" "${cmd[@]}") ;;
    bpftrace)  launch=(bpftrace -q -c "${cmd[*]}" -e "
        BEGIN { @t[cpid] = 1; }
        tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ { @t[args->child_pid] = 1; }
        tracepoint:raw_syscalls:sys_enter /@t[pid] && args->id == $nr/ { @enter = count(); }
        tracepoint:raw_syscalls:sys_exit /@t[pid] && args->id == $nr/ { @exit = count(); }
        END { clear(@t); }") ;;
  esac
  rm -f "$start"; mkfifo "$fifo"
  "${launch[@]}" > "$fifo" 2> "$err" &
  local lpid=$! fd
  pids+=("$lpid")
  exec {fd}< "$fifo"
  local fail= wpid= id= measure_rss= node_api=$api
  [ "$tool" = product-norec ] && node_api=$norec_api
  for _ in $(seq 1500); do  # the workload exists (exec'd, so the tool is attached): up to 30 s
    wpid=$(find_descendant "$lpid" "$exe"); [ -n "$wpid" ] && break
    kill -0 "$lpid" 2>/dev/null || break; sleep 0.02
  done
  [ -n "$wpid" ] || fail="workload did not start: $(head -c 200 "$err")"
  if [ -z "$fail" ] && [[ $tool = product* ]]; then
    local body
    body=$(jq -cn --arg p "$pod" --arg a "-s $syscall" \
      '{pod:$p, container:"*", "trace-hook":"trace_syscalls", "trace-arguments":$a, "trace-user-context":"bench"}')
    for _ in $(seq 100); do  # until discovery has seen the pod
      id=$(api_call POST /v1/trace-session "$body" 2>/dev/null | jq -r 'keys[0]') && [ -n "$id" ] && break
      id=; sleep 0.1
    done
    if [ -z "$id" ]; then fail="session not created"
    elif ! api_call PUT "/v1/trace-session/$id" '{"Run": true}' >/dev/null; then fail="session not started"
    fi
    # tracer-node's peak RSS while it exports this run's events: the kernel keeps the high-water
    # mark (VmHWM) once reset here, so nothing samples it (a sampler would take CPU from the run).
    [ "$workload" = getppid ] && [ "$tool" = product ] && echo 5 > "/proc/$node_pid/clear_refs" && measure_rss=1
  fi
  local t0 t1 line= count=
  t0=$(now)
  : > "$start"
  if [ -z "$fail" ]; then
    while IFS= read -r -t 600 line <&"$fd"; do
      [[ $line =~ ^(getppid |fswalk |forkexec )?([0-9]+) ]] && { count=${BASH_REMATCH[2]}; break; }
    done
    t1=$(now)
    [ -n "$count" ] || fail="no result line from the workload: $(head -c 200 "$err")"
  fi
  cat <&"$fd" > "$tmp/rest.$seq"   # the rest (bpftrace prints its maps here) until the tool exits
  exec {fd}<&-
  wait "$lpid"; local rc=$?
  forget "$lpid"
  [ -z "$fail" ] && [ "$rc" -ne 0 ] && fail="exit status $rc: $(head -c 200 "$err")"
  local expected=null delivered=null lost=null unit=null extra='{}'
  if [[ $tool = product* ]] && [ -n "$id" ]; then
    local ts te view record='{}'
    ts=$(now); api_call PUT "/v1/trace-session/$id" '{"Run": false}' >/dev/null; te=$(now)
    view=$(api_call GET "/v1/trace-session/$id")
    if [ "$tool" = product ]; then
      # What the recording costs on disk next to the JSON-lines output, and how fast it exports.
      local rec_dir=$tmp/state/recordings/session-$id xs xe js je
      xs=$(now); curl -sf -m 600 -o "$tmp/export.dat" "$api/v1/trace-session/$id/trace.dat"; xe=$(now)
      js=$(now); curl -sf -m 600 -o "$tmp/export.json" "$api/v1/trace-session/$id/trace.json"; je=$(now)
      record=$(jq -cn --argjson seg "$(find "$rec_dir" -name '*.ctrec' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')" \
        --argjson all "$(du -sb "$rec_dir" 2>/dev/null | cut -f1)" --argjson jl "$(stat -c %s "$tmp/events.jsonl")" \
        --argjson db "$(stat -c %s "$tmp/export.dat" 2>/dev/null || echo 0)" --arg ds "$(elapsed "$xs" "$xe")" \
        --argjson jb "$(stat -c %s "$tmp/export.json" 2>/dev/null || echo 0)" --arg jsec "$(elapsed "$js" "$je")" \
        '{record:{segment_bytes:$seg, dir_bytes:$all, jsonl_bytes:$jl, dat_bytes:$db, dat_seconds:($ds|tonumber),
                  json_bytes:$jb, json_seconds:($jsec|tonumber)}}')
      rm -f "$tmp/export.dat" "$tmp/export.json"
    fi
    api_call DELETE "/v1/trace-session/$id" >/dev/null
    unit='"events"'; expected=$((2 * ${count:-0}))  # the pod exec'd the workload before the session
    delivered=$(grep -c "\"session\":\"$id\"" "$tmp/events.jsonl")
    # Emptied after each run (tracer-node appends, so it writes on from 0): gigabytes of events
    # would otherwise pile up until the kernel's dirty-page writeback slows the later runs.
    : > "$tmp/events.jsonl"
    lost=$(jq -r --arg id "$id" '.[$id].Stats.Lost // "null"' <<<"$view")
    extra=$(jq -c --arg id "$id" --arg stop "$(elapsed "$ts" "$te")" --argjson rec "$record" \
      '{stats: .[$id].Stats, stop_seconds: ($stop | tonumber)} + $rec' <<<"$view")
    if [ -n "$measure_rss" ]; then
      emit "{\"kind\":\"rss\",\"state\":\"exporting\",\"kb\":$(awk '/^VmHWM:/ { print $2 }' "/proc/$node_pid/status")}"
    fi
  elif [ -z "$fail" ]; then
    # Tools that launch the workload also see its own execve.
    [ "$syscall" = execve ] && count=$((count + 1))
    case $tool in
      strace-c) unit='"calls"'; expected=$count
                delivered=$(awk -v s="$syscall" '$NF == s { print $4 }' "$out" | head -1) ;;
      perf)     unit='"calls"'; expected=$count
                delivered=$(awk -v s="$syscall" '$1 == s { c += $2 } END { print c + 0 }' "$out")
                lost=$(grep -oE 'LOST [0-9]+' "$out" "$err" | awk '{ l += $2 } END { print l + 0 }') ;;
      trace-cmd) unit='"events"'; expected=$((2 * count))
                delivered=$(trace-cmd report -i "$out" 2>/dev/null | grep -c 'sys_e')
                # Its file on disk: whole, and the trace data alone (flyrecord sections).
                extra=$(jq -cn --argjson all "$(stat -c %s "$out")" \
                  --argjson data "$(trace-cmd dump --summary -i "$out" 2>/dev/null | grep -oE '[0-9]+ bytes flyrecord data' | awk '{ s += $1 } END { print s + 0 }')" \
                  '{record:{file_bytes:$all, data_bytes:$data}}')
                lost=$(trace-cmd report -i "$out" --stat 2>/dev/null | awk '/^overrun:/ { l += $2 } END { print l + 0 }') ;;
      bpftrace) unit='"events"'; expected=$((2 * count))
                delivered=$(awk '/^@(enter|exit):/ { c += $2 } END { print c + 0 }' "$tmp/rest.$seq") ;;
    esac
  fi
  [ -d "$tracefs/instances/$instance" ] && rmdir "$tracefs/instances/$instance" 2>/dev/null
  rm -f "$fifo" "$start" "$out" "$tmp/rest.$seq"
  local seconds=null; [ -z "$fail" ] && seconds=$(elapsed "$t0" "$t1")
  emit "$(jq -cn --arg w "$workload" --arg t "$tool" --argjson r "$rep" --argjson s "$seconds" \
    --argjson e "${expected:-null}" --argjson d "${delivered:-null}" --argjson l "${lost:-null}" \
    --argjson u "$unit" --arg f "$fail" --argjson x "$extra" --arg sc "$syscall" --argjson n "$n" \
    '{kind:"run", workload:$w, tool:$t, rep:$r, n:$n, syscall:$sc, seconds:$s, unit:$u, expected:$e,
      delivered:$d, lost:$l, error:(if $f == "" then null else $f end)} + $x')"
  log "$workload/$tool rep $rep: ${seconds}s expected=$expected delivered=$delivered lost=$lost ${fail:+FAILED: $fail}"
}
run_seq=0

tools=()
for t in untraced product product-norec strace-c strace-o perf trace-cmd bpftrace; do
  base=${t%%-[co]}
  [ -n "$only_tools" ] && [[ " $only_tools " != *" $t "* ]] && continue
  [[ $base = untraced || $base = product* || ${tool_status[$base]} = ok ]] && tools+=("$t")
done
for workload in ${only_workloads:-getppid fswalk forkexec}; do
  for rep in $(seq "$reps"); do
    for tool in "${tools[@]}"; do
      run_sample "$workload" "$tool" "$rep"
    done
  done
done

# ---------------------------------------------------------------------------------------------
# API latency with N one-process pods (unshare --uts, hostname = pod name, exec sleep).
curl_time() {  # method path [body]: prints seconds (curl's own measure, not its start-up)
  curl -s -o "$tmp/curl.body" -m 120 -w '%{http_code} %{time_total}' -X "$1" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} "$api$2"
}
api_sample() {  # op pods seconds|error
  emit "$(jq -cn --arg o "$1" --argjson p "$2" --arg v "$3" \
    '{kind:"api", op:$o, pods:$p} + (if ($v | test("^[0-9.]+$")) then {seconds:($v | tonumber)} else {error:$v} end)')"
}
if [ -z "$overhead_only" ]; then
  prefix=ctbpod$$-
  have=0
  for want in $api_pods; do
    while [ "$have" -lt "$want" ]; do
      unshare --uts sh -c "hostname $prefix$have; exec sleep 3600" &
      pids+=("$!"); have=$((have + 1))
    done
    seen=0
    for _ in $(seq 600); do
      seen=$(curl -s -m 30 "$api/v1/pods" | jq --arg p "$prefix" '[keys[] | select(startswith($p))] | length')
      [ "${seen:-0}" -ge "$want" ] && break; sleep 0.1
    done
    total=$(curl -s -m 30 "$api/v1/pods" | jq 'length')
    log "GET /v1/pods: $seen of our $want pods visible ($total pods in all)"
    for _ in $(seq "$api_reps"); do
      read -r code secs <<<"$(curl_time GET /v1/pods)"
      [ "$code" = 200 ] && api_sample "GET /v1/pods" "$want" "$secs" || api_sample "GET /v1/pods" "$want" "HTTP $code"
    done
    emit "{\"kind\":\"rss\",\"state\":\"idle, $want pods\",\"kb\":$(rss_kb "$node_pid")}"
  done
  body=$(jq -cn --arg p "${prefix}0" \
    '{pod:$p, container:"*", "trace-hook":"trace_syscalls", "trace-arguments":"-s getppid", "trace-user-context":"bench"}')
  first=${api_pods%% *}
  for _ in $(seq "$session_reps"); do
    read -r code secs <<<"$(curl_time POST /v1/trace-session "$body")"
    id=$(jq -r 'keys[0]' "$tmp/curl.body" 2>/dev/null)
    [ "$code" = 200 ] && api_sample "session create" "$first" "$secs" || { api_sample "session create" "$first" "HTTP $code"; continue; }
    for step in "start:PUT:{\"Run\": true}" "stop:PUT:{\"Run\": false}" "delete:DELETE:"; do
      IFS=: read -r name method data <<<"$step"
      read -r code secs <<<"$(curl_time "$method" "/v1/trace-session/$id" "$data")"
      [ "$code" = 200 ] && api_sample "session $name" "$first" "$secs" || api_sample "session $name" "$first" "HTTP $code"
    done
  done

fi

# ---------------------------------------------------------------------------------------------
# Machine and report.
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
jq -n --arg mode "$mode" --argjson reps "$reps" --arg nproc "$(nproc)" \
  --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
  --arg kernel "$(uname -sr)" --argjson mem "$mem_kb" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg load0 "$load_start" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)" \
  --arg tools "$only_tools" --arg workloads "$only_workloads" --argjson overhead_only "${overhead_only:-0}" \
  --arg build "$build" --argjson ng "$n_getppid" --argjson nf "$n_fswalk" --argjson nx "$n_forkexec" \
  '{mode:$mode, reps:$reps, date:$date, commit:$commit, build:$build,
    only_tools:$tools, only_workloads:$workloads, overhead_only:($overhead_only == 1),
    machine:{nproc:($nproc | tonumber), cpu:$cpu, kernel:$kernel, mem_total_kb:$mem, loadavg_at_start:$load0, loadavg_at_end:$load},
    params:{getppid_calls:$ng, fswalk_passes:$nf, fswalk_files:512, forkexec_execs:$nx}}' > "$tmp/meta.json"
mkdir -p "$out_dir"
/usr/bin/python3 "$repo/bench/report.py" "$tmp/meta.json" "$samples" "$out_dir"

# ---------------------------------------------------------------------------------------------
# Programs that print their own figures: appended to the report as they print them.
# figures NAME TITLE INTRO CHECK_REGEX BIN ARGS...: runs BIN ARGS, and if its output matches
# CHECK_REGEX appends "## TITLE", INTRO and the output; a missing or failed program is reported
# as such (and fails --quick).
figures() {
  local name=$1 title=$2 intro=$3 check=$4 bin=$5; shift 5
  if [ ! -x "$bin" ]; then
    printf '\n## %s\n\nnot available: %s was not built\n' "$title" "$bin" >> "$out_dir/benchmarks.md"
    return
  fi
  if "$bin" "$@" > "$tmp/$name.txt" 2>>"$tmp/$name.err" && grep -q "$check" "$tmp/$name.txt"; then
    { printf '\n## %s\n\n' "$title"; [ -n "$intro" ] && printf '%s\n\n' "$intro"
      printf '```\n'; cat "$tmp/$name.txt"; printf '```\n'; } >> "$out_dir/benchmarks.md"
  else
    log "$name benchmark produced no figures: $(tail -1 "$tmp/$name.err" 2>/dev/null)"
    [ "$mode" = quick ] && exit 1
  fi
}

# Overhead of the syscall_stats eBPF hook (bench/syscall_stats_bench: counted in the kernel, no
# events; the loop's CPU time, same-run ratios).
log "syscall_stats: getppid loop counted, as a bystander, and the empty-program floor"
case $mode in
  quick) stats_args=(--quick) ;;
  default) stats_args=(--calls 2000000 --reps 7) ;;
  full) stats_args=(--calls 2000000 --reps 11) ;;
esac
figures syscall_stats "syscall_stats overhead (counted in the kernel)" \
  "The getppid loop counted by a \`syscall_stats\` run (every syscall), untraced while a run counts another process (bystander), and under empty BPF programs on sys_enter/sys_exit (the floor any program there costs every task). Ratios are medians of same-repetition ratios of the loop's CPU time (utime + stime), which a busy machine distorts less than wall time." \
  "^counted " "$build/bench/syscall_stats_bench" "${stats_args[@]}"

[ -n "$overhead_only" ] && exit 0

# Discovery (bench/discovery_bench: one procfs listing with 1,000 unshare pods, the full scan
# beside the incremental one, alternating).
log "discovery: procfs listing, full scan beside incremental"
if [ "$mode" = quick ]; then discovery_args=(--quick); else discovery_args=(1000 30); fi
figures discovery "Discovery: one procfs listing, full scan against incremental" \
  "One-process \`unshare --uts\` pods; \"full\" reads every process in full each listing (as every listing did before discovery became incremental), \"incremental\" keeps a ProcfsSource whose scanner re-reads only new and changed processes; \"scan\" rows are the process table alone (no hostnames, no pod map). The two kinds alternate, so both see the same load. GET /v1/pods adds JSON and HTTP on top (API latency above)." \
  "^  incremental " "$build/bench/discovery_bench" "${discovery_args[@]}"

# Fan-out through tracer-svc (bench/svc_fanout: stand-in nodes over real loopback HTTP, beside a
# bare epoll client doing the same fan-out: the floor).
log "fan-out: GET /v1/pods through tracer-svc with 200 and 1000 nodes, beside the floor"
if [ "$mode" = quick ]; then fanout_args=(--quick); else fanout_args=(--sizes 1,200,1000 200); fi
figures fanout "Fan-out latency through tracer-svc against the floor" \
  "Each row interleaves requests through tracer-svc (kept-alive client) with bare fan-out rounds to the same stand-in nodes, so both see the same load; x med / x p99 = tracer-svc over the floor; svc CPU/node = tracer-svc's CPU time per node exchange." \
  "^ *200 |" "$build/bench/svc_fanout" "${fanout_args[@]}"

# Live streams at scale (bench/stream_fanout: 1,000 readers of one session through tracer-svc).
log "streams: readers of one session through tracer-svc"
if [ "$mode" = quick ]; then stream_args=(100 2000); else stream_args=(1000 20000); fi
figures streams "Live streams at scale (${stream_args[0]} readers through tracer-svc)" \
  "A pod makes ${stream_args[1]} getppid calls under \`trace_syscalls -s getppid\`; ${stream_args[0]} clients (asynchronous, one thread) follow the session's live stream through tracer-svc, which reads one stream from tracer-node and fans it out. Threads from /proc/<pid>/status; \"idle\" = session running, no reader." \
  "^fan-out:" "$build/bench/stream_fanout" "${stream_args[@]}"

# Full pipeline throughput (bench/pipeline_bench: raw capture -> decode -> JSON-lines file).
log "pipeline: getppid at full speed through raw capture into a JSON-lines file"
if [ "$mode" = quick ]; then pipeline_args=(100000 1); else pipeline_args=(2000000 3); fi
figures pipeline "Export pipeline throughput (raw capture -> JSON lines)" \
  "A pod makes getppid calls at full speed under \`trace_syscalls -s getppid\`; tracer-node writes every event to a JSON-lines file. \"sustained\" = events delivered / time until the session stopped with everything written; CPU = tracer-node user+system time over the run." \
  "^run 0:" "$build/bench/pipeline_bench" "${pipeline_args[@]}"
