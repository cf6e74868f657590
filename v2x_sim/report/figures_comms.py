"""Communication and control figures: latency tails, hops, edge load, warnings, reroutes.

A run keeps latency as percentiles per message kind and hop (``latency.csv``), not as
samples, so the distribution figures draw what those percentiles say and no more. Each
function takes tables and returns a `matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from numpy.typing import NDArray

from v2x_sim.report.load import Table

HOPS = ("air", "backhaul", "wan", "queue", "processing")
HOP_COLOURS = {"air": "#1f77b4", "backhaul": "#ff7f0e", "wan": "#2ca02c",
               "queue": "#d62728", "processing": "#9467bd"}
MS = 1000.0
FLOOR_MS = 1e-3  # log axes cannot show zero: smaller values sit at this floor


def _kinds(latency: Table) -> list[str]:
    """Message kinds in file order."""
    seen: dict[str, None] = {}
    for kind in latency["kind"].tolist():
        seen.setdefault(str(kind), None)
    return list(seen)


def _row(latency: Table, kind: str, hop: str) -> int | None:
    hits = np.flatnonzero((latency["kind"] == kind) & (latency["hop"] == hop))
    return int(hits[0]) if hits.size else None


def latency_cdf(latency: Table) -> Figure:
    """Distribution of end-to-end latency per kind, from its p50/p95/p99/max.

    Each kind's curve joins its reported percentiles: p50 at 0.5, p95, p99, and the
    maximum at ``n / (n + 1)`` (where the largest of ``n`` samples sits), on a logit
    probability axis that spreads the tail; the latency axis is logarithmic. Vertical
    dashed lines are the deadlines, labelled with the kinds they bind. Lost messages
    have no latency and are not in the curves (their share is in the legend).

    Returns:
        A 9 x 5.5 inch figure.
    """
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    deadlines: dict[float, list[str]] = {}
    top = 0.99
    for kind in _kinds(latency):
        i = _row(latency, kind, "total")
        if i is None:
            continue
        n = int(latency["count"][i])
        lost = int(latency["lost"][i])
        if n == 0:
            continue
        probs = [0.5, 0.95, 0.99, n / (n + 1.0)]
        values = [float(latency[c][i]) * MS for c in ("p50_s", "p95_s", "p99_s", "max_s")]
        keep = [k for k, p in enumerate(probs) if k == 0 or p > probs[k - 1]]
        xs = np.maximum([values[k] for k in keep], FLOOR_MS)
        ps = [probs[k] for k in keep]
        top = max(top, ps[-1])
        share = lost / (n + lost) if n + lost else 0.0
        ax.plot(xs, ps, marker="o", markersize=4,
                label=f"{kind} (n={n:,}, lost {share:.1%})")
        deadline = float(latency["deadline_s"][i])
        if math.isfinite(deadline) and deadline > 0:
            deadlines.setdefault(deadline, []).append(kind)
    for deadline, kinds in sorted(deadlines.items()):
        ax.axvline(deadline * MS, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"deadline {deadline * MS:g} ms\n({', '.join(kinds)})",
                    (deadline * MS, 0.5), xytext=(-4, 4), textcoords="offset points",
                    rotation=90, ha="right", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("logit")
    upper = 1 - (1 - top) / 3
    nines = [k for k in range(2, 10) if 1 - 10.0 ** -k < upper]
    ax.set_yticks([0.5, 0.9] + [1 - 10.0 ** -k for k in nines],
                  ["50 %", "90 %"] + [("99." + "9" * (k - 2)).rstrip(".") + " %" for k in nines])
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(0.45, upper)
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    ax.set_ylabel("share of delivered messages at or below (logit scale)")
    ax.set_title("Latency distribution per message kind (p50, p95, p99, max)")
    ax.grid(True, which="major", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8, loc="upper left")
    return fig


def latency_hop_breakdown(latency: Table) -> Figure:
    """Per kind, each hop's own p50 and p99 stacked, with the end-to-end value marked.

    Percentiles do not add: the stack shows where each hop's own percentile lies, and
    differs from the end-to-end percentile (the black tick) unless the hops' tails
    coincide in the same messages.

    Returns:
        A 9 x (1.6 + 0.42 per bar) inch figure.
    """
    kinds = [k for k in _kinds(latency) if _row(latency, k, "total") is not None]
    labels: list[str] = []
    stacks: list[dict[str, float]] = []
    totals: list[float] = []
    for kind in kinds:
        for column, name in (("p50_s", "p50"), ("p99_s", "p99")):
            labels.append(f"{kind} {name}")
            stack = {}
            for hop in HOPS:
                i = _row(latency, kind, hop)
                if i is not None:
                    stack[hop] = float(latency[column][i]) * MS
            stacks.append(stack)
            totals.append(float(latency[column][_row(latency, kind, "total")]) * MS)
    fig = Figure(figsize=(9, 1.6 + 0.42 * max(len(labels), 2)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    for hop in HOPS:
        widths = np.array([s.get(hop, 0.0) for s in stacks])
        if not any(hop in s for s in stacks):
            continue
        lefts = np.array([sum(s.get(h, 0.0) for h in HOPS[:HOPS.index(hop)]) for s in stacks])
        ax.barh(y, widths, left=lefts, height=0.7, color=HOP_COLOURS[hop], label=hop)
    ax.scatter(totals, y, marker="|", s=300, color="black", linewidths=2, zorder=3,
               label="end-to-end")
    ax.set_yticks(y, labels)
    ax.set_xlabel("latency (ms)")
    ax.set_title("Latency by hop: each hop's own percentile, stacked")
    ax.legend(fontsize=8, loc="lower right", ncols=3)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def _binned(t: NDArray[Any], v: NDArray[Any], bin_s: float) -> tuple[NDArray[Any],
                                                                      NDArray[Any]]:
    """Means of ``v`` over consecutive ``bin_s`` windows of ``t`` (window starts)."""
    if t.size == 0:
        return t, v
    index = np.floor(t / bin_s).astype(np.int64)
    uniq, inverse = np.unique(index, return_inverse=True)
    sums = np.bincount(inverse, weights=np.nan_to_num(v.astype(float)))
    counts = np.bincount(inverse)
    return uniq * bin_s, sums / counts


def edge_utilisation(edges: Table, bin_s: float = 60.0) -> Figure:
    """Busy share of each edge node's (and the cloud's) cores and its queue over time.

    Args:
        edges: ``edges.csv`` rows (``node, t_start_s, utilisation, queue_mean``).
        bin_s: averaging window; the file has one row per tick, too noisy to read.

    Returns:
        A 9 x 6 inch figure with two panels sharing the time axis.
    """
    fig = Figure(figsize=(9, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    nodes = sorted({str(n) for n in edges["node"].tolist()},
                   key=lambda n: (n == "cloud", len(n), n))
    for node in nodes:
        mask = edges["node"] == node
        t, u = _binned(edges["t_start_s"][mask], edges["utilisation"][mask], bin_s)
        _, q = _binned(edges["t_start_s"][mask], edges["queue_mean"][mask], bin_s)
        style = {"color": "black", "linestyle": "--"} if node == "cloud" else {}
        top.plot(t / 60.0, u * 100.0, label=node, **style)
        bottom.plot(t / 60.0, q, label=node, **style)
    top.set_ylabel("utilisation (% of cores busy)")
    top.set_ylim(bottom=0)
    top.set_title(f"Edge nodes and cloud ({bin_s:g} s means)")
    bottom.set_ylabel("queue (messages waiting, mean)")
    bottom.set_xlabel("time (min)")
    bottom.set_ylim(bottom=0)
    top.legend(fontsize=8, ncols=min(len(nodes), 5), loc="upper left")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return fig


def _incident_lines(ax: Any, events: Table | None) -> None:
    if events is None:
        return
    for kind, colour in (("incident_start", "#d62728"), ("incident_end", "#2ca02c")):
        for k, t in enumerate(events["time_s"][events["kind"] == kind]):
            ax.axvline(float(t) / 60.0, color=colour, linestyle=":", linewidth=1.5,
                       label=kind.replace("_", " ") if k == 0 else None)


def rerouting_over_time(events: Table | None, warnings: Table | None = None,
                        deadline_s: float | None = None,
                        advice: Table | None = None) -> Figure:
    """Reroutes followed per minute, and each hazard warning's latency over time.

    Args:
        events: ``events.csv``; its ``reroute`` rows are counted per minute.
        warnings: ``warnings.csv``; each delivered warning is a point (detection to
            delivery), each lost one a cross at the top.
        deadline_s: the warning deadline, drawn as a line.
        advice: ``advice.csv``; each delivered piece of route advice is a point at its
            decision time (decision to delivery), coloured by what the vehicle did.

    Returns:
        A 9 x 6 inch figure (9 x 3.5 without warnings).
    """
    has_warnings = warnings is not None and warnings["hazard"].size > 0
    has_advice = advice is not None and advice["decided_s"].size > 0
    rows = 1 + int(has_warnings) + int(has_advice)
    fig = Figure(figsize=(9, 3.5 + 2.5 * (rows - 1)), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, 1, sharex=True)))
    top = axes[0]
    if has_advice and advice is not None:
        panel = axes[-1]
        t = advice["decided_s"] / 60.0
        lat = np.maximum(advice["latency_s"] * MS, FLOOR_MS)
        for outcome, colour in (("followed", "#1f77b4"), ("declined", "#7f7f7f"),
                                ("stale", "#d62728")):
            mask = advice["outcome"] == outcome
            if mask.any():
                panel.scatter(t[mask], lat[mask], s=6, alpha=0.5, color=colour,
                              label=f"{outcome} ({int(mask.sum()):,})")
        panel.set_yscale("log")
        panel.set_ylabel("advice latency (ms)")
        panel.set_xlabel("time (min)")
        panel.legend(fontsize=8, loc="upper left")
    if events is not None:
        times = events["time_s"][events["kind"] == "reroute"]
        if times.size:
            minutes = np.floor(times / 60.0).astype(np.int64)
            counts = np.bincount(minutes)
            top.bar(np.arange(counts.size) + 0.5, counts, width=1.0, color="#1f77b4",
                    edgecolor="white", linewidth=0.5,
                    label=f"reroutes followed ({times.size:,})")
        _incident_lines(top, events)
    top.set_ylabel("reroutes followed per minute")
    top.set_title("Rerouting and hazard warnings over time")
    if top.get_legend_handles_labels()[0]:
        top.legend(fontsize=8, loc="upper left")
    if has_warnings and warnings is not None:
        bottom = axes[1]
        delivered = warnings["delivered"].astype(bool)
        t = warnings["t_hazard_s"] / 60.0
        lat = np.maximum(warnings["latency_s"] * MS, FLOOR_MS)
        in_time = warnings["in_time"].astype(bool)
        for mask, colour, label in ((delivered & in_time, "#2ca02c", "delivered in time"),
                                    (delivered & ~in_time, "#ff7f0e", "delivered late")):
            if mask.any():
                bottom.scatter(t[mask], lat[mask], s=10, alpha=0.6, color=colour,
                               label=f"{label} ({int(mask.sum())})")
        if (~delivered).any():
            y = float(np.nanmax(lat[delivered])) * 2 if delivered.any() else 100.0
            bottom.scatter(t[~delivered], np.full(int((~delivered).sum()), y), marker="x",
                           color="#d62728", label=f"lost ({int((~delivered).sum())})")
        if deadline_s is not None and math.isfinite(deadline_s):
            bottom.axhline(deadline_s * MS, color="black", linestyle="--", linewidth=1,
                           label=f"deadline {deadline_s * MS:g} ms")
        bottom.set_yscale("log")
        bottom.set_ylabel("warning latency (ms, log scale)")
        bottom.set_xlabel("hazard time (min)")
        bottom.legend(fontsize=8, loc="upper left", ncols=2)
        bottom.grid(True, alpha=0.3)
    else:
        top.set_xlabel("time (min)")
    return fig


def _first_reroutes(hazards: list[dict[str, Any]], events: Table | None) -> list[float]:
    """Per hazard: seconds from its start to the first reroute followed once confirmed.

    As the control loop counts it (``rerouting.time_to_first_reroute_s``): the platform
    learns of a hazard when its edge node has processed the report (``edge_done_s``);
    the first reroute any vehicle follows from then on is timed from the hazard's start.
    An unconfirmed hazard has none.
    """
    if events is None:
        return [math.nan] * len(hazards)
    times = np.sort(events["time_s"][events["kind"] == "reroute"])
    out = []
    for record in hazards:
        start, known = record.get("start_s"), record.get("edge_done_s")
        if not isinstance(start, int | float) or not isinstance(known, int | float):
            out.append(math.nan)
            continue
        k = np.searchsorted(times, known)
        out.append(float(times[k] - start) if k < times.size else math.nan)
    return out


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def has_hazard_records(summary: dict[str, Any]) -> bool:
    """Whether ``summary.json`` carries per-hazard records to draw."""
    hazards = summary.get("hazards")
    return isinstance(hazards, dict) and bool(hazards.get("by_hazard"))


def hazard_to_first_reroute(summary: dict[str, Any], events: Table | None = None) -> Figure:
    """Per hazard, the milestones of the fast loop and the first reroute after it.

    Milestones from ``summary.json`` (``hazards.by_hazard``), in time since the hazard
    began: detected, report at the edge, processing started, warning sent (processing
    done: the platform knows); from ``events.csv`` the first reroute any vehicle followed
    after that (not necessarily because of the hazard). The summary's
    ``rerouting.time_to_first_reroute_s`` (earliest over hazards) is the dashed line.
    Logarithmic time axis: milliseconds and minutes on one figure.

    Returns:
        A figure 9 inches wide, 1.8 inches plus 0.4 per hazard high (thinner rows past
        ten hazards, at most 12 inches).
    """
    hazards = list((summary.get("hazards") or {}).get("by_hazard") or [])
    first = np.array(_first_reroutes(hazards, events))
    n = len(hazards)
    row_in = 0.4 if n <= 10 else max(0.16, 4.0 / n)  # many hazards: thinner rows
    fig = Figure(figsize=(9, round(min(12.0, 1.8 + row_in * max(n, 3)), 2)),
                 layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)[::-1].astype(float)
    start = np.array([_seconds(r.get("start_s")) for r in hazards])
    marks = (("detect_s", "detected", "o", "#1f77b4"),
             ("edge_arrival_s", "at the edge", "s", "#ff7f0e"),
             ("edge_start_s", "processing starts", "^", "#9467bd"),
             ("edge_done_s", "warning sent", "D", "#2ca02c"))
    columns = [np.array([_seconds(r.get(key)) for r in hazards]) - start
               for key, *_ in marks] + [first]
    xs = np.maximum(np.stack(columns) * MS, FLOOR_MS) if n else np.zeros((5, 0))
    known = np.isfinite(xs)
    lows = np.where(known, xs, np.inf).min(axis=0)
    highs = np.where(known, xs, -np.inf).max(axis=0)
    spans = np.isfinite(lows) & np.isfinite(highs)
    ax.hlines(y[spans], lows[spans], highs[spans], color="grey", linewidth=1, zorder=1)
    styles = [(label, marker, colour, 30) for _, label, marker, colour in marks]
    styles.append(("first reroute", "*", "#d62728", 120))
    for k, (label, marker, colour, size) in enumerate(styles):
        if known[k].any():
            ax.scatter(xs[k][known[k]], y[known[k]], marker=marker, color=colour, s=size,
                       zorder=3, label=label)
    overall = (summary.get("rerouting") or {}).get("time_to_first_reroute_s")
    if isinstance(overall, int | float) and math.isfinite(overall):
        ax.axvline(max(overall * MS, FLOOR_MS), color="black", linestyle="--", linewidth=1,
                   label=f"earliest reroute after a hazard ({overall * MS:.3g} ms)")
    ax.set_yticks(y, [f"{r.get('hazard', i)}: {r.get('cause', '?')}, link {r.get('link', '?')}"
                      for i, r in enumerate(hazards)], fontsize=9 if n <= 20 else 7)
    ax.set_xscale("log")
    ax.set_xlabel(f"time since the hazard began (ms, log scale; ≤{FLOOR_MS:g} ms at the left)")
    ax.set_ylabel("hazard")
    ax.set_title("From hazard to warning to the first reroute")
    ax.grid(True, axis="x", which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig
