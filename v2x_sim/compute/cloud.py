"""The cloud platform's belief: link travel times built only from what reached it.

Two sources feed it: connected vehicles' status reports (the traversal time of the link
each vehicle last completed, a probe measurement) and the edge nodes' aggregates (travel
times of the links their sensors watch). A message counts from the moment the cloud has
processed it, never earlier. Each sample updates its link by exponential smoothing,
``x <- (1 - w) x + w v`` (the first sample replaces the free-flow prior). Links with no
sample for ``stale_after_s`` are stale: they keep their last estimate, or fall back to
free flow, as configured.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.road.state import LinkState

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@njit(cache=True)
def _apply_samples(link: IntArray, value: FloatArray, measured: FloatArray,
                   received: FloatArray, w: float, estimate: FloatArray, stamp: FloatArray,
                   area: FloatArray, since: FloatArray, first: FloatArray) -> int:
    """Smooth each sample into its link in order; integrate the age of information.

    In place on the belief's arrays: ``estimate`` (smoothed travel time), ``stamp``
    (newest measurement instant), ``area``/``since``/``first`` (the age integral, see
    `Belief.age_time_mean_s`). Compiled: the cloud applies ~10^5-10^6 samples a run,
    one by one since each depends on the last of its link. Returns how many it applied.
    """
    for i in range(link.size):
        lk, got = link[i], received[i]
        if np.isnan(stamp[lk]):
            estimate[lk] = value[i]
            since[lk] = got
            first[lk] = got
        else:
            estimate[lk] = (1.0 - w) * estimate[lk] + w * value[i]
            got = max(got, since[lk])
            area[lk] += (got - since[lk]) * ((got + since[lk]) / 2.0 - stamp[lk])
            since[lk] = got
        if not measured[i] <= stamp[lk]:
            stamp[lk] = measured[i]
    return link.size


@njit(cache=True)
def _apply_due(receive: FloatArray, vehicle: IntArray, link: IntArray, born: FloatArray,
               n: int, now_s: float, reg_link: IntArray, reg_born: FloatArray,
               ) -> tuple[int, int]:
    """Apply the first ``n`` pending reports processed by ``now_s``; keep the others.

    Per vehicle the latest-sent due report wins (on a tie, the later pending one); it
    replaces the registry's entry (in place on ``reg_link``/``reg_born``) only when
    sent after it (an entry never heard from, NaN, always loses). The reports not yet
    due move to the front of the pending arrays, in their order. One pass, no sort and
    no temporary per report (a lexsort and masked copies cost ~4-5 ms per decision at
    full scale). Returns (reports still pending, reports applied).
    """
    best_born = np.empty(reg_link.size)
    best_link = np.empty(reg_link.size, np.int64)
    has = np.zeros(reg_link.size, np.bool_)
    seen = np.empty(n, np.int64)
    m = 0
    kept = 0
    for i in range(n):
        if receive[i] <= now_s:
            v = vehicle[i]
            if not has[v]:
                has[v] = True
                seen[m] = v
                m += 1
                best_born[v] = born[i]
                best_link[v] = link[i]
            elif born[i] >= best_born[v]:
                best_born[v] = born[i]
                best_link[v] = link[i]
        else:
            receive[kept] = receive[i]
            vehicle[kept] = vehicle[i]
            link[kept] = link[i]
            born[kept] = born[i]
            kept += 1
    for k in range(m):
        v = seen[k]
        if not best_born[v] <= reg_born[v]:
            reg_link[v] = best_link[v]
            reg_born[v] = best_born[v]
    return kept, n - kept

class Belief:
    """Per-link travel-time estimates with their age.

    Args:
        free_flow_s: free-flow travel time per link (the prior).
        weight: smoothing weight of a new sample, in (0, 1].
        stale_after_s: age after which a link counts as stale.
        stale_to_free_flow: whether stale links fall back to free flow.
    """

    def __init__(self, free_flow_s: FloatArray, *, weight: float, stale_after_s: float,
                 stale_to_free_flow: bool) -> None:
        self.free_flow_s = np.asarray(free_flow_s, dtype=np.float64)
        self.weight, self.stale_after_s = weight, stale_after_s
        self.stale_to_free_flow = stale_to_free_flow
        self._estimate = self.free_flow_s.copy()
        self._measured = np.full(len(self.free_flow_s), np.nan)
        self._pending: list[tuple[FloatArray, IntArray, FloatArray, FloatArray, FloatArray]] = []
        self._density = np.full(len(self.free_flow_s), np.nan)
        self.samples = 0
        # age of information integrated over time, per link: the integral of
        # (t - stamp) dt from _age_from up to _age_since (NaN: no sample yet)
        n = len(self.free_flow_s)
        self._age_area = np.zeros(n)
        self._age_since = np.full(n, np.nan)
        self._age_from = np.full(n, np.nan)

    def ingest(self, receive_s: FloatArray, link: IntArray, travel_s: FloatArray,
               measured_s: FloatArray, density_vpm: FloatArray | None = None) -> None:
        """Queue samples that the cloud will have processed at ``receive_s``.

        ``density_vpm`` comes with sensor aggregates only (NaN or None elsewhere); the
        newest count replaces the last one (no smoothing: sensors count, not sample).
        """
        if len(receive_s):
            density = (np.full(len(receive_s), np.nan) if density_vpm is None
                       else np.asarray(density_vpm, np.float64))
            self._pending.append((np.asarray(receive_s, np.float64), np.asarray(link, np.int64),
                                  np.asarray(travel_s, np.float64),
                                  np.asarray(measured_s, np.float64), density))

    def advance(self, now_s: float) -> None:
        """Apply every sample processed by ``now_s``, in the order the cloud got them."""
        if not self._pending:
            return
        receive, link, travel, measured, density = (
            np.concatenate(c) for c in zip(*self._pending, strict=True))
        due = receive <= now_s
        keep = ~due
        self._pending = ([(receive[keep], link[keep], travel[keep], measured[keep],
                           density[keep])] if keep.any() else [])
        order = np.argsort(receive[due], kind="stable")
        counted = ~np.isnan(density[due][order])
        self._density[link[due][order][counted]] = density[due][order][counted]
        self.samples += _apply_samples(
            link[due][order], travel[due][order], measured[due][order], receive[due][order],
            self.weight, self._estimate, self._measured, self._age_area, self._age_since,
            self._age_from)

    def age_time_mean_s(self, now_s: float) -> float:
        """Age of information averaged over time, over every link since its first sample.

        Between samples a link's age grows as ``t - stamp``; its integral from ``t0`` to
        ``t1`` is ``(t1 - t0) ((t1 + t0) / 2 - stamp)``. The sum over links divided by
        their summed time since their first sample (or since `restart_age`): the mean a
        sampler at uniformly random instants would find, not one locked to the instants
        the samples arrive at. NaN before any sample.
        """
        self.advance(now_s)
        seen = ~np.isnan(self._age_since)
        since, stamp = self._age_since[seen], self._measured[seen]
        area = self._age_area[seen] + (now_s - since) * ((now_s + since) / 2.0 - stamp)
        duration = float((now_s - self._age_from[seen]).sum())
        return float(area.sum() / duration) if duration > 0 else float("nan")

    def restart_age(self, now_s: float) -> None:
        """Integrate the age of information afresh from ``now_s`` (the end of a warm-up)."""
        self.advance(now_s)
        seen = ~np.isnan(self._age_since)
        self._age_area[:] = 0.0
        self._age_since[seen] = now_s
        self._age_from[seen] = now_s

    def state(self, now_s: float) -> LinkState:
        """The belief as of ``now_s`` (stale links per the fallback rule)."""
        self.advance(now_s)
        estimate = self._estimate.copy()
        if self.stale_to_free_flow:
            age = np.where(np.isnan(self._measured), np.inf, now_s - self._measured)
            stale = age > self.stale_after_s
            estimate[stale] = self.free_flow_s[stale]
        return LinkState(estimate, self._measured.copy(), self.free_flow_s,
                         self._density.copy())


_FIRST_PENDING = 1 << 16
"""Rows of the registry's first pending buffer (2 MB; a window brings a few thousand)."""


