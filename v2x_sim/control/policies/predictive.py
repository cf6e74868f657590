"""``predictive``: route on where link travel times are heading, not where they are.

From the belief's recent history the policy fits, per link, a least-squares line through
the travel times of the last ``window_s`` seconds and extrapolates it ``lookahead_s``
ahead (never below free flow): a queue that is building looks worse than it is now, one
that is clearing looks better.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policy import PolicyView


class Predictive(DynamicShortest):
    """dynamic_shortest on extrapolated travel times.

    Args:
        lookahead_s: how far ahead to extrapolate.
        window_s: how much history the trend is fitted on.
        threshold, inertia, on_hazard: as in dynamic_shortest.
    """

    name = "predictive"

    def __init__(self, lookahead_s: float = 300.0, window_s: float = 600.0,
                 threshold: float = 0.1, inertia: float = 0.0, on_hazard: bool = True) -> None:
        if lookahead_s < 0 or window_s <= 0:
            raise ValueError("lookahead_s must be >= 0 and window_s > 0")
        super().__init__(threshold=threshold, inertia=inertia, on_hazard=on_hazard)
        self.lookahead_s, self.window_s = lookahead_s, window_s

    def costs(self, view: PolicyView) -> np.ndarray:
        """Travel time now plus slope x lookahead (slope by least squares per link)."""
        now = view.belief.travel_time_s
        recent = [(t, x) for t, x in view.history if t >= view.now_s - self.window_s]
        if len(recent) < 2:
            return now
        times = np.array([t for t, _ in recent])
        values = np.stack([x for _, x in recent])
        centred = times - times.mean()
        slope = (centred[:, None] * (values - values.mean(axis=0))).sum(axis=0) / (
            (centred**2).sum())
        return np.maximum(now + slope * self.lookahead_s, view.belief.free_flow_s)
