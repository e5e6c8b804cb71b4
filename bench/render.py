#!/usr/bin/env python3
"""Records and report of bench/run.sh (Python 3 standard library only).

  render.py meta   --out meta.json --invocation CMD --runs N ...
      the machine, the versions and the commit, taken when the run starts
  render.py record --results results.jsonl --stdout bench.out --server S ...
      appends each `RESULT {json}` line of one load-generator run to the
      results, wrapped with what was run; prints "ok" or why the step missed
  render.py render --results results.jsonl --meta meta.json --out report.md
                   [--docs docs/benchmarks.md]
      the Markdown report; with --docs it also replaces the section between
      <!-- bench:begin --> and <!-- bench:end --> of that file
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

P99_LIMIT_MS = 100
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SERVERS = ("banter", "banter-pg", "banter-cluster", "node")
SERVER_NAMES = {
    "banter": "Banter",
    "banter-pg": "Banter on PostgreSQL",
    "banter-cluster": "Banter, 2 nodes on PostgreSQL + Redis",
    "node": "Node (Express + Socket.IO)",
}
RATE_GROUPS = ("c", "d", "e", "s")
# A soak run misses when RSS grows more than this after the warm-up.
SOAK_GROWTH_LIMIT = 0.05


# --- meta ----------------------------------------------------------------------


def run_text(*cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions(lock_path):
    try:
        packages = json.loads(Path(lock_path).read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return {}
    return {
        name: packages.get(f"node_modules/{name}", {}).get("version")
        for name in ("socket.io", "express", "ws", "engine.io")
    }


def cmd_meta(args):
    cpu_model = None
    for line in (run_text("lscpu") or "").splitlines():
        if line.startswith("Model name:"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    status = run_text("git", "status", "--porcelain", "--untracked-files=no")
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "invocation": args.invocation,
        "runs": args.runs,
        "quick": bool(args.quick),
        "server_cpu": args.server_cpu,
        "bench_cpu": args.bench_cpu,
        "nproc": run_text("nproc"),
        "cpu_model": cpu_model,
        "memory_bytes": mem_kib * 1024 if mem_kib else None,
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "rustc": run_text("rustc", "--version"),
        "node": run_text("node", "--version"),
        "commit": run_text("git", "rev-parse", "HEAD"),
        "commit_dirty": bool(status),
        "banter_version": run_text(args.banter_bin, "--version") if args.banter_bin else None,
        "bench_bin": args.bench_bin,
        "node_packages": package_versions("bench/node-baseline/package-lock.json"),
        "ulimit_n": run_text("sh", "-c", "ulimit -n"),
        "loadavg_at_start": (run_text("cat", "/proc/loadavg") or "").split(" ")[:3] or None,
    }
    if args.postgres_url:
        settings = run_text("psql", args.postgres_url, "-qAtc",
                            "select string_agg(name || ' = ' || setting, ', ' order by name) from pg_settings "
                            "where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers')")
        meta["postgres"] = run_text("psql", args.postgres_url, "-qAtc", "show server_version")
        meta["postgres_settings"] = settings
    if args.redis_url:
        info = run_text("redis-cli", "-u", args.redis_url, "info", "server") or ""
        meta["redis"] = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                              if line.startswith("redis_version:")), None)
    Path(args.out).write_text(json.dumps(meta, indent=2) + "\n")


# --- record ---------------------------------------------------------------------


def error_count(errors):
    if errors is None or errors is False:
        return 0
    if isinstance(errors, bool):
        return 1
    if isinstance(errors, (int, float)):
        return int(errors)
    if isinstance(errors, dict):
        numbers = [v for v in errors.values() if isinstance(v, (int, float))]
        return int(sum(numbers)) if len(numbers) == len(errors) else len(errors)
    if isinstance(errors, (list, str)):
        return len(errors)
    return 1


def truthy(value):
    if isinstance(value, str):
        return value.strip().lower() not in ("", "none", "no", "false", "0", "null")
    return bool(value)


def misses(record):
    """Why this run does not count as sustained ([] when it does)."""
    result = record.get("result")
    if not result:
        code = record.get("exit_code")
        return [f"no result (exit {code})" if code else "no result"]
    why = []
    if record.get("group") in RATE_GROUPS:
        p99 = result.get("delivery_p99_ms")
        if p99 is None:
            why.append("no p99")
        elif p99 > P99_LIMIT_MS:
            why.append(f"p99 > {P99_LIMIT_MS} ms")
        if (result.get("lost") or 0) > 0:
            why.append("loss")
    if record.get("group") == "s":
        growth = result.get("rss_growth_after_warmup")
        if growth is None:
            why.append("no RSS samples")
        elif growth > SOAK_GROWTH_LIMIT:
            why.append(f"RSS grew {growth * 100:.1f} % after the warm-up")
    if error_count(result.get("errors")) or (result.get("ack_errors") or 0) > 0:
        why.append("errors")
    connected, clients = result.get("connected"), result.get("clients")
    if num(connected) is not None and num(clients) is not None and connected < clients:
        why.append("not all connected")
    if result.get("ok") is False:
        why.append("load generator: not ok")
    if truthy(result.get("bench_bottleneck")):
        why.append("load generator was the bottleneck")
    if record.get("exit_code"):
        why.append(f"exit {record['exit_code']}")
    return why


def cmd_record(args):
    base = {
        "server": args.server,
        "group": args.group,
        "case": args.case,
        "step": args.step,
        "run": args.run,
        "target_deliveries_per_s": args.target or None,
        "exit_code": args.exit_code,
        "command": args.command,
        "server_command": args.server_command,
    }
    results = []
    try:
        lines = Path(args.stdout).read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("RESULT "):
            try:
                results.append(json.loads(line[len("RESULT "):]))
            except ValueError:
                pass
    records = [dict(base, result=r) for r in results] or [dict(base, result=None)]
    with open(args.results, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    why = sorted({reason for record in records for reason in misses(record)})
    print("ok" if not why else "miss: " + ", ".join(why))


# --- formatting ------------------------------------------------------------------


def num(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def median(values):
    values = [v for v in map(num, values) if v is not None]
    return statistics.median(values) if values else None


def f_int(v):
    v = num(v)
    return "–" if v is None else f"{round(v):,}"


def f_rate(v):
    v = num(v)
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def f_ms(v):
    v = num(v)
    if v is None:
        return "–"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def f_bytes(v):
    v = num(v)
    if v is None:
        return "–"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(v) >= size:
            return f"{v / size:.1f} {unit}"
    return f"{v:.0f} B"


def f_pct(v):
    # server_cpu_util and bench_cpu_util: the fraction of one CPU.
    v = num(v)
    return "–" if v is None else f"{v * 100:.0f} %"


def f_us(v):
    v = num(v)
    return "–" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def f_s(v):
    v = num(v)
    return "–" if v is None else f"{v:.2f}"


def f_any(v):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() or abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, (dict, list)):
        # One decimal for rates, two for small figures (seconds of steal).
        v = ([round(x, 1 if abs(x) >= 10 else 2) if isinstance(x, float) else x for x in v]
             if isinstance(v, list) else v)
        return json.dumps(v, separators=(",", ":")).replace("|", "\\|")
    return str(v).replace("|", "\\|")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def details(summary, body):
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


# --- report ------------------------------------------------------------------------


def res(record, key):
    return (record.get("result") or {}).get(key)


def med(records, key):
    return median(res(r, key) for r in records)


def med_errors(records):
    return median(error_count(res(r, "errors")) for r in records if r.get("result"))


def by_step(records):
    """{(case, step): {server: [records]}} in the order they were run."""
    steps = {}
    for r in records:
        steps.setdefault((r["case"], r["step"]), {}).setdefault(r["server"], []).append(r)
    return steps


def step_verdict(runs, expected_runs):
    reasons = {}
    missed = 0
    for r in runs:
        why = misses(r)
        missed += bool(why)
        for reason in why:
            reasons[reason] = reasons.get(reason, 0) + 1
    if not missed:
        return f"ok ({len(runs)}/{expected_runs})" if len(runs) < expected_runs else "ok"
    detail = ", ".join(f"{k} {v}/{len(runs)}" for k, v in sorted(reasons.items()))
    return f"**miss**: {detail}"


def sustained(runs, expected_runs):
    return len(runs) >= expected_runs and not any(misses(r) for r in runs)


def servers_in(records):
    return [s for s in SERVERS if any(r["server"] == s for r in records)]


def connect_section(records, runs_expected):
    labels = {
        "a": "(a) connect, 100 rooms",
        "b": "(b) connect, many in one process, 100 rooms",
        "f": "(f) connect into one room (presence storm)",
    }
    rows = []
    for group in ("a", "b", "f"):
        for (case, step), per_server in by_step([r for r in records if r["group"] == group]).items():
            for server in SERVERS:
                runs = per_server.get(server)
                if not runs:
                    continue
                slices = [s for r in runs for s in (res(r, "connect_slices_per_s") or []) if num(s) is not None]
                rows.append([
                    labels[group], SERVER_NAMES[server], f_int(med(runs, "clients") or step),
                    f_int(med(runs, "rooms")), len(runs), f_int(med(runs, "connected")),
                    f_rate(med(runs, "connects_per_s")),
                    f"{f_rate(min(slices))} – {f_rate(max(slices))}" if slices else "–",
                    f_ms(med(runs, "connect_p99_ms")),
                    f_bytes(med(runs, "server_rss_before_bytes")), f_bytes(med(runs, "server_rss_after_bytes")),
                    f_int(med(runs, "bytes_per_connection")), f_s(med(runs, "server_cpu_s")),
                    f_pct(med(runs, "bench_cpu_util")), f_int(med_errors(runs)),
                    step_verdict(runs, runs_expected),
                ])
    if not rows:
        return None
    header = ["Scenario", "Server", "Clients", "Rooms", "Runs", "Connected", "Connects/s",
              "1 s slices, slowest – fastest", "Connect p99 ms", "RSS before", "RSS after", "Bytes/connection",
              "Server CPU s", "Load gen CPU", "Errors", "Verdict"]
    return "## Connections and idle memory\n\n" + table(header, rows)


def with_services(records):
    """Whether any run watched services (PostgreSQL, Redis) beside the servers."""
    return any("service_cpu_s" in (r.get("result") or {}) for r in records)


def total_us(runs):
    """Median CPU per delivery of the servers and their services together."""
    return median((res(r, "server_cpu_us_per_delivery") or 0) + res(r, "service_cpu_us_per_delivery")
                  for r in runs if num(res(r, "service_cpu_us_per_delivery")) is not None)


def rate_rows(steps, runs_expected, with_target=True):
    services = with_services([r for per in steps.values() for runs in per.values() for r in runs])
    rows = []
    for (case, step), per_server in steps.items():
        for server in SERVERS:
            runs = per_server.get(server)
            if not runs:
                continue
            target = runs[0].get("target_deliveries_per_s")
            row = [f_int(target)] if with_target else [case]
            row += [
                SERVER_NAMES[server], f_rate(med(runs, "rate_per_sender")),
                f_rate(med(runs, "deliveries_per_s")), f_ms(med(runs, "delivery_p50_ms")),
                f_ms(med(runs, "delivery_p90_ms")), f_ms(med(runs, "delivery_p99_ms")),
                f_ms(med(runs, "delivery_p999_ms")), f_ms(med(runs, "delivery_max_ms")),
                f_ms(med(runs, "ack_p99_ms")), f_int(med(runs, "lost")),
                f_pct(med(runs, "server_cpu_util")), f_us(med(runs, "server_cpu_us_per_delivery")),
                f_bytes(med(runs, "server_rss_after_bytes")), f_pct(med(runs, "bench_cpu_util")),
                step_verdict(runs, runs_expected),
            ]
            if services:
                row[-1:-1] = [f_pct(med(runs, "service_cpu_util")), f_us(total_us(runs))]
            rows.append(row)
    return rows


RATE_HEADER = ["Server", "Msgs/s per sender", "Deliveries/s", "p50 ms", "p90 ms", "p99 ms",
               "p99.9 ms", "max ms", "ack p99 ms", "Lost", "Server CPU", "µs/delivery",
               "RSS after", "Load gen CPU", "Verdict"]
# With services watched, before the verdict.
SERVICE_HEADER = ["PostgreSQL + Redis CPU", "µs/delivery with them"]


def rate_header(records):
    return RATE_HEADER[:-1] + SERVICE_HEADER + RATE_HEADER[-1:] if with_services(records) else RATE_HEADER


def best_step(steps, server, runs_expected):
    """The highest sustained target of a ladder for one server, as text."""
    entries = [per[server] for per in steps.values() if server in per]
    if not entries:
        return None
    ok = [runs[0].get("target_deliveries_per_s") or 0 for runs in entries if sustained(runs, runs_expected)]
    if not ok:
        return "none: the first step missed"
    best = f"{f_int(max(ok))} deliveries/s"
    if all(sustained(runs, runs_expected) for runs in entries):
        best += " (top step run, no miss)"
    return best


def highest_sustained(steps, runs_expected):
    lines = [f"- {SERVER_NAMES[s]}: {best_step(steps, s, runs_expected)}"
             for s in SERVERS if best_step(steps, s, runs_expected)]
    return "Highest sustained (p99 ≤ 100 ms, no loss, no errors, in every run):\n\n" + "\n".join(lines)


def summary_section(records, runs_expected):
    servers = servers_in(records)
    rows = []

    def add(label, value):
        cells = [value(s) for s in servers]
        if any(c not in (None, "–") for c in cells):
            rows.append([label] + [c or "–" for c in cells])

    def runs_of(group, case=None, server=None):
        return [r for r in records if r["group"] == group and (case is None or r["case"] == case)
                and r["server"] == server]

    for group, what in (("a", "connect"), ("b", "connect"), ("f", "connect into 1 room")):
        clients = {r["step"] for r in records if r["group"] == group}
        n = f_int(int(max(clients, key=int))) if clients else "?"
        add(f"({group}) {n} clients {what}: connects/s", lambda s: f_rate(med(runs_of(group, server=s), "connects_per_s")))
        add(f"({group}) {n} clients: memory per connection",
            lambda s: f_bytes(med(runs_of(group, server=s), "bytes_per_connection")))
        add(f"({group}) {n} clients: server RSS", lambda s: f_bytes(med(runs_of(group, server=s), "server_rss_after_bytes")))
        add(f"({group}) {n} clients: errors", lambda s: f_int(med_errors(runs_of(group, server=s))))
    for group, case, label in (("c", "10x50", "(c) 10 rooms × 50: highest sustained"),
                               ("c", "100x10", "(c) 100 rooms × 10: highest sustained"),
                               ("d", "1x1000", "(d) 1 room × 1,000, 10 senders: highest sustained")):
        steps = by_step([r for r in records if r["group"] == group and r["case"] == case])
        add(label, lambda s: best_step(steps, s, runs_expected))
    for case, label in (("stall0", "(e) 50k deliveries/s, no stall: p99 ms"),
                        ("stall1", "(e) 50k deliveries/s, 1 stalled client: p99 ms")):
        add(label, lambda s: f_ms(med(runs_of("e", case, s), "delivery_p99_ms")))
    add("(e) stalled clients disconnected", lambda s: f_int(med(runs_of("e", "stall1", s), "stalled_disconnected")))
    if not rows:
        return None
    return "## Summary\n\n" + table([""] + [SERVER_NAMES[s] for s in servers], rows)


def ladder_section(records, runs_expected):
    titles = {
        ("c", "10x50"): "(c) 10 rooms × 50 members, everyone sends",
        ("c", "100x10"): "(c) 100 rooms × 10 members, everyone sends",
        ("d", "1x1000"): "(d) one room of 1,000 members, 10 senders",
    }
    parts = []
    for group in ("c", "d"):
        group_records = [r for r in records if r["group"] == group]
        for case in dict.fromkeys(r["case"] for r in group_records):
            steps = by_step([r for r in group_records if r["case"] == case])
            title = titles.get((group, case), f"({group}) {case}")
            case_records = [r for r in group_records if r["case"] == case]
            parts.append(f"### {title}\n\n" + table(["Target deliveries/s"] + rate_header(case_records),
                                                    rate_rows(steps, runs_expected))
                         + "\n\n" + highest_sustained(steps, runs_expected))
    if not parts:
        return None
    return "## Throughput and latency\n\n" + "\n\n".join(parts)


def stall_section(records, runs_expected):
    group_records = [r for r in records if r["group"] == "e"]
    if not group_records:
        return None
    rows = []
    names = {"stall0": "no stalled client", "stall1": "1 stalled client"}
    for (case, step), per_server in by_step(group_records).items():
        for server in SERVERS:
            runs = per_server.get(server)
            if not runs:
                continue
            rows.append([
                names.get(case, case), SERVER_NAMES[server], f_rate(med(runs, "deliveries_per_s")),
                f_ms(med(runs, "delivery_p50_ms")), f_ms(med(runs, "delivery_p99_ms")),
                f_ms(med(runs, "delivery_max_ms")), f_int(med(runs, "lost")),
                f_int(med(runs, "duplicated")), f_int(med(runs, "out_of_order")),
                f_int(med(runs, "stalled")), f_int(med(runs, "stalled_disconnected")),
                f_bytes(med(runs, "server_rss_before_bytes")), f_bytes(med(runs, "server_rss_after_bytes")),
                f_pct(med(runs, "server_cpu_util")), step_verdict(runs, runs_expected),
            ])
    header = ["Case", "Server", "Deliveries/s", "p50 ms", "p99 ms", "max ms", "Lost",
              "Duplicated", "Out of order", "Stalled", "Stalled disconnected", "RSS before",
              "RSS after", "Server CPU", "Verdict"]
    return ("## (e) A stalled client: 10 rooms × 50 at 50,000 deliveries/s\n\n"
            "A stalled client stops reading its socket. Lost, duplicated and out of order "
            "count the healthy clients' deliveries.\n\n" + table(header, rows))


def soak_section(records, runs_expected):
    group_records = [r for r in records if r["group"] == "s"]
    if not group_records:
        return None
    rows = []
    for r in group_records:
        result = r.get("result") or {}
        samples = result.get("rss_samples_bytes") or []
        growth = result.get("rss_growth_after_warmup")
        rows.append([
            SERVER_NAMES[r["server"]], r["run"], f_s(result.get("duration_s")),
            f_rate(result.get("deliveries_per_s")), f_ms(result.get("delivery_p99_ms")),
            f_ms(result.get("delivery_max_ms")), f_int(result.get("lost")),
            f_int(result.get("duplicated")), f_int(result.get("out_of_order")),
            f_int(result.get("churners")), f_int(result.get("churn_cycles")),
            f_bytes(min(samples)) if samples else "—", f_bytes(max(samples)) if samples else "—",
            f"{growth * 100:.1f} %" if growth is not None else "—",
            f_int(error_count(result.get("errors"))), "; ".join(misses(r)) or "ok",
        ])
    header = ["Server", "Run", "Length", "Deliveries/s", "p99 ms", "max ms", "Lost", "Duplicated",
              "Out of order", "Churning connections", "Churn cycles", "RSS min", "RSS max",
              "RSS growth after warm-up", "Errors", "Verdict"]
    return ("## (s) Soak: half the sustained load, connections coming and going\n\n"
            "10 rooms × 50 members sending steadily while other clients sign in, join, stay a "
            "few seconds and leave; the server's RSS is sampled through the run. Growth after "
            "the warm-up compares the largest sample of the last third with the largest of the "
            f"middle third; a run misses past {SOAK_GROWTH_LIMIT * 100:.0f} %.\n\n" + table(header, rows))


RATE_KEYS = ["ok", "clients", "rooms", "senders", "rate_per_sender", "sent", "acked",
             "ack_errors", "delivered", "delivered_unacked", "expected", "lost", "duplicated",
             "out_of_order", "id_order_violations",
             "deliveries_per_s", "delivery_p50_ms", "delivery_p90_ms", "delivery_p99_ms",
             "delivery_p999_ms", "delivery_max_ms", "ack_p50_ms", "ack_p90_ms", "ack_p99_ms",
             "ack_p999_ms", "ack_max_ms", "send_lag_p99_ms", "send_lag_max_ms", "server_cpu_s", "server_cpu_util", "server_cpu_us_per_delivery",
             "server_rss_before_bytes", "server_rss_after_bytes", "bench_cpu_s", "bench_cpu_util",
             "bench_cpu_us_per_delivery", "bench_bottleneck", "steal_s_per_cpu", "stalled", "stalled_disconnected", "errors"]
CONNECT_KEYS = ["ok", "clients", "rooms", "concurrency", "connected", "connect_s",
                "connects_per_s", "connect_slices_per_s", "connect_p50_ms", "connect_p99_ms",
                "connect_max_ms", "hold_s",
                "server_cpu_s", "server_cpu_util", "server_rss_before_bytes",
                "server_rss_after_bytes", "bytes_per_connection", "bench_cpu_s", "bench_cpu_util",
                "bench_bottleneck", "steal_s_per_cpu", "errors"]


# Runs against several nodes or with services watched: before "errors".
NODE_KEYS = ["urls", "server_cpu_s_per_pid", "server_rss_after_bytes_per_pid", "service_cpu_s", "service_cpu_s_per_pid",
             "service_cpu_util", "service_cpu_us_per_delivery"]


def all_runs_section(records):
    parts = []
    for group in ("a", "b", "c", "d", "e", "f", "s"):
        group_records = [r for r in records if r["group"] == group]
        if not group_records:
            continue
        keys = RATE_KEYS if group in RATE_GROUPS else CONNECT_KEYS
        if with_services(group_records) or any("urls" in (r.get("result") or {}) for r in group_records):
            keys = keys[:-1] + NODE_KEYS + keys[-1:]
        rows = []
        for r in group_records:
            result = r.get("result") or {}
            rows.append([r["server"], r["case"], r["step"], r["run"], r.get("exit_code")]
                        + [f_any(result.get(k)) for k in keys]
                        + ["; ".join(misses(r)) or "ok"])
        parts.append(details(f"({group}) every run",
                             table(["server", "case", "step", "run", "exit"] + keys + ["verdict"], rows)))
    return "## Every run\n\nRaw figures of each run, as the load generator reported them.\n\n" + "\n\n".join(parts)


def commands_section(records, meta):
    lines = [f"Invocation: `{meta.get('invocation', 'bench/run.sh')}`", ""]
    servers = {}
    for r in records:
        if r.get("server_command"):
            servers.setdefault(r["server"], r["server_command"])
    lines.append("Servers (one fresh start per run):")
    lines.append("")
    lines.append("```sh")
    lines += [servers[s] for s in SERVERS if s in servers]
    lines.append("```")
    lines.append("")
    several = any("$URL1" in (r.get("command") or "") for r in records)
    lines.append("Load generator (`$URL` and `$PID` from the server just started"
                 + ("; `$URL1`, `$PID1`… those of each node; `$POSTMASTER` and `$REDIS` the pids of "
                    "PostgreSQL's postmaster and of redis-server" if several else "") + "):")
    lines.append("")
    lines.append("```sh")
    lines += list(dict.fromkeys(r["command"] for r in records if r.get("command")))
    lines.append("```")
    return "## Commands\n\n" + "\n".join(lines)


def machine_section(meta):
    pkgs = meta.get("node_packages") or {}
    rows = [
        ["Date", meta.get("date")],
        ["Commit", f"`{meta.get('commit') or '?'}`" + (" (with uncommitted changes)" if meta.get("commit_dirty") else "")],
        ["CPUs (`nproc`)", meta.get("nproc")],
        ["CPU model", meta.get("cpu_model")],
        ["Memory", f_bytes(meta.get("memory_bytes"))],
        ["Kernel", meta.get("kernel")],
        ["Rust", meta.get("rustc")],
        ["Node.js", meta.get("node")],
        *([["PostgreSQL", f"{meta['postgres']} ({meta.get('postgres_settings') or '?'})"]] if meta.get("postgres") else []),
        *([["Redis", meta["redis"]]] if meta.get("redis") else []),
        ["Baseline packages", ", ".join(f"{k} {v}" for k, v in pkgs.items() if v) or None],
        ["Pinning", f"server on CPU {meta.get('server_cpu')}"
                    + (" with every postgres and redis-server process" if meta.get("postgres") or meta.get("redis") else "")
                    + f", load generator on CPU {meta.get('bench_cpu')} (`taskset`)"],
        ["Open files (`ulimit -n`)", meta.get("ulimit_n")],
        ["Load average at start", " ".join(meta.get("loadavg_at_start") or []) or None],
        ["Runs per step", meta.get("runs")],
    ]
    return "## Machine\n\n" + table(["", ""], [[k, v if v not in (None, "") else "–"] for k, v in rows])


def report_body(records, meta):
    runs = int(meta.get("runs") or 1)
    intro = [
        f"Run of {meta.get('date', '?')} on commit `{(meta.get('commit') or '?')[:12]}`. "
        f"Banter against the same protocol on Node.js + Express 4 + Socket.IO 4 "
        f"(`bench/node-baseline`), one load generator for both. Each figure is the median "
        f"over {runs} run{'s' if runs != 1 else ''}, each on a freshly started server. "
        f"A step misses when its delivery p99 exceeds {P99_LIMIT_MS} ms, when messages were "
        f"lost, on errors, or when the load generator was the bottleneck; a server's ladder "
        f"stops after its first miss. CPU figures are shares of one core."
    ]
    if meta.get("quick"):
        intro.append("**This was a `--quick` trial run (one run per step, short steps, fewer "
                     "connections); its figures are not the benchmark.**")
    sections = [
        "\n\n".join(intro),
        summary_section(records, runs),
        connect_section(records, runs),
        ladder_section(records, runs),
        stall_section(records, runs),
        soak_section(records, runs),
        machine_section(meta),
        commands_section(records, meta),
        all_runs_section(records) if records else None,
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def replace_docs(path, body):
    path = Path(path)
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end == -1 or end < start:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
        start, end = text.find(BEGIN), text.find(END)
    new = text[: start + len(BEGIN)] + "\n" + body + text[end:]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def cmd_render(args):
    records = []
    with open(args.results) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    meta = json.loads(Path(args.meta).read_text()) if args.meta else {}
    body = report_body(records, meta)
    Path(args.out).write_text("# Banter benchmark\n\n" + body)
    if args.docs:
        replace_docs(args.docs, body)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    meta = sub.add_parser("meta")
    meta.add_argument("--out", required=True)
    meta.add_argument("--invocation", default="bench/run.sh")
    meta.add_argument("--runs", type=int, default=1)
    meta.add_argument("--quick", type=int, default=0)
    meta.add_argument("--server-cpu", default="0")
    meta.add_argument("--bench-cpu", default="1")
    meta.add_argument("--banter-bin")
    meta.add_argument("--bench-bin")
    meta.add_argument("--postgres-url")
    meta.add_argument("--redis-url")
    meta.set_defaults(func=cmd_meta)

    record = sub.add_parser("record")
    record.add_argument("--results", required=True)
    record.add_argument("--stdout", required=True)
    record.add_argument("--server", required=True, choices=SERVERS)
    record.add_argument("--group", required=True)
    record.add_argument("--case", required=True)
    record.add_argument("--step", required=True)
    record.add_argument("--run", type=int, required=True)
    record.add_argument("--target", type=int, default=0)
    record.add_argument("--exit-code", type=int, default=0)
    record.add_argument("--command", default="")
    record.add_argument("--server-command", default="")
    record.set_defaults(func=cmd_record)

    render = sub.add_parser("render")
    render.add_argument("--results", required=True)
    render.add_argument("--meta")
    render.add_argument("--out", required=True)
    render.add_argument("--docs")
    render.set_defaults(func=cmd_render)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