class VehicleRegistry:
    """The platform's record of each connected vehicle: its last delivered status report.

    A report counts from the instant the cloud finished it (like a belief sample); the
    newest report (by send time) of each vehicle wins. A vehicle not heard from for
    ``forget_after_s`` is presumed gone (it arrived, or lost coverage): the platform does
    not advise it.

    Args:
        forget_after_s: age of a vehicle's last report beyond which it is forgotten.
    """

    def __init__(self, forget_after_s: float) -> None:
        self.forget_after_s = forget_after_s
        self.link = np.full(0, -1, dtype=np.int64)
        self.reported_s = np.full(0, np.nan)
        # reports received but not yet applied, in arrival order: columns of a buffer
        self._receive = np.empty(0)
        self._vehicle = np.empty(0, np.int64)
        self._link = np.empty(0, np.int64)
        self._born = np.empty(0)
        self._pending = 0
        self._top_vehicle = -1
        self.reports = 0

    def ingest(self, receive_s: FloatArray, vehicle: IntArray, link: IntArray,
               born_s: FloatArray, now_s: float | None = None) -> None:
        """Reports the cloud will have processed at ``receive_s``: vehicle, its link, sent.

        ``now_s``: the current simulated time, when the caller knows it. The registry is
        read only at or after it, so when the pending buffer is full the reports
        processed by then are applied first (`advance`: per vehicle the newest sent
        wins, in whatever batches they come), and the buffer holds the cloud's backlog
        rather than every report since the last decision. Without a periodic policy
        nothing reads the registry all run: the buffer held the run's ~1.4 million
        reports on the zone, and growing it into fresh memory cost ~0.1 ms a window.
        """
        n = len(receive_s)
        if not n:
            return
        end = self._pending + n
        room = self._receive.size
        if end > room and now_s is not None and self._pending:
            self.advance(now_s)
            end = self._pending + n
            # a backlog filling half the buffer grows it too, so each pending report
            # is scanned a bounded number of times however long it waits
            room = room if 2 * end <= room else 0
        if end > room:  # grow the pending buffer (doubling)
            size = max(2 * self._receive.size, 2 * end if now_s is not None else end,
                       _FIRST_PENDING)
            for name in ("_receive", "_vehicle", "_link", "_born"):
                old = getattr(self, name)
                grown = np.empty(size, old.dtype)
                grown[:self._pending] = old[:self._pending]
                setattr(self, name, grown)
        at = slice(self._pending, end)
        self._receive[at] = receive_s
        self._vehicle[at] = vehicle
        self._link[at] = link
        self._born[at] = born_s
        self._pending = end
        self._top_vehicle = max(self._top_vehicle, int(np.max(vehicle)))

    def advance(self, now_s: float) -> None:
        """Apply every report processed by ``now_s``."""
        if not self._pending:
            return
        if self._top_vehicle >= self.link.size:
            grow = max(self._top_vehicle + 1, 2 * self.link.size)
            self.link = np.concatenate([self.link, np.full(grow - self.link.size, -1)])
            self.reported_s = np.concatenate([self.reported_s,
                                              np.full(grow - self.reported_s.size, np.nan)])
        self._pending, applied = _apply_due(self._receive, self._vehicle, self._link,
                                            self._born, self._pending, float(now_s),
                                            self.link, self.reported_s)
        self.reports += applied

    def known(self, now_s: float) -> tuple[IntArray, IntArray, FloatArray]:
        """Vehicles heard from within ``forget_after_s``: (ids, reported link, report time)."""
        self.advance(now_s)
        ids = np.flatnonzero(self.reported_s >= now_s - self.forget_after_s)
        return ids, self.link[ids], self.reported_s[ids]
