"""The ``resilience`` section of summary.json: what each fault window cost.

Pure summaries of what a run recorded: the fault plan's counters, the edge and cloud
queues' time slots, hazard records and the control loop's belief measurements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from v2x_sim.compute.faults import FaultPlan
from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.scenario.fault_sections import FaultKind


def latency_split(during: LogHistogram, outside: LogHistogram) -> dict[str, dict[str, Any]]:
    """Count, mean and p95 of end-to-end latency born during faults and outside them."""
    return {name: {"count": h.count, "mean_s": h.mean_s if h.count else None,
                   "p95_s": h.quantile(0.95) if h.count else None}
            for name, h in (("during", during), ("outside", outside))}


def _queue_effect(pool: Any, start_s: float, end_s: float) -> dict[str, Any]:
    """A node's queue before, during and after a fault window, and its recovery time.

    "Before" is a stretch as long as the window just before it (or everything outside
    it when the window starts at 0). Recovered: the first time slot after the window
    whose mean queue is within one message of the level before.
    """
    queue, util, t0 = pool.queue_length(), pool.utilisation(), pool.slot_start_s
    inside = (t0 >= start_s) & (t0 < end_s)
    before = (t0 < start_s) & (t0 >= start_s - (end_s - start_s))
    if not before.any():
        before = ~inside
    base = float(queue[before].mean()) if before.any() else 0.0
    after = np.flatnonzero((t0 >= end_s) & (queue <= base + 1.0))
    return {"queue_mean_before": base,
            "queue_mean_during": float(queue[inside].mean()) if inside.any() else None,
            "queue_max_during": float(queue[inside].max()) if inside.any() else None,
            "utilisation_before": float(util[before].mean()) if before.any() else None,
            "utilisation_during": float(util[inside].mean()) if inside.any() else None,
            "recover_s": float(t0[after[0]] - end_s) if after.size else None}


def _hazards_in(records: list[Any], start_s: float, end_s: float) -> dict[str, int]:
    """Hazards that began inside a window: how many, warned at all, reports lost."""
    inside = [h for h in records if start_s <= h.start_s < end_s]
    return {"hazards": len(inside), "warned": sum(h.delivered > 0 for h in inside),
            "upstream_vehicles": sum(h.upstream_vehicles for h in inside),
            "warned_in_time": sum(h.in_time for h in inside)}


def resilience_summary(plan: FaultPlan | None, kinds: list[str], pools: list[Any],
                       hazards: list[Any]) -> dict[str, Any]:
    """The ``resilience`` section of summary.json.

    ``faults``: each window with its resolved targets, the messages it dropped per
    kind, what each node took over from a failed edge node (``taken_over``), hazard
    reports lost, hazards that began inside it and how many were warned, and the queue
    of every node it loaded (the failed node's fallbacks; the cloud for cloud kinds)
    before, during and after it (``recover_s``). ``lost_outage``: totals per kind;
    ``latency``: end-to-end latency of content-carrying kinds born inside any fault
    window vs outside all of them.
    """
    if plan is None:
        return {"failover": None, "faults": [], "lost_outage": {}, "latency": {}}
    names = [p.name for p in pools]  # edge-0 ... edge-(n-1), cloud
    windows = []
    for f in plan.faults:
        lost = {kinds[k]: int(n) for k, n in enumerate(plan.lost[f.index]) if n}
        took = {names[j]: int(n) for j, n in enumerate(plan.taken_over[f.index]) if n}
        loaded = dict.fromkeys(took)
        if f.kind in (FaultKind.CLOUD_OUTAGE, FaultKind.WAN_CUT):
            loaded["cloud"] = None
        if f.kind == FaultKind.EDGE_DOWN:
            loaded.update(dict.fromkeys(names[e] for e in f.targets.tolist()))
        empty = f.end_s <= f.start_s
        windows.append({
            "kind": f.kind.value, "start_s": f.start_s, "end_s": f.end_s,
            "targets": f.targets.tolist(), "loss": f.loss, "latency_factor": f.latency_factor,
            "lost": lost, "taken_over": took, "hazard_reports_lost": int(plan.reports_lost[
                f.index]), **_hazards_in(hazards, f.start_s, f.end_s),
            "nodes": {} if empty else {name: _queue_effect(pools[names.index(name)],
                                                           f.start_s, f.end_s)
                                       for name in sorted(loaded)}})
    total = plan.lost.sum(axis=0)
    return {"failover": plan.failover.mode if plan.failover is not None else None,
            "faults": windows,
            "lost_outage": {kinds[k]: int(n) for k, n in enumerate(total) if n},
            "latency": {key: latency_split(*pair) for key, pair in sorted(plan.latency.items())}}

def belief_effect(rows: list[dict[str, float]], start_s: float,
                  end_s: float) -> dict[str, float | None]:
    """How a fault window aged the cloud's belief, and how long it took to recover.

    ``rows`` are the control loop's belief measurements (one per control period:
    ``time_s``, ``age_mean_s``). "Before" is a stretch as long as the window just before
    it; recovered: the first measurement at or after the window's end whose mean age is
    within ``max(10 %, 1 s)`` of the level before (so the resolution is the period).
    """
    t = np.array([r["time_s"] for r in rows], dtype=np.float64)
    age = np.array([r["age_mean_s"] for r in rows], dtype=np.float64)
    inside = (t >= start_s) & (t < end_s) & np.isfinite(age)
    before = (t < start_s) & (t >= start_s - (end_s - start_s)) & np.isfinite(age)
    base = float(age[before].mean()) if before.any() else None
    out: dict[str, float | None] = {
        "age_mean_before_s": base,
        "age_mean_max_during_s": float(age[inside].max()) if inside.any() else None,
        "recover_s": None}
    if base is not None:
        back = np.flatnonzero((t >= end_s) & (age <= max(1.1 * base, base + 1.0)))
        out["recover_s"] = float(t[back[0]] - end_s) if back.size else None
    return out


def add_belief_effects(resilience: dict[str, Any] | None,
                       rows: list[dict[str, float]]) -> None:
    """Add ``belief`` (see `belief_effect`) to each open window of a resilience section."""
    if not resilience:
        return
    for window in resilience.get("faults", []):
        if window["end_s"] > window["start_s"]:
            window["belief"] = belief_effect(rows, window["start_s"], window["end_s"])


def add_advice_latency(resilience: dict[str, Any] | None, decided_s: np.ndarray,
                       latency_s: np.ndarray) -> None:
    """Add ``latency.route_advice``: advice decided inside any open window vs outside.

    From the run's delivered advice (``advice.csv``: decision instant and latency to
    delivery), like the other kinds in ``resilience.latency``.
    """
    windows = [w for w in (resilience or {}).get("faults", []) if w["end_s"] > w["start_s"]]
    if resilience is None or not windows:
        return
    decided = np.asarray(decided_s, dtype=np.float64)
    inside = np.zeros(decided.shape, bool)
    for w in windows:
        inside |= (decided >= w["start_s"]) & (decided < w["end_s"])
    during, outside = LogHistogram(), LogHistogram()
    latency = np.asarray(latency_s, dtype=np.float64)
    during.add(latency[inside])
    outside.add(latency[~inside])
    resilience.setdefault("latency", {})["route_advice"] = latency_split(during, outside)
