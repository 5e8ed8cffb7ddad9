"""report.py META SAMPLES OUT_DIR: turns bench/run.sh's raw samples into OUT_DIR/benchmarks.json
and OUT_DIR/benchmarks.md. Run by bench/run.sh with /usr/bin/python3 (stdlib only).

Exits 1 when a benchmark produced no numbers (a tool that was available but never yielded a time,
a workload without an untraced or product figure, an API operation without a latency, no RSS):
bench_quick relies on that so the harness cannot silently rot. A tool that cannot run on this
machine is reported as "not available: <reason>", which is not a failure.
"""
import json
import statistics
import sys

WORKLOADS = ["getppid", "fswalk", "forkexec"]
TOOL_NAMES = {
    "untraced": "untraced (baseline)",
    "product": "container-tracer (tracer-node, trace_syscalls, JSON lines + recording)",
    "product-norec": "container-tracer, recording off (--record-limit 0)",
    "strace-c": "strace -f -c",
    "strace-o": "strace -f -o /dev/null",
    "perf": "perf trace -s",
    "trace-cmd": "trace-cmd record -d -k -e raw_syscalls -F -c",
    "bpftrace": "bpftrace (raw_syscalls tracepoints, count())",
}
TOOL_PACKAGE = {"strace-c": "strace", "strace-o": "strace", "perf": "perf", "trace-cmd": "trace-cmd",
                "bpftrace": "bpftrace"}
WORKLOAD_TEXT = {
    "getppid": "getppid_loop: {getppid_calls} raw getppid calls",
    "fswalk": "fswalk: {fswalk_passes} passes over {fswalk_files} files, one newfstatat each",
    "forkexec": "forkexec: {forkexec_execs} fork + exec /bin/true",
}


def summary(values):
    values = sorted(values)
    if not values:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"n": len(values), "median": statistics.median(values), "min": values[0], "max": values[-1],
            "p25": q[0], "p75": q[2]}


