#!/usr/bin/env python3
"""Summarises the raw results Benchmarks/run.sh leaves in reports/bench/<timestamp>/.

    report.py DIR [--servers "wsgate nio ..."] [--scenarios "..."] [--idle-servers "..."] [--checks "a=ok b=failed"]
        prints a Markdown table (rows: scenarios, columns: servers; each cell the median over rounds)
        and writes DIR/summary.json with the medians.
    report.py --one FILE
        one line about one run (used for progress output).

Raw files: SCENARIO--SERVER--rROUND.json (the `wsgate bench --json` object, or {"failed": true, ...});
idle runs also have SCENARIO--SERVER--rROUND.mem.json with the server's VmRSS before and at the peak.
"""
import argparse
import json
import os
import re
import statistics
import sys

ALL_SERVERS = ["wsgate", "nio", "hummingbird", "gorilla", "python-websockets", "picows", "nio-wordmask"]
ALL_SCENARIOS = ["echo-64B", "flood-64B", "echo-1KiB", "echo-64KiB", "echo-1MiB", "wss-64B", "wss-1KiB", "wss-64KiB",
                 "deflate-chat", "deflate-flood", "handshake", "idle", "mem-10k", "mem-10k-deflate"]
# Measured by the server's VmRSS while connections are held, not by messages.
MEMORY_SCENARIOS = {"idle", "mem-10k", "mem-10k-deflate"}
LABELS = {
    "wsgate": "wsgate",
    "nio": "NIO (raw)",
    "hummingbird": "Hummingbird",
    "gorilla": "gorilla (Go)",
    "python-websockets": "websockets (Py)",
    "picows": "picows (Py)",
    "nio-wordmask": "NIO word-unmask",
}
DESCRIPTIONS = {
    "echo-64B": "64 B text, 100 conns, pipeline 16",
    "flood-64B": "64 B text, 100 conns, flood: echoes counted, no latency",
    "echo-1KiB": "1 KiB text, 100 conns, pipeline 16",
    "echo-64KiB": "64 KiB binary, 10 conns, pipeline 4",
    "echo-1MiB": "1 MiB binary, 10 conns, pipeline 2",
    "wss-64B": "wss://, 64 B text, 100 conns, pipeline 16",
    "wss-1KiB": "wss://, 1 KiB text, 100 conns, pipeline 16",
    "wss-64KiB": "wss://, 64 KiB binary, 10 conns, pipeline 4",
    "deflate-chat": "permessage-deflate, chat JSON 100 B–2 KiB, 100 conns, pipeline 16",
    "deflate-flood": "permessage-deflate, chat JSON precompressed by the generator, 100 conns, flood",
    "handshake": "connect + echo + close loops",
    "idle": "idle connections held: server RSS",
    "mem-10k": "10k conns, one chat message each, then held: server RSS",
    "mem-10k-deflate": "as mem-10k with permessage-deflate: server RSS once quiet",
}
# The generator runs with as many threads as the machine has cores (`wsgate bench --threads` default); it counts as
# saturated when it used at least this share of them — then the server is not what limited the figure.
GENERATOR_THREADS = os.cpu_count() or 1
GENERATOR_SATURATED = 0.9
FILE_RE = re.compile(r"^(?P<scenario>[\w-]+?)--(?P<server>[\w-]+?)--r(?P<round>\d+)\.json$")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"failed": True, "reason": f"unreadable: {e}"}


def mem_of(path):
    mem_path = path[: -len(".json")] + ".mem.json"
    return load(mem_path) if os.path.exists(mem_path) else None


def kib_per_conn(result, mem, which="peak"):
    """(VmRSS peak − before) ÷ connections held; `which="held"`: the last sample with all of them open and quiet
    (mem-* scenarios; for wsgate with compression, after its zlib streams rested)."""
    if not mem or result.get("failed"):
        return None
    established = result.get("connections_established", result.get("connections", 0))
    rss = mem.get(f"server_rss_{which}_kib") or 0
    if not established or not rss:
        return None
    return (rss - mem["server_rss_before_kib"]) / established


