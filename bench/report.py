#!/usr/bin/env python3
"""Turn run.sh's raw results (one TSV line per round, target and size) into
the markdown report: one table of medians, plugin-host's ratios against
each peer, the CPU-per-request ratios against issue 13's targets (met or
not met: reported, not asserted), and each proxy's 1 MiB throughput as a
share of the origin's.

Medians, not means: on a 2-core machine shared with other work one noisy
round must not move the result.
"""

import argparse
import csv
import statistics
import sys

SIZES = [("1k", "1 KiB", 1024), ("64k", "64 KiB", 65536), ("1m", "1 MiB", 1048576)]

LABELS = {
    "origin": "origin direct (nginx)",
    "ph0": "plugin-host, no plugins",
    "ph0-buf": "plugin-host, no plugins, splice off",
    "ph0-log": "plugin-host, no plugins, access log on",
    "ph1": "plugin-host, 1 null transform",
    "ph5": "plugin-host, 5 null transforms",
    "ph-scan": "plugin-host, scanner (report, 1,000 patterns)",
    "ph-replace": "plugin-host, scanner (replace, 255 patterns)",
    "nginx": "nginx proxy",
    "nginx-log": "nginx proxy, access log on",
    "nginx-sub": "nginx proxy + sub_filter (255 patterns)",
    "haproxy": "HAProxy",
    "haproxy-log": "HAProxy, access log on",
    "ats": "ATS",
    "ats-log": "ATS, access log on",
    "ats-null": "ATS + null transform",
}

# Which plugin-host variant is compared with which peer: like with like.
COMPARISONS = [
    ("ph0", "nginx"),
    ("ph0", "haproxy"),
    ("ph0", "ats"),
    ("ph0-log", "nginx-log"),
    ("ph0-log", "haproxy-log"),
    ("ph0-log", "ats-log"),
    ("ph1", "ats-null"),
    ("ph5", "ats-null"),
    # The scanner's cost over passing bytes on: the target is at most +10% CPU at 64 KiB.
    ("ph-scan", "ph1"),
    # Replace mode against nginx rewriting the same patterns with sub_filter.
    ("ph-replace", "nginx-sub"),
]

# Issue 13's targets on the ratio of median CPU per request: (numerator,
# denominator, bound, strict, sizes it applies to). strict: the ratio must
# be below the bound, not merely at most.
ALL_SIZES = ("1k", "64k", "1m")
TARGETS = [
    ("ph0", "nginx", 0.9, False, ALL_SIZES),
    ("ph0", "haproxy", 0.8, False, ALL_SIZES),
    ("ph0", "ats", 0.5, False, ALL_SIZES),
    ("ph0-log", "nginx-log", 0.9, False, ALL_SIZES),
    ("ph0-log", "haproxy-log", 0.8, False, ALL_SIZES),
    ("ph0-log", "ats-log", 0.5, False, ALL_SIZES),
    ("ph1", "ph0", 1.05, False, ALL_SIZES),
    ("ph5", "ph0", 1.15, False, ALL_SIZES),
    # Like with like: a transformed body always takes the buffered path, so
    # the plugins' own cost is measured against the host with splice off.
    ("ph1", "ph0-buf", 1.05, False, ALL_SIZES),
    ("ph5", "ph0-buf", 1.15, False, ALL_SIZES),
    ("ph-scan", "ph1", 1.10, False, ("64k",)),
    ("ph-replace", "nginx-sub", 1.0, True, ALL_SIZES),
]


def load(path):
    """Return {(target, size): {metric: [values per round]}}, the target
    order, and the noise readings {"other"|"steal": [(pct, cell)]}."""
    cells, order, noise = {}, [], {"other": [], "steal": []}
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            target, size = row["target"], row["size"]
            if target not in order:
                order.append(target)
            cell = cells.setdefault((target, size), {"rps": [], "p99": [], "cpu": [], "errors": 0})
            cell["errors"] += int(row["errors"] or 0)
            if row["rps"] == "na":
                continue
            # Older raw files have no noise columns.
            for key in ("other", "steal"):
                value = row.get(f"{key}_pct")
                if value not in (None, "", "na"):
                    noise[key].append((float(value), f"{target} {size} round {row['round']}"))
            cell["rps"].append(float(row["rps"]))
            cell["p99"].append(float(row["p99_ms"]))
            cell["cpu"].append(float(row["cpu_us_per_req"]))
    # Rows in the fixed order of LABELS, whatever order the rounds ran in.
    known = list(LABELS)
    order.sort(key=lambda t: known.index(t) if t in known else len(known))
    return cells, order, noise