def main():
    meta = json.load(open(sys.argv[1]))
    samples = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
    out_dir = sys.argv[3]
    problems = []

    tools = {s["tool"]: s for s in samples if s["kind"] == "tool"}
    runs = [s for s in samples if s["kind"] == "run"]
    # A run limited with --tools/--workloads/--overhead-only reports only what it ran.
    chosen_workloads = meta.get("only_workloads", "").split() or WORKLOADS
    chosen_tools = meta.get("only_tools", "").split() or list(TOOL_NAMES)
    overhead = []
    for w in [w for w in WORKLOADS if w in chosen_workloads]:
        base = summary([r["seconds"] for r in runs if r["workload"] == w and r["tool"] == "untraced"
                        and r["seconds"] is not None])
        for t in [t for t in TOOL_NAMES if t in chosen_tools]:
            mine = [r for r in runs if r["workload"] == w and r["tool"] == t]
            row = {"workload": w, "tool": t, "command": TOOL_NAMES[t]}
            pkg = TOOL_PACKAGE.get(t)
            status = tools.get(pkg, {}).get("status", "ok") if pkg else "ok"
            if status != "ok":
                row["status"] = status
                overhead.append(row)
                continue
            times = summary([r["seconds"] for r in mine if r["seconds"] is not None])
            row["seconds"] = times
            row["errors"] = [r["error"] for r in mine if r.get("error")]
            if times and base:
                row["ratio"] = times["median"] / base["median"]
            if not times:
                problems.append(f"{w}/{t}: no time ({'; '.join(row['errors']) or 'no runs'})")
            counted = [r for r in mine if r.get("unit") and r.get("delivered") is not None]
            if counted:
                row["completeness"] = {
                    "unit": counted[0]["unit"],
                    "syscall": counted[0]["syscall"],
                    "expected": sum(r["expected"] for r in counted),
                    "delivered": sum(r["delivered"] for r in counted),
                    "lost": (sum(r["lost"] for r in counted if r.get("lost") is not None)
                             if any(r.get("lost") is not None for r in counted) else None),
                    "runs": len(counted),
                }
                if t.startswith("product"):
                    row["completeness"]["stats_delivered"] = sum(r["stats"]["Delivered"] for r in counted)
                    row["stop_seconds"] = summary([r["stop_seconds"] for r in counted])
            elif t in ("product", "product-norec", "strace-c", "perf", "trace-cmd", "bpftrace"):
                problems.append(f"{w}/{t}: no event counts")
            overhead.append(row)

    api = []
    for op in dict.fromkeys(s["op"] for s in samples if s["kind"] == "api"):
        for pods in dict.fromkeys(s["pods"] for s in samples if s["kind"] == "api" and s["op"] == op):
            mine = [s for s in samples if s["kind"] == "api" and s["op"] == op and s["pods"] == pods]
            lat = summary([s["seconds"] for s in mine if "seconds" in s])
            errors = [s["error"] for s in mine if "error" in s]
            api.append({"op": op, "pods": pods, "seconds": lat, "errors": errors})
            if not lat:
                problems.append(f"API {op} with {pods} pods: no latency ({'; '.join(errors)})")
    for op in () if meta.get("overhead_only") else (
            "GET /v1/pods", "session create", "session start", "session stop", "session delete"):
        if not any(a["op"] == op for a in api):
            problems.append(f"API {op}: not measured")

    rss = {}
    for s in samples:
        if s["kind"] == "rss" and isinstance(s.get("kb"), int):
            rss[s["state"]] = max(rss.get(s["state"], 0), s["kb"])
    for state in ("idle", "exporting"):
        if state not in rss and "getppid" in chosen_workloads and "product" in chosen_tools:
            problems.append(f"RSS {state}: not measured")

    recording = []
    for w in [w for w in WORKLOADS if w in chosen_workloads]:
        row = {"workload": w}
        prod = [r for r in runs if r["workload"] == w and r["tool"] == "product" and r.get("record")]
        events = sum(r["stats"]["Exporters"]["record"]["Exported"] for r in prod if r.get("stats"))
        if prod and events:
            rec = lambda key: sum(r["record"][key] for r in prod)
            row.update({"events": events,
                        "record_bytes_per_event": rec("segment_bytes") / events,
                        "record_dir_bytes_per_event": rec("dir_bytes") / events,
                        "jsonl_bytes_per_event": rec("jsonl_bytes") / max(1, sum(r["delivered"] or 0 for r in prod)),
                        "dat_mb_per_s": rec("dat_bytes") / 1e6 / max(1e-9, rec("dat_seconds")),
                        "dat_events_per_s": events / max(1e-9, rec("dat_seconds")),
                        "json_mb_per_s": rec("json_bytes") / 1e6 / max(1e-9, rec("json_seconds")),
                        "json_events_per_s": events / max(1e-9, rec("json_seconds"))})
        tc = [r for r in runs if r["workload"] == w and r["tool"] == "trace-cmd" and r.get("record")]
        tc_events = sum(r["delivered"] or 0 for r in tc)
        if tc and tc_events:
            row["trace_cmd_file_bytes_per_event"] = sum(r["record"]["file_bytes"] for r in tc) / tc_events
            row["trace_cmd_data_bytes_per_event"] = sum(r["record"]["data_bytes"] for r in tc) / tc_events
        slow = {t: next((o.get("ratio") for o in overhead if o["workload"] == w and o["tool"] == t), None)
                for t in ("product", "product-norec")}
        if slow["product"] and slow["product-norec"]:
            row["slowdown_with_recording"] = slow["product"]
            row["slowdown_without_recording"] = slow["product-norec"]
        if len(row) > 1:
            recording.append(row)
        elif "product" in chosen_tools:
            problems.append(f"{w}: no recording figures")

    result = dict(meta)
    result.update({"tools": tools, "overhead": overhead, "recording": recording, "api": api, "rss_kb": rss,
                   "problems": problems,
                   "note": "Measured on a shared machine that may be busy; figures are noisy."})
    with open(f"{out_dir}/benchmarks.json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    with open(f"{out_dir}/benchmarks.md", "w") as f:
        f.write(render(result))
    for p in problems:
        print(f"bench: PROBLEM: {p}", file=sys.stderr)
    print(f"bench: wrote {out_dir}/benchmarks.md and {out_dir}/benchmarks.json", file=sys.stderr)
    return 1 if problems else 0


def fmt_s(v):
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.3f} s"


