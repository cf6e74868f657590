"""``probabilistic``: dynamic_shortest, but only a random share of candidates move.

Greedy rerouting sends everyone who would gain onto the same alternative at once, which
then congests while the original route empties: the flows swing (herding). Moving only a
``share`` of the vehicles that would gain each period damps the swing; the lagged
best-response theory in DOMAIN.md predicts a swing of p D w / (2 - w) for a responsive
share p with inertia w.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policy import PolicyView, RouteAdvice


class Probabilistic(DynamicShortest):
    """Each candidate is advised with probability ``share``.

    Args:
        share: probability that a vehicle which would gain is advised this period.
        threshold: minimum relative saving, as in dynamic_shortest.
        on_hazard: also decide when an edge confirms a hazard.
    """

    name = "probabilistic"

    def __init__(self, share: float = 0.3, threshold: float = 0.1,
                 on_hazard: bool = True) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share}")
        super().__init__(threshold=threshold, inertia=0.0, on_hazard=on_hazard)
        self.share = share

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Advise a random ``share`` of the vehicles that would gain."""
        chosen, routes, _ = self.candidates(view)
        move = view.rng.random(len(chosen)) < self.share
        picked = [c for c, m in zip(chosen, move, strict=True) if m]
        return RouteAdvice(view.vehicles.ids[np.asarray(picked, dtype=np.int64)],
                           [r for r, m in zip(routes, move, strict=True) if m])
