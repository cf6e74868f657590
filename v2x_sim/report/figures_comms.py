"""Communication and control figures: latency tails, hops, edge load, warnings, reroutes.

A run keeps latency per message kind and hop as percentiles (``latency.csv``) and as
log-binned histograms (``latency_hist.csv``); the distribution figure draws the
histograms, which older folders lack (then it shows the percentiles as points). Each
function takes tables and returns a `matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter
from numpy.typing import NDArray

from v2x_sim.report.load import Table

HOPS = ("air", "backhaul", "wan", "queue", "processing")
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
"""Categorical colours that colour-blind readers tell apart (Okabe & Ito, 2008)."""
HOP_COLOURS = {"air": "#0072B2", "backhaul": "#E69F00", "wan": "#009E73", "queue": "#D55E00",
               "processing": "#CC79A7"}
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


def duration_label(value_ms: float, _pos: Any = None) -> str:
    """A tick label for a time in milliseconds, in the unit that reads best (1 ms, 2 s).

    Microseconds below 1 ms, milliseconds below 1 s, seconds below 10 min, then minutes.
    """
    if not math.isfinite(value_ms) or value_ms <= 0:
        return ""
    if value_ms >= 600_000.0:
        return f"{value_ms / 60_000.0:.3g} min"
    if value_ms >= 1000.0:
        return f"{value_ms / 1000.0:.3g} s"
    if value_ms >= 1.0:
        return f"{value_ms:.3g} ms"
    return f"{value_ms * 1000.0:.3g} µs"


def decade_axis(ax: Any, values: NDArray[Any]) -> None:
    """A log x axis over whole decades around ``values``, labelled at each decade.

    A narrow range on a log axis (2.9 to 4.9 ms) otherwise gets no decade inside it
    and matplotlib labels minor ticks in scientific form (3 x 10^0).
    """
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if not finite.size:
        return
    low = 10.0 ** math.floor(math.log10(finite.min()))
    high = 10.0 ** math.ceil(math.log10(finite.max()))
    if high <= low * 10:
        high = low * 100 if finite.max() * 3 > low * 10 else low * 10
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_formatter(FuncFormatter(duration_label))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _share_label(value: float, _pos: Any = None) -> str:
    return f"{value * 100:g} %" if value > 0 else ""


def _survival(hist: Table, kind: str, max_ms: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """Share of delivered ``kind`` messages slower than x, at the histogram's bin edges.

    Between two edges the bins are log-uniform, so straight lines on a log axis draw
    the histogram's own distribution; the overflow bin ends at the largest value.
    """
    rows = np.flatnonzero((hist["kind"] == kind) & (hist["hop"] == "total"))
    rows = rows[np.argsort(hist["low_s"][rows], kind="stable")]
    counts = np.asarray(hist["count"][rows], float)
    n = counts.sum()
    if n <= 0:
        return np.zeros(0), np.zeros(0)
    low = np.asarray(hist["low_s"][rows], float) * MS
    high = np.asarray(hist["high_s"][rows], float) * MS
    high = np.where(np.isfinite(high), high, max(max_ms, float(low[-1])))
    x = np.concatenate([[low[0]], high])
    y = np.concatenate([[1.0], 1.0 - np.cumsum(counts) / n])
    return np.maximum(x, FLOOR_MS), y


def latency_cdf(latency: Table, hist: Table | None = None) -> Figure:
    """End-to-end latency per message kind: the share of messages slower than x.

    With the stored histograms (``latency_hist.csv``, log bins of 4.7 %) each kind's
    curve is its whole distribution: the share of delivered messages slower than each
    latency, on log axes, so the median sits at 50 % and the p99 where the curve
    crosses 1 %; it ends at the slowest message (the last step falls to 1/n). Without
    them (older folders) the reported p50, p95, p99 and maximum are drawn as points
    only, not joined. Dashed vertical lines are the deadlines, labelled with the kinds
    they bind; lost messages have no latency (their share is in the legend).

    Returns:
        A 9 x 5.5 inch figure.
    """
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    deadlines: dict[float, list[str]] = {}
    lowest = 0.01
    for k, kind in enumerate(_kinds(latency)):
        i = _row(latency, kind, "total")
        if i is None or int(latency["count"][i]) == 0:
            continue
        n, lost = int(latency["count"][i]), int(latency["lost"][i])
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        share = lost / (n + lost) if n + lost else 0.0
        label = f"{kind} (n={n:,}, lost {share:.1%})"
        x, y = (_survival(hist, kind, float(latency["max_s"][i]) * MS) if hist is not None
                else (np.zeros(0), np.zeros(0)))
        if x.size:
            shown = y > 0
            last = int(np.flatnonzero(shown)[-1]) + 1 if shown.any() else 0
            ax.plot(x[:last + 1], np.maximum(y[:last + 1], 0.5 / n), color=colour,
                    linewidth=1.6, label=label, drawstyle="default")
            lowest = min(lowest, 0.5 / n)
        else:
            probs = [0.5, 0.05, 0.01, 1.0 / (n + 1.0)]
            values = [float(latency[c][i]) * MS for c in ("p50_s", "p95_s", "p99_s", "max_s")]
            ax.scatter(np.maximum(values, FLOOR_MS), probs, color=colour, s=22,
                       label=f"{label}: p50, p95, p99, max")
            lowest = min(lowest, 0.5 / (n + 1.0))
        deadline = float(latency["deadline_s"][i])
        if math.isfinite(deadline) and deadline > 0:
            deadlines.setdefault(deadline, []).append(kind)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(lowest, 1.5)
    for deadline, kinds in sorted(deadlines.items()):
        ax.axvline(deadline * MS, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"deadline {duration_label(deadline * MS)}\n({', '.join(kinds)})",
                    (deadline * MS, 1.0), xytext=(-4, -4), textcoords="offset points",
                    rotation=90, ha="right", va="top", fontsize=8)
    for level, name in ((0.5, "p50"), (0.01, "p99")):
        ax.axhline(level, color="grey", linestyle=":", linewidth=1)
        ax.annotate(name, (0, level), xycoords=("axes fraction", "data"), xytext=(3, 2),
                    textcoords="offset points", fontsize=8, color="grey")
    ax.xaxis.set_major_formatter(FuncFormatter(duration_label))
    ax.yaxis.set_major_formatter(FuncFormatter(_share_label))
    ax.set_xlabel("end-to-end latency x (log scale)")
    ax.set_ylabel("delivered messages slower than x (log scale)")
    ax.set_title("Latency distribution per message kind"
                 + (" (from the stored histograms)" if hist is not None else
                    " (reported percentiles only)"))
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
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
    fig.legend(loc="outside lower center", ncols=6, fontsize=8, frameon=False)
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
    """Busy share of each edge node's (and the cloud's) cores, and its queue over time.

    The queue panel is left out when no message ever waited (every ``queue_mean`` is
    zero): the title says so instead of drawing flat lines at zero.

    Args:
        edges: ``edges.csv`` rows (``node, t_start_s, utilisation, queue_mean``).
        bin_s: averaging window; the file has one row per tick, too noisy to read.

    Returns:
        A 9 x 6 inch figure with two panels sharing the time axis (9 x 3.8 with one).
    """
    queued = bool(np.nan_to_num(np.asarray(edges["queue_mean"], float)).any())
    fig = Figure(figsize=(9, 6 if queued else 3.8), layout="constrained")
    made: Any = fig.subplots(2 if queued else 1, 1, sharex=True)
    axes = list(np.atleast_1d(made))
    top, bottom = axes[0], axes[-1]
    nodes = sorted({str(n) for n in edges["node"].tolist()},
                   key=lambda n: (n == "cloud", len(n), n))
    for k, node in enumerate(nodes):
        mask = edges["node"] == node
        t, u = _binned(edges["t_start_s"][mask], edges["utilisation"][mask], bin_s)
        style = ({"color": "black", "linestyle": "--"} if node == "cloud"
                 else {"color": OKABE_ITO[k % (len(OKABE_ITO) - 1)]})
        top.plot(t / 60.0, u * 100.0, label=node, **style)
        if queued:
            _, q = _binned(edges["t_start_s"][mask], edges["queue_mean"][mask], bin_s)
            bottom.plot(t / 60.0, q, **style)
    top.set_ylabel("utilisation (% of cores busy)")
    top.set_ylim(bottom=0)
    top.set_title(f"Edge nodes and cloud ({bin_s:g} s means)" + (
        "" if queued else ": no message waited in any queue"))
    if queued:
        bottom.set_ylabel("queue (messages waiting, mean)")
        bottom.set_ylim(bottom=0)
    bottom.set_xlabel("time (min)")
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig
