"""``system_optimal``: route by marginal cost, own delay plus the delay imposed on others.

A user-optimal driver minimises its own travel time t; the system optimum (least total
vehicle-hours) comes from routing every driver on the *marginal* cost of its links, t
plus the extra delay one more vehicle causes everyone else (Pigou: price of anarchy
4/3). That externality depends on the model that produced t, so it is a parameter:

- ``marginal: queue`` (default), the simulator's own road model. A link's delay beyond
  free flow is its exit queue (a point queue served at the discharge rate; the
  triangular diagram keeps the running speed at v_f up to critical density, so running
  adds no externality). A vehicle joining a queue whose waiting time is w = t - t0 holds
  every vehicle behind it back by one headway while the queue lasts; with arrivals close
  to the discharge rate that is about the time for the queue ahead to clear, w. So the
  marginal cost is t + w = t0 + 2 (t - t0).
- ``marginal: bpr``: the BPR function t = t0 [1 + 0.15 x^4] (x = volume / capacity),
  whose marginal cost d(x t)/dx = t0 [1 + 0.75 x^4] = t0 + 5 (t - t0). It overstates the
  externality of a point queue 2.5 times, which makes it divert earlier and more.

Everything else is dynamic_shortest: vehicles whose remaining route's marginal cost
exceeds the best by more than ``threshold`` are advised the best, ``inertia`` staggers.
"""

from __future__ import annotations

import numpy as np

from v2x_sim.control.policies.dynamic_shortest import DynamicShortest
from v2x_sim.control.policy import PolicyView

EXTERNALITY_FACTOR = {"queue": 1.0, "bpr": 4.0}
"""Marginal cost = t + factor x (t - t0): the delay imposed on others per second of own."""


class SystemOptimal(DynamicShortest):
    """dynamic_shortest on marginal costs.

    Args:
        marginal: ``queue`` (t0 + 2 (t - t0), the point-queue road model) or ``bpr``
            (t0 + 5 (t - t0), BPR's marginal cost).
        threshold, inertia, on_hazard: as in dynamic_shortest.
    """

    name = "system_optimal"

    def __init__(self, marginal: str = "queue", threshold: float = 0.1,
                 inertia: float = 0.0, on_hazard: bool = True) -> None:
        if marginal not in EXTERNALITY_FACTOR:
            raise ValueError(f"marginal must be one of {', '.join(EXTERNALITY_FACTOR)}, "
                             f"got {marginal!r}")
        super().__init__(threshold=threshold, inertia=inertia, on_hazard=on_hazard)
        self.marginal = marginal

    def costs(self, view: PolicyView) -> np.ndarray:
        """Marginal cost per link: t + factor (t - t0), the delay t - t0 never below zero."""
        free = view.belief.free_flow_s
        delay = np.maximum(view.belief.travel_time_s - free, 0.0)
        return free + (1.0 + EXTERNALITY_FACTOR[self.marginal]) * delay