def median(cells, target, size, metric):
    values = cells.get((target, size), {}).get(metric, [])
    return statistics.median(values) if values else None


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main_table(cells, order, rounds):
    head = ["target"]
    for _, label, _ in SIZES:
        head += [f"{label} req/s", f"{label} p99 ms", f"{label} CPU µs/req"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    footnotes = []
    for target in order:
        row = [LABELS.get(target, target)]
        for size, _, _ in SIZES:
            cell = cells.get((target, size), {"rps": [], "errors": 0})
            mark = ""
            if cell["rps"] and len(cell["rps"]) < rounds:
                mark += f" ({len(cell['rps'])}/{rounds} rounds)"
            if cell["errors"]:
                mark += " †"
                footnotes.append(f"† {LABELS.get(target, target)} {size}: {cell['errors']} failed requests (socket errors or non-2xx) over all rounds")
            row += [
                fmt(median(cells, target, size, "rps"), ",.0f") + mark,
                fmt(median(cells, target, size, "p99"), ".2f"),
                fmt(median(cells, target, size, "cpu"), ".1f"),
            ]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""] + footnotes


def ratio_table(cells):
    head = ["plugin-host vs peer"]
    for _, label, _ in SIZES:
        head += [f"{label} CPU/req ×", f"{label} req/s ×"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ran = {target for target, _ in cells}
    for ph, peer in COMPARISONS:
        if ph not in ran and peer not in ran:
            continue
        row = [f"{LABELS[ph]} vs {LABELS[peer]}"]
        for size, _, _ in SIZES:
            row += [
                fmt(ratio(median(cells, ph, size, "cpu"), median(cells, peer, size, "cpu")), ".2f"),
                fmt(ratio(median(cells, ph, size, "rps"), median(cells, peer, size, "rps")), ".2f"),
            ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def target_table(cells):
    """One row per target: the ratio of median CPU per request at each size
    it applies to, the bound, and met / not met (n/a when a side is
    missing, for example a target not run)."""
    head = ["CPU per request", "target"] + [label for _, label, _ in SIZES] + ["verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for num, den, bound, strict, sizes in TARGETS:
        row = [f"{num} / {den}", f"{'<' if strict else '≤'} {bound:.2f}"]
        missed, missing = [], 0
        for size, label, _ in SIZES:
            if size not in sizes:
                row.append("")
                continue
            r = ratio(median(cells, num, size, "cpu"), median(cells, den, size, "cpu"))
            if r is None:
                missing += 1
            elif (r >= bound) if strict else (r > bound):
                missed.append(label)
            row.append(fmt(r, ".2f"))
        if missing == len(sizes):
            verdict = "n/a"
        elif missed:
            verdict = "not met at " + ", ".join(missed)
        else:
            verdict = "met" + (" where measured" if missing else "")
        lines.append("| " + " | ".join(row + [verdict]) + " |")
    return lines


def throughput_lines(cells):
    size, _, nbytes = SIZES[-1]
    origin = median(cells, "origin", size, "rps")
    lines = []
    for target in LABELS:
        if target == "origin" or (target, size) not in cells:
            continue
        rps = median(cells, target, size, "rps")
        mib = None if rps is None else rps * nbytes / 2**20
        share = ratio(rps, origin)
        lines.append(
            f"- {LABELS[target]}: {fmt(mib, ',.0f')} MiB/s, "
            f"{fmt(None if share is None else share * 100, '.0f')}% of origin direct"
        )
    return lines


def noise_lines(noise):
    """How much CPU other processes and the hypervisor took during the
    measured runs: the context a reader needs to trust a gap or not."""
    if not noise["other"]:
        return []
    other = [v for v, _ in noise["other"]]
    steal = [v for v, _ in noise["steal"]] or [0.0]
    worst, where = max(noise["other"])
    return [
        "",
        f"Noise: other processes on the machine took a median {statistics.median(other):.0f}% of one core "
        f"during the measured runs (worst {worst:.0f}%, {where}); hypervisor steal median "
        f"{statistics.median(steal):.0f}%.",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="raw TSV written by run.sh")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="8s")
    parser.add_argument("--ph-log-off", help="how plugin-host ran with its access log off")
    parser.add_argument("--ph-log-on", help="how plugin-host ran with its access log on")
    args = parser.parse_args()
    cells, order, noise = load(args.raw)
    out = [
        f"Medians of {args.rounds} rounds; each cell is one `wrk -t1 -c32 -d{args.duration} --latency` run "
        "(keep-alive). CPU µs/req is the target's user+system CPU over the run divided by requests "
        "(for origin direct: the origin nginx's own CPU).",
        "",
    ]
    if args.ph_log_off or args.ph_log_on:
        out += [
            f"plugin-host's access log: off = {args.ph_log_off or 'n/a'}; on (ph0-log) = {args.ph_log_on or 'n/a'}.",
            "",
        ]
    out += main_table(cells, order, args.rounds)
    out += ["", "Ratios (CPU/req × below 1 and req/s × above 1 favour plugin-host):", ""]
    out += ratio_table(cells)
    out += ["", "Against the targets (ratios of median CPU µs/req; reported, not asserted):", ""]
    out += target_table(cells)
    out += ["", "1 MiB throughput against the origin served directly:", ""]
    out += throughput_lines(cells)
    out += noise_lines(noise)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
