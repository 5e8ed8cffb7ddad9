#!/usr/bin/env bash
# GET /v1/pods latency with N one-process pods, alone (bench/run.sh's API part measures the same
# inside the full suite; this one runs in seconds). Starts tracer-node --use-procfs on a free
# loopback port and N `unshare --uts` pods (hostname = pod name, exec sleep), waits until every
# pod is listed, then times `reps` requests (curl's time_total) and prints median, p99,
# tracer-node's CPU time per request (utime + stime: what a loaded machine distorts least) and
# the load average before and after. Needs root. Cleans up every process it started, by PID.
#
# Usage: bench/pods_latency.sh [--quick] [pods] [reps]     (default 1000 pods, 50 requests)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
node_bin=$build/tracer-node/tracer-node
pods=1000 reps=50
if [ "${1:-}" = --quick ]; then pods=20 reps=5; shift; fi
pods=${1:-$pods} reps=${2:-$reps}
[ -x "$node_bin" ] || { echo "pods_latency: $node_bin missing; build first" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "pods_latency: needs root (unshare)" >&2; exit 2; }
command -v jq >/dev/null && command -v curl >/dev/null || { echo "pods_latency: needs jq and curl" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ct-podslat.XXXXXX)
pids=()
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill -INT "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 50); do port=$((20000 + RANDOM % 30000)); port_free "$port" && break; done
api=http://127.0.0.1:$port
mkdir -p "$tmp/hooks"
"$node_bin" --address "127.0.0.1:$port" --use-procfs --trace-hooks "$tmp/hooks" \
  --trace-output "$tmp/events.jsonl" --state-dir "$tmp/state" > "$tmp/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 200); do curl -sf -m 2 "$api/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -m 2 "$api/readyz" >/dev/null || { echo "tracer-node did not become ready" >&2; cat "$tmp/node.log" >&2; exit 1; }

prefix=ctlat$$-
for i in $(seq 0 $((pods - 1))); do
  unshare --uts sh -c "hostname $prefix$i; exec sleep 3600" &
  pids+=("$!")
done
seen=0
for _ in $(seq 600); do
  seen=$(curl -s -m 30 "$api/v1/pods" | jq --arg p "$prefix" '[keys[] | select(startswith($p))] | length')
  [ "${seen:-0}" -ge "$pods" ] && break
  sleep 0.2
done
[ "${seen:-0}" -ge "$pods" ] || { echo "only $seen of $pods pods visible" >&2; exit 1; }
total=$(curl -s -m 30 "$api/v1/pods" | jq 'length')
sleep 6  # steady state: discovery checks a process on every listing only while it is young (5 s)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$node_pid/stat"; }  # utime + stime, all threads
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_before=$(cpu_ticks)
for _ in $(seq "$reps"); do
  curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total}\n' "$api/v1/pods"
done > "$tmp/times"
cpu_after=$(cpu_ticks)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_ms=$(awk -v a="$cpu_before" -v b="$cpu_after" -v t="$(getconf CLK_TCK)" -v n="$reps" 'BEGIN { printf "%.1f", (b - a) * 1000 / t / n }')
if awk '$1 != 200 { bad = 1 } END { exit !bad }' "$tmp/times"; then
  echo "some requests failed:" >&2; sort "$tmp/times" | uniq -c >&2; exit 1
fi
awk '{ print $2 * 1000 }' "$tmp/times" | sort -n > "$tmp/ms"
n=$(wc -l < "$tmp/ms")
median=$(awk -v n="$n" 'NR == int((n + 1) / 2) { printf "%.1f", $1 }' "$tmp/ms")
p99=$(awk -v n="$n" 'BEGIN { k = int(n * 0.99 + 0.999999) } NR == k { printf "%.1f", $1 }' "$tmp/ms")
printf 'GET /v1/pods: %d pods listed (%d ours), %d requests: median %s ms, p99 %s ms, tracer-node CPU %s ms per request; load %s -> %s; %d cores\n' \
  "$total" "$pods" "$n" "$median" "$p99" "$cpu_ms" "$load_before" "$load_after" "$(nproc)"
