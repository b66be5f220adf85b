"""Turns the side-by-side measurements (compare.csv) into compare.md and PNG charts.

    python3 report.py OUT_DIR MACHINE BROWSE_BYTES WIRE_PATH SECONDS CONNECTIONS
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out, machine, browse_bytes, wire_path, secs, conns = sys.argv[1:7]
rows = list(csv.DictReader(open(f"{out}/compare.csv")))
ORDER = ["direct", "nginx", "pingora", "arigate"]
SECTIONS = ["browse", "pass-through"]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


data = defaultdict(dict)  # data[section][row] = {"peak": {...}, "fixed": [{...}]}
for r in rows:
    d = data[r["section"]].setdefault(r["row"], {"peak": None, "fixed": []})
    if r["load"] == "peak":
        d["peak"] = r
    else:
        d["fixed"].append(r)


def fixed_cpu(d):
    """CPU µs/request over all fixed-rate runs together (ticks weighted by requests)."""
    total = sum(num(f["requests"]) or 0 for f in d["fixed"])
    if not total:
        return None
    return sum((num(f["cpu_us"]) or 0) * (num(f["requests"]) or 0) for f in d["fixed"]) / total


def fixed_switches(d):
    """Context switches per request over all fixed-rate runs together."""
    total = sum(num(f["requests"]) or 0 for f in d["fixed"])
    vals = [(num(f.get("switches_per_req")), num(f["requests"]) or 0) for f in d["fixed"]]
    if not total or any(v is None for v, _ in vals):
        return None
    return sum(v * n for v, n in vals) / total


def peak_cpu(d):
    """CPU µs/request of the wrk run, if there was one."""
    return num(d["peak"]["cpu_us"]) if d["peak"] else None


def at_rate(d, rate):
    """The fixed-rate run at this rate, if there was one."""
    return {int(f["rate"]): f for f in d["fixed"]}.get(rate)


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


def fmt(v, nd=0):
    return "–" if v is None else f"{v:.{nd}f}"


rates = sorted({int(r["rate"]) for r in rows if r["load"] == "fixed"})
md = [
    "# arigate side by side with nginx",
    "",
    f"Machine: {machine}. Command: `loadtest/compare/run.sh` (wrk {secs} s with {conns} connections for peak;"
    f" k6 constant-arrival-rate {secs} s per rate). The process under test is pinned to one core, the load"
    " generator and origins to the other; the machine is shared, so compare within one run.",
    "",
    f"- **browse**: a cached search answer of {browse_bytes} bytes. direct = nginx serving those bytes from a file;"
    " nginx = `proxy_cache` in front of it (POST cached by body, every request a HIT); arigate = a cache hit"
    " of the same search (the whole answer from its per-agent answer cache, checked against invalidations,"
    " with this request's trace id and the legs' ages). pingora = the floor: a bare Pingora 0.9.1 service"
    " (`benches/src/bin/pingora-floor.rs`, set up like the edge) that reads the body and answers the same bytes"
    " from memory, with none of arigate's work.",
    f"- **pass-through**: a re-check at the Hotelbeds simulator (`POST {wire_path}`). direct = the simulator;"
    " nginx = plain `proxy_pass` of the same wire request; arigate = `POST /v1/availability` with an offer_id,"
    " translated to the supplier's wire format and back; pingora = the same bare Pingora service as a plain"
    " proxy of the wire request. The direct row's CPU is the simulator's own work.",
    "- CPU µs/request = utime+stime of the process under test (all threads; nginx master and workers) over the run"
    " divided by the requests answered. *fixed* = all fixed-rate runs together, *peak* = the wrk run.",
    "- switches/req = context switches (voluntary + involuntary, all threads) of the process under test per"
    " request at the fixed rates: each is a sleep and a wake-up, which on this VM costs more than most of the"
    " request's own work (see profiles.md).",
    "- steal % = the share of the machine's CPU time the hypervisor gave to other guests during the row's runs"
    " (the highest of its runs, from /proc/stat). A row measured under high steal is slower than the others"
    " for reasons outside it: rerun rather than compare.",
    "",
]
targets = []
for section in SECTIONS:
    s = data.get(section, {})
    if not s:
        continue
    md += [f"## {section}", ""]
    head = ["", "CPU µs/req (fixed)", "CPU µs/req (peak)", "peak req/s"]
    head += [f"p50 / p99 ms @ {r}/s" for r in rates]
    head += ["CPU vs nginx", "CPU vs direct", "peak vs nginx", "peak vs direct", "switches/req (fixed)", "errors"]
    head += ["steal %"]
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = {k: (fixed_cpu(v), num(v["peak"]["rps"]) if v["peak"] else None) for k, v in s.items()}
    for name in ORDER:
        if name not in s:
            continue
        d = s[name]
        cpu, peak = base[name]
        cells = [f"**{name}**", fmt(cpu), fmt(peak_cpu(d)), fmt(peak)]
        for r in rates:
            f = at_rate(d, r)
            cells.append(f"{f['p50_ms']} / {f['p99_ms']}" if f else "–")
        nginx_cpu, nginx_peak = base.get("nginx", (None, None))
        direct_cpu, direct_peak = base.get("direct", (None, None))
        cells += [ratio(cpu, nginx_cpu), ratio(cpu, direct_cpu), ratio(peak, nginx_peak), ratio(peak, direct_peak)]
        cells.append(fmt(fixed_switches(d), 2))
        errors = sum(int(num(f["errors"]) or 0) for f in d["fixed"]) + int(num(d["peak"]["errors"]) or 0 if d["peak"] else 0)
        cells.append(str(errors))
        steals = [num(x.get("steal_pct")) for x in d["fixed"] + ([d["peak"]] if d["peak"] else [])]
        cells.append(fmt(max(steals), 1) if steals and None not in steals else "–")
        md.append("| " + " | ".join(cells) + " |")
    md.append("")
    a, n, dr = s.get("arigate"), s.get("nginx"), s.get("direct")
    if section == "browse" and a and n:
        r = fixed_cpu(a) / fixed_cpu(n)
        targets.append(f"| cached browse hit: CPU ≤ 0.8× nginx proxy_cache | {r:.2f}× | {'met' if r <= 0.8 else 'not met'} |")
    if section == "pass-through" and a and n:
        r = fixed_cpu(a) / fixed_cpu(n)
        targets.append(f"| pass-through: CPU ≤ 1.5× nginx proxy_pass | {r:.2f}× | {'met' if r <= 1.5 else 'not met'} |")
    if section == "pass-through" and a and dr:
        low = rates[0]
        fa, fd = at_rate(a, low), at_rate(dr, low)
        if fa and fd:
            added = (num(fa["p50_ms"]) - num(fd["p50_ms"])) * 1000
            targets.append(
                f"| pass-through: added p50 over direct ≤ 150 µs at {low}/s | {added:.0f} µs | {'met' if added <= 150 else 'not met'} |"
            )
md += ["## Targets (issue #7)", "", "| target | measured | |", "|---|---|---|"] + targets + [""]
# Issue #16: arigate against the floor of the same run, at full speed and at the fixed rates.
t16 = []
b, pt = data.get("browse", {}), data.get("pass-through", {})
if b.get("arigate") and b.get("pingora"):
    a, p = b["arigate"], b["pingora"]
    for label, av, pv in [("full speed", peak_cpu(a), peak_cpu(p)), ("fixed rates", fixed_cpu(a), fixed_cpu(p))]:
        if av is not None and pv:
            r = av / pv
            t16.append(f"| cached browse hit ≤ 1.15× the floor's CPU ({label}) | {r:.2f}× ({fmt(av)} vs {fmt(pv)} µs) | {'met' if r <= 1.15 else 'not met'} |")
    if b.get("nginx") and a["peak"] and b["nginx"]["peak"]:
        r = num(a["peak"]["rps"]) / num(b["nginx"]["peak"]["rps"])
        t16.append(f"| cached browse hit: peak req/s ≥ 0.85× nginx | {r:.2f}× | {'met' if r >= 0.85 else 'not met'} |")
if pt.get("arigate") and pt.get("pingora"):
    a, p = pt["arigate"], pt["pingora"]
    for label, av, pv in [("full speed", peak_cpu(a), peak_cpu(p)), ("fixed rates", fixed_cpu(a), fixed_cpu(p))]:
        if av is not None and pv is not None:
            over = av - pv
            t16.append(f"| re-check ≤ floor + 15 µs ({label}) | +{over:.0f} µs ({fmt(av)} vs {fmt(pv)} µs) | {'met' if over <= 15 else 'not met'} |")
    if pt.get("direct") and rates:
        fa, fd = at_rate(a, rates[0]), at_rate(pt["direct"], rates[0])
        if fa and fd:
            added = (num(fa["p50_ms"]) - num(fd["p50_ms"])) * 1000
            t16.append(f"| re-check: added p50 over direct ≤ 150 µs at {rates[0]}/s | {added:.0f} µs | {'met' if added <= 150 else 'not met'} |")
if t16:
    md += ["## Targets (issue #16)", "", "| target | measured | |", "|---|---|---|"] + t16 + [""]
# The floor: what the same measurement gives for Pingora with no arigate work in it.
floor = []
for section in SECTIONS:
    s = data.get(section, {})
    p, a, n, dr = s.get("pingora"), s.get("arigate"), s.get("nginx"), s.get("direct")
    if not (p and n):
        continue
    pc, nc = fixed_cpu(p), fixed_cpu(n)
    pk, nk = peak_cpu(p), peak_cpu(n)
    line = f"| {section} | {ratio(pc, nc)} ({fmt(pc)} vs {fmt(nc)} µs) | {ratio(pk, nk)} ({fmt(pk)} vs {fmt(nk)} µs) |"
    if a:
        ak = peak_cpu(a)
        line += f" {fmt(fixed_cpu(a) - pc)} µs | {fmt(ak - pk if ak is not None and pk is not None else None)} µs |"
    else:
        line += " – | – |"
    if section == "pass-through" and dr:
        low = rates[0]
        fp, fd = at_rate(p, low), at_rate(dr, low)
        line += f" {(num(fp['p50_ms']) - num(fd['p50_ms'])) * 1000:.0f} µs |" if fp and fd else " – |"
    else:
        line += " – |"
    floor.append(line)
if floor:
    md += [
        "## The Pingora floor",
        "",
        "The bare Pingora 0.9.1 service against nginx, and arigate's own work on top of it (arigate minus the"
        " floor, same run). A CPU target below the floor's ratio cannot be met by anything built on this"
        " Pingora; the difference is what arigate's code costs.",
        "",
        "| set-up | floor CPU vs nginx (fixed) | floor CPU vs nginx (peak) | arigate over the floor (fixed) |"
        " arigate over the floor (peak) | floor's added p50 over direct |",
        "|---|---|---|---|---|---|",
    ] + floor + [""]
md += [
    "Charts: [latency vs rate, browse](latency-browse.png), [latency vs rate, pass-through](latency-pass-through.png),"
    " [CPU per request](cpu.png). Raw rows: [compare.csv](compare.csv). Where the CPU goes: [profiles.md](profiles.md).",
    "",
]
open(f"{out}/compare.md", "w").write("\n".join(md))

colors = {"direct": "tab:gray", "nginx": "tab:green", "pingora": "tab:orange", "arigate": "tab:blue"}
for section in SECTIONS:
    s = data.get(section, {})
    if not s:
        continue
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name in ORDER:
        if name not in s:
            continue
        pts = sorted((int(f["rate"]), num(f["p50_ms"]), num(f["p99_ms"])) for f in s[name]["fixed"])
        xs = [p[0] for p in pts]
        ax.plot(xs, [p[1] for p in pts], "o-", color=colors[name], label=f"{name} p50")
        ax.plot(xs, [p[2] for p in pts], "s--", color=colors[name], label=f"{name} p99", alpha=0.7)
    ax.set_xlabel("request rate (req/s, k6 constant-arrival-rate)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"{section}: latency vs rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/latency-{section}.png", dpi=110)
    plt.close(fig)

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, section in zip(axes, SECTIONS):
    s = data.get(section, {})
    names = [n for n in ORDER if n in s]
    vals = [fixed_cpu(s[n]) or 0 for n in names]
    bars = ax.bar(names, vals, color=[colors[n] for n in names])
    for b, v in zip(bars, vals):
        ax.annotate(f"{v:.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=9)
    ax.set_title(f"{section}: CPU µs per request (fixed rates)")
    ax.set_ylabel("µs of CPU per request (process under test)")
    ax.grid(True, axis="y", alpha=0.3)
fig.tight_layout()
fig.savefig(f"{out}/cpu.png", dpi=110)
plt.close(fig)
