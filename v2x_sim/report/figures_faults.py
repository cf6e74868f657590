"""The fault timeline: when each fault window was open, and what it did to the queues.

Reads the ``resilience`` section of ``summary.json`` and ``edges.csv``; returns a
`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from v2x_sim.report.figures_comms import OKABE_ITO, _binned
from v2x_sim.report.load import Table


def has_faults(summary: dict[str, Any]) -> bool:
    """Whether the run had a fault window that was open for some time."""
    faults = (summary.get("resilience") or {}).get("faults") or []
    return any(float(f.get("end_s", 0)) > float(f.get("start_s", 0)) for f in faults)


def _label(fault: dict[str, Any]) -> str:
    targets = fault.get("targets") or []
    kind = str(fault.get("kind", "?"))
    if not targets:
        return kind
    names = [f"edge-{t}" if kind in ("edge_down", "backhaul_cut") else str(t)
             for t in targets[:3]]
    more = f" +{len(targets) - 3}" if len(targets) > 3 else ""
    return f"{kind} {', '.join(names)}{more}"


def fault_timeline(summary: dict[str, Any], edges: Table | None,
                   bin_s: float = 60.0) -> Figure:
    """Fault windows as bars over time; below, the queue of every node they loaded.

    Args:
        summary: the run's ``summary.json`` (its ``resilience.faults``).
        edges: ``edges.csv`` rows, or None (then only the bars).
        bin_s: averaging window of the queue curves.

    Returns:
        A 9 x 5.5 inch figure (9 x 2.6 without queue curves).
    """
    faults = [f for f in summary["resilience"]["faults"]
              if float(f["end_s"]) > float(f["start_s"])]
    loaded = sorted({n for f in faults for n in (f.get("nodes") or {})},
                    key=lambda n: (n == "cloud", len(n), n))
    curves = edges is not None and bool(loaded)
    fig = Figure(figsize=(9, 5.5 if curves else 2.6), layout="constrained")
    made: Any = fig.subplots(2 if curves else 1, 1, sharex=True,
                             height_ratios=[1, 2] if curves else None)
    axes = list(np.atleast_1d(made))
    top = axes[0]
    for row, fault in enumerate(faults):
        start, end = float(fault["start_s"]) / 60.0, float(fault["end_s"]) / 60.0
        top.barh(row, end - start, left=start, color=OKABE_ITO[row % 7], height=0.6)
        lost = sum((fault.get("lost") or {}).values())
        took = ", ".join(f"{n:,} to {node}" for node, n in
                         (fault.get("taken_over") or {}).items())
        top.text(end, row, f"  {lost:,} lost" + (f"; {took}" if took else ""),
                 va="center", fontsize=8)
    top.set_yticks(range(len(faults)), [_label(f) for f in faults], fontsize=8)
    top.invert_yaxis()
    top.set_title("Fault windows (messages each dropped, reason outage)")
    if curves and edges is not None:
        bottom = axes[1]
        for k, node in enumerate(loaded):
            mask = edges["node"] == node
            t, q = _binned(edges["t_start_s"][mask], edges["queue_mean"][mask], bin_s)
            style = ({"color": "black", "linestyle": "--"} if node == "cloud"
                     else {"color": OKABE_ITO[k % 7]})
            bottom.plot(t / 60.0, np.maximum(q, 1e-3), label=node, **style)
        for fault in faults:
            bottom.axvspan(float(fault["start_s"]) / 60.0, float(fault["end_s"]) / 60.0,
                           color="#999999", alpha=0.15)
        bottom.set_yscale("log")
        bottom.set_ylabel(f"queue (messages waiting, {bin_s:g} s mean)")
        bottom.legend(fontsize=8, frameon=False)
        bottom.grid(True, alpha=0.3)
    axes[-1].set_xlabel("time (min)")
    return fig
