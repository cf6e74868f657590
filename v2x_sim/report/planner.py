"""The numbers a traffic planner looks for first, from a run's tables on disk.

Pure functions of the tables (`load_run` reads them), so they serve the report and
anyone with a results folder. From ``links.csv``, per link and time bin of length Δ with
a time-mean ``vehicles`` count v, space-mean speed u and speed ratio r = u / v_f:

* vehicle-hours on the link ``v·Δ``, vehicle-km ``v·u·Δ``;
* lost vehicle-hours ``v·Δ·(1 − r)``: the time spent beyond what the same distance
  takes at free speed (``v·u·Δ / v_f = v·Δ·r``).

Their sums give the network's space-mean speed (vehicle-km over vehicle-hours on links)
and rank the links by the time lost on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim.report.load import Table

UNFINISHED_FLAG = 0.05
"""Share of started trips still on the road at the end above which the report warns."""


def _bin_hours(links: Table) -> NDArray[np.float64]:
    """``v·Δ`` in vehicle-hours per row of ``links.csv``."""
    width = np.asarray(links["t_end_s"], float) - np.asarray(links["t_start_s"], float)
    return np.nan_to_num(np.asarray(links["vehicles"], float)) * width / 3600.0


def lost_hours(links: Table) -> NDArray[np.float64]:
    """Lost vehicle-hours ``v·Δ·(1 − r)`` per row (0 where no vehicle was on the link)."""
    ratio = np.nan_to_num(np.asarray(links["speed_ratio"], float), nan=1.0)
    return _bin_hours(links) * (1.0 - ratio)


def network_speed_kmh(links: Table) -> float:
    """Space-mean speed over every link and bin: vehicle-km / vehicle-hours on links."""
    hours = _bin_hours(links)
    speed = np.nan_to_num(np.asarray(links["mean_speed_mps"], float))
    total = float(hours.sum())
    return float((hours * speed).sum()) * 3.6 / total if total > 0 else math.nan


@dataclass(frozen=True)
class WorstLink:
    """One row of the worst-links table."""

    link: str
    from_node: str
    to_node: str
    lost_vehicle_hours: float
    mean_speed_kmh: float
    worst_ratio: float
    worst_bin_start_s: float
    entered: int


def worst_links(links: Table, n: int = 10) -> list[WorstLink]:
    """The ``n`` links with the most lost vehicle-hours over the run, worst first.

    Each with its space-mean speed over the run, its lowest bin speed ratio and when,
    and how many vehicles entered it. Links that lost no time are left out.
    """
    ids = np.asarray(links["link"]).astype(str)
    uniq, inverse = np.unique(ids, return_inverse=True)
    lost = np.bincount(inverse, weights=lost_hours(links), minlength=uniq.size)
    hours = _bin_hours(links)
    km = hours * np.nan_to_num(np.asarray(links["mean_speed_mps"], float)) * 3.6
    sum_hours = np.bincount(inverse, weights=hours, minlength=uniq.size)
    sum_km = np.bincount(inverse, weights=km, minlength=uniq.size)
    entered = np.bincount(inverse, weights=np.asarray(links.get("entered", np.zeros(ids.size)),
                                                      float), minlength=uniq.size)
    ratio = np.asarray(links["speed_ratio"], float)
    rows = []
    for k in np.argsort(-lost, kind="stable")[:n]:
        if lost[k] <= 0:
            break
        mine = np.flatnonzero((inverse == k) & np.isfinite(ratio))
        worst = mine[np.argmin(ratio[mine])] if mine.size else None
        first = int(np.flatnonzero(inverse == k)[0])
        rows.append(WorstLink(
            link=str(uniq[k]),
            from_node=str(links["from"][first]) if "from" in links else "",
            to_node=str(links["to"][first]) if "to" in links else "",
            lost_vehicle_hours=float(lost[k]),
            mean_speed_kmh=float(sum_km[k] / sum_hours[k]) if sum_hours[k] > 0 else math.nan,
            worst_ratio=float(ratio[worst]) if worst is not None else math.nan,
            worst_bin_start_s=(float(links["t_start_s"][worst]) if worst is not None
                               else math.nan),
            entered=int(entered[k])))
    return rows


@dataclass(frozen=True)
class IncidentImpact:
    """What one incident did to the network, compared with the time just before it.

    Attributes:
        link: the incident's link.
        start_s, end_s: its time window.
        before_s: the comparison window's start (its end is ``start_s``): as long as
            the incident, cut at the warm-up and at 0.
        outflow_before_vph, outflow_during_vph: trips completed per hour in the network.
        lost_rate_before, lost_rate_during: lost vehicle-hours per hour, every link.
        extra_vehicle_hours: ``(lost_rate_during − lost_rate_before) × duration``.
        filling: the "before" window starts while a run without warm-up was still
            filling (within its p95 trip time of the start): its outflow and lost time
            are too low to compare with.
    """

    link: str
    start_s: float
    end_s: float
    before_s: float
    outflow_before_vph: float
    outflow_during_vph: float
    lost_rate_before: float
    lost_rate_during: float
    extra_vehicle_hours: float
    filling: bool = False


def _lost_rate(links: Table, lost: NDArray[np.float64], t0: float, t1: float) -> float:
    """Lost vehicle-hours per hour in ``[t0, t1)``, bins weighted by their overlap."""
    if t1 <= t0:
        return math.nan
    start = np.asarray(links["t_start_s"], float)
    end = np.asarray(links["t_end_s"], float)
    overlap = np.clip(np.minimum(end, t1) - np.maximum(start, t0), 0.0, None)
    share = np.where(end > start, overlap / np.maximum(end - start, 1e-12), 0.0)
    return float((lost * share).sum()) / ((t1 - t0) / 3600.0)


def _outflow(trips: Table, t0: float, t1: float) -> float:
    if t1 <= t0:
        return math.nan
    arrive = np.asarray(trips["arrive_s"], float)
    done = np.isfinite(arrive) & (arrive >= t0) & (arrive < t1)
    return float(done.sum()) / ((t1 - t0) / 3600.0)


def incident_impacts(events: Table | None, trips: Table | None, links: Table | None,
                     *, warmup_s: float = 0.0, horizon_s: float = math.inf,
                     fill_s: float = 0.0) -> list[IncidentImpact]:
    """Per incident: outflow and lost time during it against the window before it.

    Incidents are the ``incident_start`` events, each paired with the next
    ``incident_end`` on the same link (else the run's end). Without a window before it
    (an incident from the first second) the "before" values are NaN, and so is the
    extra time. ``fill_s``: how long the network takes to fill from empty (the p95
    trip time); a "before" window starting earlier in a run without warm-up is flagged.
    """
    if events is None or trips is None or links is None:
        return []
    kinds = np.asarray(events["kind"]).astype(str)
    times = np.asarray(events["time_s"], float)
    where = np.asarray(events["link"]).astype(str)
    lost = lost_hours(links)
    out = []
    for i in np.flatnonzero(kinds == "incident_start"):
        ends = np.flatnonzero((kinds == "incident_end") & (where == where[i]) & (times >= times[i]))
        start = float(times[i])
        end = float(times[ends[0]]) if ends.size else float(min(horizon_s, links["t_end_s"].max()))
        before = max(warmup_s, 0.0, start - (end - start))
        during = _lost_rate(links, lost, start, end)
        prior = _lost_rate(links, lost, before, start)
        out.append(IncidentImpact(
            link=str(where[i]), start_s=start, end_s=end, before_s=before,
            outflow_before_vph=_outflow(trips, before, start),
            outflow_during_vph=_outflow(trips, start, end),
            lost_rate_before=prior, lost_rate_during=during,
            extra_vehicle_hours=(during - prior) * (end - start) / 3600.0,
            filling=warmup_s <= 0 and before < fill_s))
    return out


def unfinished(summary: dict[str, Any]) -> tuple[int, float] | None:
    """Trips still on the road at the end and their share of those started."""
    started, on_road = summary.get("trips_started"), summary.get("trips_on_road")
    if not isinstance(started, int | float) or not isinstance(on_road, int | float):
        return None
    return int(on_road), (on_road / started if started else 0.0)
