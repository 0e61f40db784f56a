#!/usr/bin/env python3
"""Markdown report for bench/reload.sh: the swap latency summary written by
reload_swap.py (plus /stats after it) and the per-run latency TSV. Latency
figures are medians over rounds; errors and reloads are summed. Targets are
reported, not asserted."""

import argparse
import csv
import os
import statistics
import sys

LABEL = {"ph": "plugin-host (probe + null)", "nginx": "nginx proxy"}


def kv(line):
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(rows, key):
    vals = [num(r[key]) for r in rows if num(r[key]) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def swap_section(path):
    if not path or not os.path.exists(path):
        return []
    lines = open(path).read().splitlines()
    s = kv(next((l for l in lines if l.startswith("SWAP")), "SWAP"))
    st = kv(next((l for l in lines if l.startswith("STATS")), "STATS"))
    out = ["## Swap latency: SIGHUP to the first response on the new generation", ""]
    out.append(
        "One keep-alive connection fetching /1k (1 KiB) back to back; for each reload plugin.config is "
        "renamed over with `probe stamp=i`, SIGHUP sent, and the clock stops at the end of the first "
        "response carrying `x-probe-stamp: i`. Resolution: one exchange of the client (no request is in "
        "flight when the signal is sent)."
    )
    out.append("")
    out.append("| reloads | swapped | median ms | p90 ms | max ms | min ms | old-stamp responses after SIGHUP (max) | stamp went back | errors | connections |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    out.append(
        f"| {s.get('n', '?')} | {s.get('ok', '?')} (timeouts {s.get('timeouts', '?')}) | {s.get('median_ms', 'n/a')} | "
        f"{s.get('p90_ms', 'n/a')} | {s.get('max_ms', 'n/a')} | {s.get('min_ms', 'n/a')} | "
        f"{s.get('old_after_signal_max', '?')} | {s.get('regressions', '?')} | {s.get('errors', '?')} | {s.get('connections', '?')} |"
    )
    out.append("")
    if st:
        out.append(
            f"/stats after: generation {st.get('generation_before')} -> {st.get('generation_after')}, "
            f"reloads succeeded {st.get('reloads_succeeded')}, failed {st.get('reloads_failed')}, "
            f"live generations {st.get('live_generations')}, plugin images {st.get('plugin_images')}; "
            f"RSS {fmt(num(st.get('rss_before_kib')) and num(st.get('rss_before_kib')) / 1024, 1)} -> "
            f"{fmt(num(st.get('rss_after_kib')) and num(st.get('rss_after_kib')) / 1024, 1)} MiB."
        )
        out.append("")
    m, x = num(s.get("median_ms")), num(s.get("max_ms"))
    out.append(
        f"Target swap under 50 ms: median {verdict(None if m is None else m < 50)}, "
        f"max {verdict(None if x is None else x < 50)}."
    )
    out.append("")
    return out


def latency_section(path, duration, rounds, interval):
    if not path or not os.path.exists(path):
        return []
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    if not rows:
        return []
    out = ["## p99 latency while reloading", ""]
    out.append(
        f"`wrk -t1 -c32 -d{duration}s --latency` on /1k (keep-alive), without reloads (steady) and while "
        f"a loop reloads every {interval} s (plugin-host: plugin.config rewritten with the next stamp, then "
        f"SIGHUP; nginx: SIGHUP to the master, what `nginx -s reload` sends). Medians of {rounds} round(s); "
        "errors and reloads are totals. Reloads effective: new generations in /stats (plugin-host), "
        "new worker processes seen (nginx). Others: CPU that processes other than the target, the origin "
        "and wrk used during the run, in % of one core (the machine has 2), and the part of it on the proxy's core where recorded."
    )
    out.append("")
    out.append("| target | mode | req/s | p50 ms | p99 ms | max ms | p99 per round (others % core) | CPU µs/req | reloads sent / effective | non-2xx | socket errors c/r/w/t | others % core, median |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    p99 = {}
    errs = {}
    for target in ("ph", "nginx"):
        for mode in ("steady", "reloading"):
            rs = [r for r in rows if r["target"] == target and r["mode"] == mode]
            if not rs:
                continue
            p99[(target, mode)] = med(rs, "p99_ms")
            tot = lambda k: sum(int(num(r[k]) or 0) for r in rs)
            errs[(target, mode)] = tot("non2xx") + tot("sock_connect") + tot("sock_read") + tot("sock_write") + tot("sock_timeout")
            def noise(r):
                core = num(r.get("other_proxy_core_pct"))
                return f"{fmt(num(r['other_pct']), 0)}%" + ("" if core is None else f", {fmt(core, 0)}% on its core")
            per = ", ".join(f"{fmt(num(r['p99_ms']))} ({noise(r)})" for r in rs)
            reloads = f"{tot('reloads_sent')} / {tot('reloads_effective')}" if mode == "reloading" else "-"
            out.append(
                f"| {LABEL[target]} | {mode} | {fmt(med(rs, 'rps'))} | {fmt(med(rs, 'p50_ms'))} | "
                f"{fmt(med(rs, 'p99_ms'))} | {fmt(med(rs, 'max_ms'))} | {per} | {fmt(med(rs, 'cpu_us_per_req'))} | "
                f"{reloads} | {tot('non2xx')} | {tot('sock_connect')}/{tot('sock_read')}/{tot('sock_write')}/{tot('sock_timeout')} | "
                f"{fmt(med(rs, 'other_pct'), 0)} |"
            )
    out.append("")
    out.append("Ratios of median p99:")
    out.append("")
    for target in ("ph", "nginx"):
        r = ratio(p99.get((target, "reloading")), p99.get((target, "steady")))
        if r is not None:
            out.append(f"- {LABEL[target]}: reloading / steady = {r:.2f}")
    for mode in ("steady", "reloading"):
        r = ratio(p99.get(("ph", mode)), p99.get(("nginx", mode)))
        if r is not None:
            out.append(f"- plugin-host / nginx, {mode}: {r:.2f}")
    out.append("")
    r = ratio(p99.get(("ph", "reloading")), p99.get(("ph", "steady")))
    a, b = p99.get(("ph", "reloading")), p99.get(("nginx", "reloading"))
    out.append(
        f"Targets: plugin-host p99 while reloading within 2x of steady: {verdict(None if r is None else r <= 2)}; "
        f"below nginx's p99 while nginx reloads: {verdict(None if a is None or b is None else a < b)}. "
        f"Errors (non-2xx + socket) while reloading: plugin-host {errs.get(('ph', 'reloading'), 'n/a')}, "
        f"nginx {errs.get(('nginx', 'reloading'), 'n/a')}; steady: plugin-host {errs.get(('ph', 'steady'), 'n/a')}, "
        f"nginx {errs.get(('nginx', 'steady'), 'n/a')}."
    )
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--swap-summary")
    ap.add_argument("--latency")
    ap.add_argument("--duration", default="20")
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--interval", default="1")
    a = ap.parse_args()
    out = swap_section(a.swap_summary) + latency_section(a.latency, a.duration, a.rounds, a.interval)
    print("\n".join(out) if out else "nothing measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
