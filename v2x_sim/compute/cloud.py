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

from v2x_sim.road.state import LinkState

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


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
        w = self.weight
        estimate, stamp = self._estimate, self._measured
        for lk, value, at in zip(link[due][order].tolist(), travel[due][order].tolist(),
                                 measured[due][order].tolist(), strict=True):
            if np.isnan(stamp[lk]):
                estimate[lk] = value
            else:
                estimate[lk] = (1.0 - w) * estimate[lk] + w * value
            if not at <= stamp[lk]:
                stamp[lk] = at
            self.samples += 1

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