def reported_memory(scenario):
    """Which sample a memory scenario reports: the peak for idle (as it always has), the held one for mem-*."""
    return "peak" if scenario == "idle" else "held"


def si(x):
    if x is None:
        return "—"
    for limit, div, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(x) >= limit:
            return f"{x / div:.3g}{suffix}" if x / div < 100 else f"{x / div:.0f}{suffix}"
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def micros(us):
    if us is None:
        return "—"
    if us >= 1_000_000:
        return f"{us / 1e6:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.3g} ms"
    return f"{us:.0f} µs"


def one_line(path):
    r = load(path)
    if r.get("failed"):
        return f"FAILED ({r.get('reason', '?')})"
    if r.get("mode") == "idle":
        mem = mem_of(path)
        est = r.get("connections_established", r.get("connections"))
        k = kib_per_conn(r, mem)
        held = kib_per_conn(r, mem, "held")
        rss = f", RSS {mem['server_rss_before_kib'] / 1024:.0f} → {mem['server_rss_peak_kib'] / 1024:.0f} MiB" if mem else ""
        return f"{est}/{r.get('connections')} connections held{rss}" + (f", {k:.1f} KiB/conn at peak" if k is not None else "") + \
            (f", {held:.1f} KiB/conn held" if held is not None else "") + f", {r.get('errors', 0)} errors"
    rate = r.get("handshakes_per_second") if r.get("mode") == "handshake" else r.get("messages_per_second")
    unit = "handshakes/s" if r.get("mode") == "handshake" else "msg/s"
    gen = r.get("generator_cpu_cores")
    gen_text = "" if gen is None else f", generator {gen:.2f} cores" + (
        " (SATURATED: the figure may be the generator's)" if gen >= GENERATOR_SATURATED * GENERATOR_THREADS else "")
    return (f"{rate:,.0f} {unit}, {r.get('bytes_per_second', 0) / 1e6:,.1f} MB/s, p50 {micros(r.get('latency_p50_us'))}, "
            f"p99 {micros(r.get('latency_p99_us'))}, {r.get('errors', 0)} errors{gen_text}")


def collect(directory):
    runs = {}
    for name in sorted(os.listdir(directory)):
        m = FILE_RE.match(name)
        if not m:
            continue
        path = os.path.join(directory, name)
        runs.setdefault((m["scenario"], m["server"]), []).append((int(m["round"]), path))
    return runs


def summarise(scenario, files):
    ok, failed, errors = [], 0, 0
    for round_no, path in sorted(files):
        r = load(path)
        if r.get("failed"):
            failed += 1
            continue
        errors += int(r.get("errors", 0))
        if scenario in MEMORY_SCENARIOS:
            mem = mem_of(path)
            k = kib_per_conn(r, mem, reported_memory(scenario))
            if k is None:
                failed += 1
                continue
            ok.append({"round": round_no, "value": k, "established": r.get("connections_established", r.get("connections", 0)),
                       "rss_peak_kib": mem["server_rss_peak_kib"], "rss_before_kib": mem["server_rss_before_kib"],
                       "peak_per_conn": kib_per_conn(r, mem, "peak")})
        else:
            value = r.get("handshakes_per_second") if scenario == "handshake" else r.get("messages_per_second")
            ok.append({"round": round_no, "value": value or 0.0, "p99": r.get("latency_p99_us"), "p50": r.get("latency_p50_us"),
                       "bps": r.get("bytes_per_second", 0.0), "gen": r.get("generator_cpu_cores")})
    if not ok:
        return {"runs": 0, "failed": failed, "errors": errors}
    med = lambda key: statistics.median(x[key] for x in ok if x.get(key) is not None)  # noqa: E731
    out = {"runs": len(ok), "failed": failed, "errors": errors, "value": med("value"),
           "values": [x["value"] for x in ok], "by_round": {x["round"]: x["value"] for x in ok}}
    if scenario in MEMORY_SCENARIOS:
        out.update(established=min(x["established"] for x in ok), rss_peak_kib=med("rss_peak_kib"),
                   rss_before_kib=med("rss_before_kib"), peak_per_conn=med("peak_per_conn"))
    else:
        out.update(p99_us=med("p99"), p50_us=med("p50"), bytes_per_second=med("bps"))
        if any(x.get("gen") is not None for x in ok):
            out["generator_cpu_cores"] = med("gen")
    return out