def render(r):
    m = r["machine"]
    p = r["params"]
    out = ["# Benchmarks", "",
           f"Generated by `make bench` (`bench/run.sh`, mode `{r['mode']}`, {r['reps']} repetition(s)) on "
           f"{r['date']} at commit `{r['commit']}`. Rerun with `make bench` (`BENCH_ARGS=--full` for 1,000 pods "
           "and bigger N; `BENCH_ARGS=--quick` for a smoke run).", ""]
    limits = [f"--tools \"{r['only_tools']}\"" if r.get("only_tools") else "",
              f"--workloads \"{r['only_workloads']}\"" if r.get("only_workloads") else "",
              "--overhead-only" if r.get("overhead_only") else ""]
    if any(limits):
        out += [f"This run was limited with `{' '.join(x for x in limits if x)}`: it covers only what is "
                "below.", ""]
    out += ["## Machine", "",
           f"- CPUs: {m['nproc']} x {m['cpu']}",
           f"- Kernel: {m['kernel']}",
           f"- Memory: {m['mem_total_kb'] / 1048576:.1f} GiB",
           f"- Load average at start / end: {m['loadavg_at_start']} / {m['loadavg_at_end']}",
           "",
           "> **Noise warning.** This machine was shared with other jobs (compilers, tests) while these "
           "figures were taken; see the load average. Read ratios as rough, and rerun on an idle machine "
           "before drawing conclusions. Spread is min-max and IQR (p25-p75) over repetitions.",
           "", "## Tools", ""]
    out += ["| tool | status | version |", "|---|---|---|"]
    for name, t in r["tools"].items():
        out.append(f"| {name} | {t['status']} | {t['version'] or '-'} |")
    out += ["", "## Tracing overhead", "",
            "Wall time of the workload's measured part only (from the start signal to its result line); "
            "tool start-up and tear-down are excluded. Runs are interleaved (A B C A B C ...). "
            "The product runs the workload in an `unshare --uts --pid` pod traced by a `trace_syscalls -s "
            "<syscall>` session; the baseline and the other tools run it directly.", ""]
    for w in dict.fromkeys(o["workload"] for o in r["overhead"]):
        rows = [o for o in r["overhead"] if o["workload"] == w]
        out += [f"### {WORKLOAD_TEXT[w].format(**p)}", "",
                "| tool | median | min-max | IQR | slowdown vs untraced | runs |", "|---|---|---|---|---|---|"]
        for o in rows:
            if "status" in o:
                out.append(f"| {o['command']} | {o['status']} | | | | |")
                continue
            s = o["seconds"]
            if not s:
                out.append(f"| {o['command']} | failed: {'; '.join(o['errors'])[:150]} | | | | |")
                continue
            ratio = f"{o['ratio']:.2f}x" if "ratio" in o else "-"
            out.append(f"| {o['command']} | {fmt_s(s['median'])} | {fmt_s(s['min'])}-{fmt_s(s['max'])} | "
                       f"{fmt_s(s['p25'])}-{fmt_s(s['p75'])} | {ratio} | {s['n']} |")
        out.append("")
    out += ["## Completeness", "",
            "Expected = the workload's own count of the syscall (x2 for enter+exit where the tool reports "
            "events; strace -c and perf trace -s report calls). Delivered = events the tool handed over "
            "(product: lines of that session in the JSON-lines output), summed over runs. Lost = what the "
            "tool itself reports lost (product: session Stats.Lost; trace-cmd: ring-buffer overruns; perf: "
            "LOST records); `-` where the tool has no such figure (strace is synchronous, bpftrace count() "
            "maps do not drop).", "",
            "| workload | tool | syscall | unit | expected | delivered | delivered % | lost |",
            "|---|---|---|---|---|---|---|---|"]
    for o in r["overhead"]:
        c = o.get("completeness")
        if not c:
            continue
        pct = f"{100 * c['delivered'] / c['expected']:.2f}%" if c["expected"] else "-"
        lost = "-" if c["lost"] is None else str(c["lost"])
        extra = f" (Stats.Delivered {c['stats_delivered']})" if "stats_delivered" in c else ""
        out.append(f"| {o['workload']} | {o['command']} | {c['syscall']} | {c['unit']} | {c['expected']} | "
                   f"{c['delivered']}{extra} | {pct} | {lost} |")
    out += ["", "Notes: the product attaches to a workload that is already running; the other tools launch "
            "it, so they also see its own execve (counted in expected) and the dynamic loader's few "
            "newfstatat calls (not counted: delivered slightly above expected for fswalk is expected). "
            "For the fork/exec burst, strace -c and perf trace -s count execve calls; the tracepoint tools "
            "count enter+exit events of execve in all children.", ""]
    out += ["## Recording and viewer export", "",
            "Bytes per event on disk: the product's recording (zstd chunks of the raw ring-buffer pages; "
            "`dir` adds run metadata and task names) next to its JSON-lines output of the same events, and "
            "`trace-cmd record`'s file (whole, and its trace data alone; it records raw_syscalls events, "
            "which are larger records, and its file carries kallsyms and every event format). Export: "
            "`GET .../trace.dat` and `GET .../trace.json` of the finished session through curl on loopback. "
            "Slowdown: the workload traced by a node that records vs one with `--record-limit 0` (same runs "
            "as above).", "",
            "| workload | events | recording B/event (dir) | JSON lines B/event | trace-cmd B/event (data) | "
            "trace.dat export | trace.json export | slowdown recording / off |",
            "|---|---|---|---|---|---|---|---|"]
    for x in r.get("recording", []):
        f = lambda k, fmt: (fmt.format(x[k]) if k in x else "-")
        slow = (f"{x['slowdown_with_recording']:.2f}x / {x['slowdown_without_recording']:.2f}x"
                if "slowdown_with_recording" in x else "-")
        tc = (f"{x['trace_cmd_file_bytes_per_event']:.1f} ({x['trace_cmd_data_bytes_per_event']:.1f})"
              if "trace_cmd_file_bytes_per_event" in x else "-")
        out.append(f"| {x['workload']} | {f('events', '{}')} | {f('record_bytes_per_event', '{:.2f}')} "
                   f"({f('record_dir_bytes_per_event', '{:.2f}')}) | {f('jsonl_bytes_per_event', '{:.0f}')} | {tc} | "
                   f"{f('dat_mb_per_s', '{:.1f} MB/s')} ({f('dat_events_per_s', '{:,.0f}')} events/s) | "
                   f"{f('json_mb_per_s', '{:.0f} MB/s')} "
                   f"({f('json_events_per_s', '{:,.0f}')} events/s) | {slow} |")
    out.append("")
    if r.get("overhead_only"):
        if r["problems"]:
            out += ["## Problems", ""] + [f"- {p}" for p in r["problems"]] + [""]
        return "\n".join(out)
    out += ["## API latency", "",
            "curl's `time_total` against tracer-node (`--use-procfs`) on loopback. Pods are `unshare --uts` "
            "processes (one process each, hostname = pod name); the pod count is ours, the node may also "
            "see other pods on the machine.", "",
            "| request | pods | median | min-max | IQR | n | errors |", "|---|---|---|---|---|---|---|"]
    for a in r["api"]:
        s = a["seconds"]
        if not s:
            out.append(f"| {a['op']} | {a['pods']} | failed | | | 0 | {'; '.join(a['errors'])} |")
            continue
        out.append(f"| {a['op']} | {a['pods']} | {fmt_s(s['median'])} | {fmt_s(s['min'])}-{fmt_s(s['max'])} | "
                   f"{fmt_s(s['p25'])}-{fmt_s(s['p75'])} | {s['n']} | {len(a['errors'])} |")
    out += ["", "## tracer-node memory", "",
            "VmRSS from /proc/<pid>/status (exporting: the peak, VmHWM, over the getppid workload's traced "
            "runs; the high-water mark is reset before each run, so nothing samples it).", "",
            "| state | VmRSS |", "|---|---|"]
    for state, kb in r["rss_kb"].items():
        out.append(f"| {state} | {kb / 1024:.1f} MiB |")
    if r["problems"]:
        out += ["", "## Problems", ""] + [f"- {p}" for p in r["problems"]]
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
