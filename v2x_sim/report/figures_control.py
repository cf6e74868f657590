"""Control figures: reroutes, warnings and advice over time; each hazard's timeline.

Each function takes tables (and ``summary.json`` for the per-hazard records) and returns
a `matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from v2x_sim.report.figures_comms import (
    FLOOR_MS,
    MS,
    OKABE_ITO,
    decade_axis,
    duration_label,
)
from v2x_sim.report.load import Table


def _incident_lines(ax: Any, events: Table | None) -> None:
    if events is None:
        return
    for kind, colour in (("incident_start", OKABE_ITO[5]), ("incident_end", OKABE_ITO[2])):
        for k, t in enumerate(events["time_s"][events["kind"] == kind]):
            ax.axvline(float(t) / 60.0, color=colour, linestyle=":", linewidth=1.5,
                       label=kind.replace("_", " ") if k == 0 else None)


def rerouting_over_time(events: Table | None, warnings: Table | None = None,
                        deadline_s: float | None = None,
                        advice: Table | None = None) -> Figure:
    """Reroutes followed per minute, each hazard warning's latency, each advice's latency.

    One panel per kind of data present, sharing the time axis: reroutes (only when some
    vehicle followed one: with policy ``none`` the panel would be empty), warnings,
    advice. Incidents are dotted lines in every panel.

    Args:
        events: ``events.csv``; its ``reroute`` rows are counted per minute.
        warnings: ``warnings.csv``; each delivered warning is a point (detection to
            delivery), each lost one a cross at the top.
        deadline_s: the warning deadline, drawn as a line.
        advice: ``advice.csv``; each delivered piece of route advice is a point at its
            decision time (decision to delivery), coloured by what the vehicle did.

    Returns:
        A figure 9 inches wide, 1 inch plus 2.5 per panel high.
    """
    reroutes = (events["time_s"][events["kind"] == "reroute"] if events is not None
                else np.zeros(0))
    has_warnings = warnings is not None and warnings["hazard"].size > 0
    has_advice = advice is not None and advice["decided_s"].size > 0
    panels = [name for name, present in (("reroutes", reroutes.size > 0),
                                         ("warnings", has_warnings), ("advice", has_advice))
              if present] or ["reroutes"]
    fig = Figure(figsize=(9, 1.0 + 2.5 * len(panels)), layout="constrained")
    axes = dict(zip(panels, np.atleast_1d(fig.subplots(len(panels), 1, sharex=True)),
                    strict=True))
    if "reroutes" in axes:
        ax = axes["reroutes"]
        if reroutes.size:
            counts = np.bincount(np.floor(reroutes / 60.0).astype(np.int64))
            ax.bar(np.arange(counts.size) + 0.5, counts, width=1.0, color=OKABE_ITO[0],
                   edgecolor="white", linewidth=0.5,
                   label=f"reroutes followed ({reroutes.size:,})")
        else:
            ax.text(0.5, 0.5, "no vehicle followed a reroute", transform=ax.transAxes,
                    ha="center", va="center", color="grey")
        ax.set_ylabel("reroutes followed per minute")
    if has_warnings and warnings is not None:
        _warning_panel(axes["warnings"], warnings, deadline_s)
    if has_advice and advice is not None:
        ax = axes["advice"]
        t = advice["decided_s"] / 60.0
        lat = np.maximum(advice["latency_s"] * MS, FLOOR_MS)
        for outcome, colour in (("followed", OKABE_ITO[0]), ("declined", "#7f7f7f"),
                                ("stale", OKABE_ITO[5])):
            mask = advice["outcome"] == outcome
            if mask.any():
                ax.scatter(t[mask], lat[mask], s=6, alpha=0.5, color=colour,
                           label=f"advice {outcome} ({int(mask.sum()):,})")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(duration_label))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("advice latency (log scale)")
    for ax in axes.values():
        _incident_lines(ax, events)
        ax.grid(True, alpha=0.3)
    first = next(iter(axes.values()))
    first.set_title("Rerouting and hazard warnings over time")
    list(axes.values())[-1].set_xlabel("time (min)")
    handles, labels = [], []
    for ax in axes.values():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8,
                   frameon=False)
    return fig


def _warning_panel(ax: Any, warnings: Table, deadline_s: float | None) -> None:
    delivered = warnings["delivered"].astype(bool)
    t = warnings["t_hazard_s"] / 60.0
    lat = np.maximum(warnings["latency_s"] * MS, FLOOR_MS)
    in_time = warnings["in_time"].astype(bool)
    for mask, colour, label in ((delivered & in_time, OKABE_ITO[2], "warning in time"),
                                (delivered & ~in_time, OKABE_ITO[1], "warning late")):
        if mask.any():
            ax.scatter(t[mask], lat[mask], s=10, alpha=0.6, color=colour,
                       label=f"{label} ({int(mask.sum())})")
    if (~delivered).any():
        y = float(np.nanmax(lat[delivered])) * 2 if delivered.any() else 100.0
        ax.scatter(t[~delivered], np.full(int((~delivered).sum()), y), marker="x",
                   color=OKABE_ITO[5], label=f"warning lost ({int((~delivered).sum())})")
    if deadline_s is not None and math.isfinite(deadline_s):
        ax.axhline(deadline_s * MS, color="black", linestyle="--", linewidth=1,
                   label=f"warning deadline {duration_label(deadline_s * MS)}")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(duration_label))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("warning latency, by hazard start (log)")


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
    """Per hazard, how long until it was detected, then the fast loop and the first reroute.

    Two panels share the hazards' rows, because detection can take minutes (vehicles
    must queue behind a blockage before their reports show it) while the edge answers
    in milliseconds: on the left, the time from the hazard's start to its detection
    (linear, in seconds; "not detected" otherwise); on the right, from detection, on a
    logarithmic axis: report at the edge, processing starts, warning sent (the platform
    knows), and the first reroute any vehicle followed after that (from ``events.csv``;
    not necessarily because of the hazard).

    Returns:
        A figure 10 inches wide, 1.9 inches plus 0.4 per hazard high (thinner rows past
        ten hazards, at most 12 inches).
    """
    hazards = list((summary.get("hazards") or {}).get("by_hazard") or [])
    n = len(hazards)
    row_in = 0.4 if n <= 10 else max(0.16, 4.0 / n)
    fig = Figure(figsize=(10, round(min(12.0, 1.9 + row_in * max(n, 3)), 2)),
                 layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 2]})
    y = np.arange(n)[::-1].astype(float)
    start = np.array([_seconds(r.get("start_s")) for r in hazards])
    detect = np.array([_seconds(r.get("detect_s")) for r in hazards])
    waited = detect - start
    found = np.isfinite(waited)
    left.barh(y[found], waited[found], height=0.5, color=OKABE_ITO[4])
    for row, value, record in zip(y, waited, hazards, strict=True):
        how = record.get("detected_by", "?")
        text = ("not detected" if not math.isfinite(value) else f"at once ({how})"
                if value <= 0 else f"{duration_label(value * MS)} ({how})")
        left.annotate(text, (0, row), xytext=(3, 8), textcoords="offset points",
                      fontsize=8, va="bottom")
    left.set_xlim(0, max(1.0, float(np.nanmax(waited, initial=0.0)) * 1.15) if found.any()
                  else 1.0)
    left.set_xlabel("hazard start to detection (s)")
    marks = (("edge_arrival_s", "report at the edge", "s", OKABE_ITO[1]),
             ("edge_start_s", "processing starts", "^", OKABE_ITO[3]),
             ("edge_done_s", "warning sent", "D", OKABE_ITO[2]))
    first = np.array(_first_reroutes(hazards, events)) - waited
    columns = [np.array([_seconds(r.get(key)) for r in hazards]) - detect
               for key, *_ in marks] + [first]
    xs = np.maximum(np.stack(columns) * MS, FLOOR_MS) if n else np.zeros((4, 0))
    known = np.isfinite(xs)
    lows = np.where(known, xs, np.inf).min(axis=0)
    highs = np.where(known, xs, -np.inf).max(axis=0)
    spans = np.isfinite(lows) & np.isfinite(highs)
    right.hlines(y[spans], lows[spans], highs[spans], color="grey", linewidth=1, zorder=1)
    styles = [(label, marker, colour, 36) for _, label, marker, colour in marks]
    styles.append(("first reroute after the warning", "*", OKABE_ITO[5], 130))
    for k, (label, marker, colour, size) in enumerate(styles):
        if known[k].any():
            right.scatter(xs[k][known[k]], y[known[k]], marker=marker, color=colour, s=size,
                          zorder=3, label=label)
    decade_axis(right, xs[known])
    right.set_xlabel(f"time since detection (log scale; ≤{duration_label(FLOOR_MS)} at the "
                     "left edge)")
    left.set_yticks(y, [f"{r.get('hazard', i)}: {r.get('cause', '?')}, link "
                        f"{r.get('link', '?')}" for i, r in enumerate(hazards)],
                    fontsize=9 if n <= 20 else 7)
    left.set_ylim(-0.7, max(n, 1) - 0.3)
    left.set_ylabel("hazard")
    fig.suptitle("From hazard to detection, warning and the first reroute")
    for ax in (left, right):
        ax.grid(True, axis="x", which="major", alpha=0.3)
    if right.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return fig