def cell(scenario, s, base):
    if s is None:
        return "—"
    if not s["runs"]:
        return f"failed ({s['failed']})"
    if scenario == "idle":
        text = f"{s['value']:.1f} KiB/conn ({si(s['established'])} held, peak {s['rss_peak_kib'] / 1024:.0f} MiB)"
    elif scenario in MEMORY_SCENARIOS:
        text = f"{s['value']:.1f} KiB/conn held (peak {s['peak_per_conn']:.1f}; {si(s['established'])} conns)"
    elif scenario == "handshake":
        text = f"{si(s['value'])} hs/s · p99 {micros(s['p99_us'])}"
    else:
        text = f"{si(s['value'])} msg/s" + ("" if "flood" in scenario else f" · p99 {micros(s['p99_us'])}")
        if scenario in ("echo-64KiB", "echo-1MiB", "wss-64KiB"):
            text += f" · {s['bytes_per_second'] / 1e9:.2f} GB/s"
    if base is not None and base.get("runs") and s is not base and s["value"]:
        text += f" · ×{base['value'] / s['value']:.2f}"
    notes = []
    gen = s.get("generator_cpu_cores")
    if gen is not None:
        text += f" · gen {gen:.2f} cores"
        if gen >= GENERATOR_SATURATED * GENERATOR_THREADS:
            notes.append("generator saturated: the figure may be the generator's")
    if s["failed"]:
        notes.append(f"{s['failed']} run(s) failed")
    if s["errors"]:
        notes.append(f"{s['errors']} errors")
    if notes:
        text += " (" + ", ".join(notes) + ")"
    return text


def paired_ratio(base, s):
    """Median over rounds of wsgate's figure ÷ the peer's figure in the same round.

    Rounds alternate the servers back to back, so pairing by round cancels most of the drift a shared machine
    adds over minutes; the ratio of medians in the main table does not. Returns (median, min, max, pairs)."""
    if not base or not s or not base.get("runs") or not s.get("runs"):
        return None
    pairs = [base["by_round"][r] / v for r, v in s["by_round"].items() if r in base["by_round"] and v]
    if not pairs:
        return None
    return statistics.median(pairs), min(pairs), max(pairs), len(pairs)


def applies(meta, scenario, server, servers, idle_servers):
    """Whether `server` ran `scenario`: run.sh records each scenario's servers in meta.json (wss and deflate run on the
    peers that can); older reports without that record fall back to the server lists."""
    recorded = meta.get("scenario_servers", {}).get(scenario) if isinstance(meta, dict) else None
    if recorded is not None:
        return server in recorded.split()
    return (server in idle_servers) if scenario == "idle" else (server in servers)


def paired_table(summary, meta, columns, rows, servers, idle_servers):
    lines = ["Paired per-round ratios (wsgate ÷ peer within the same round; median, and [min – max] over rounds):",
             "", "| scenario | " + " | ".join(LABELS[c] for c in columns if c != "wsgate") + " |",
             "|---|" + "---|" * len([c for c in columns if c != "wsgate"])]
    for scenario in rows:
        by_server = summary.get(scenario, {})
        base = by_server.get("wsgate")
        cells = []
        for c in columns:
            if c == "wsgate":
                continue
            applicable = applies(meta, scenario, c, servers, idle_servers)
            r = paired_ratio(base, by_server.get(c)) if applicable else None
            cells.append(f"×{r[0]:.2f} [{r[1]:.2f} – {r[2]:.2f}]" if r else "—")
            if r:
                by_server[c]["paired_ratio"] = {"median": r[0], "min": r[1], "max": r[2], "pairs": r[3]}
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return lines


def table(directory, servers, scenarios, idle_servers, checks):
    runs = collect(directory)
    meta = load(os.path.join(directory, "meta.json"))
    summary = {}
    for (scenario, server), files in runs.items():
        summary.setdefault(scenario, {})[server] = summarise(scenario, files)

    columns = [s for s in ALL_SERVERS if s in servers or ("idle" in scenarios and s in idle_servers)]
    rows = [s for s in ALL_SCENARIOS if s in scenarios]
    lines = [f"## wsgate vs peers — {meta.get('timestamp', '?')}", ""]
    if not meta.get("failed"):
        lines.append(
            f"{meta.get('rounds')} rounds, servers alternated each round; {meta.get('duration_s')} s per run after "
            f"{meta.get('warmup_s')} s warm-up; medians over the rounds. Load: `wsgate bench` "
            f"(commit {meta.get('wsgate_commit')}) on the same {meta.get('cores')}-core machine, loopback "
            f"(kernel {meta.get('kernel')}). Idle: {meta.get('idle_connections')} connections from "
            f"{meta.get('idle_sources')}, held {meta.get('idle_duration_s')} s; KiB/conn = (peak VmRSS − VmRSS "
            f"before) ÷ connections held. Handshake: {meta.get('handshake_connections')} concurrent loops. "
            f"Load average before/after: {meta.get('loadavg_before', '?')} / {meta.get('loadavg_after', '?')}.")
        if str(meta.get("idle_connections_requested", meta.get("idle_connections"))) != str(meta.get("idle_connections")) \
                and "idle" in scenarios:
            lines.append("")
            lines.append(f"Note: idle was asked for {meta.get('idle_connections_requested')} connections but the fd limit "
                         f"here is {meta.get('fd_limit')} and could not be raised (no CAP_SYS_RESOURCE), so it ran "
                         f"with {meta.get('idle_connections')}.")
        lines.append("")
    if any(s in scenarios for s in ("mem-10k", "mem-10k-deflate")):
        lines.append(f"mem-10k / mem-10k-deflate: {meta.get('mem_connections')} connections each send one chat message "
                     f"(and wait for its echo), then are held {meta.get('mem_hold_s')} s; KiB/conn held = (VmRSS with all "
                     "open and quiet, ≥ 1 s before the hold ends − VmRSS before) ÷ connections; peak in brackets.")
        lines.append("")
    lines.append("×r = wsgate ÷ peer: above 1 means wsgate is ahead for msg/s and hs/s; for KiB/conn below 1 "
                 "means wsgate uses less memory.")
    lines.append("")
    lines.append("| scenario | " + " | ".join(LABELS[c] for c in columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for scenario in rows:
        by_server = summary.get(scenario, {})
        base = by_server.get("wsgate")
        cells = []
        for c in columns:
            applicable = applies(meta, scenario, c, servers, idle_servers)
            cells.append(cell(scenario, by_server.get(c), base) if applicable else "—")
        lines.append(f"| **{scenario}** ({DESCRIPTIONS[scenario]}) | " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(paired_table(summary, meta, columns, rows, servers, idle_servers))
    if checks.strip():
        lines.append("")
        lines.append("Echo check (text and binary, 0 B – 1 MiB, ping, pipelined order) before the first run: " +
                     ", ".join(f"{LABELS.get(k, k)} {v}" for k, v in (x.split("=", 1) for x in checks.split())))
    with open(os.path.join(directory, "summary.json"), "w") as f:
        json.dump({"meta": meta, "medians": summary}, f, indent=1, sort_keys=True)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--one", action="store_true")
    ap.add_argument("--servers", default=" ".join(ALL_SERVERS[:6]))
    ap.add_argument("--scenarios", default=" ".join(ALL_SCENARIOS))
    ap.add_argument("--idle-servers", default="wsgate nio")
    ap.add_argument("--checks", default="")
    a = ap.parse_args()
    if a.one:
        print(one_line(a.path))
        return 0
    sys.stdout.write(table(a.path, a.servers.split(), a.scenarios.split(), a.idle_servers.split(), a.checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
