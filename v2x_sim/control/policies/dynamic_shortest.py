"""``dynamic_shortest``: periodically re-route vehicles whose route got clearly worse.

Every control period, for every connected vehicle the platform compares the belief's
cost of its remaining route with the shortest path from its next node; it advises the
new path when that saves more than ``threshold`` (a share of the remaining cost, so
small noise does not move anybody). ``inertia`` is the share of eligible vehicles left
alone each period, chosen at random (staggered updates: undamped rerouting on fresh
information flaps between alternatives).
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from numpy.typing import NDArray

from v2x_sim.control.policy import PolicyView, RouteAdvice, VehiclesView
from v2x_sim.road.routing import RouteTables

SCREEN_TOLERANCE = 1e-9
"""Relative slack of the array screen: far above the rounding of a sum of route costs
(~1e-14 relative), so no vehicle the exact pricing would choose is screened out."""


class DynamicShortest:
    """Shortest paths on the belief, for vehicles that gain enough.

    Args:
        threshold: minimum relative saving of the remaining route's cost to advise.
        inertia: share of would-be rerouted vehicles left alone each period.
        on_hazard: also decide when an edge confirms a hazard.
    """

    name = "dynamic_shortest"
    periodic = True
    on_departure = False
    uses_truth = False

    def __init__(self, threshold: float = 0.1, inertia: float = 0.0,
                 on_hazard: bool = True) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        if not 0.0 <= inertia < 1.0:
            raise ValueError(f"inertia must be in [0, 1), got {inertia}")
        self.threshold, self.inertia, self.on_hazard = threshold, inertia, on_hazard

    def costs(self, view: PolicyView) -> np.ndarray:
        """Link costs the policy routes on: the belief's travel times (override me)."""
        return view.belief.travel_time_s

    def candidates(self, view: PolicyView) -> tuple[list[int], list[list[int]], list[float]]:
        """(vehicle positions in the view, better routes, relative savings).

        A vehicle's saving is ``(current - best) / current``: the belief's cost of its
        remaining route against the shortest path from its next node. All vehicles are
        screened at once with array sums (`_worth_a_look`); only those the screen cannot
        rule out are priced one by one, so the result is exactly the one-by-one answer.
        """
        chosen, ends, savings, tables = self._gainers(view)
        return chosen, [tables.path(start, goal) for start, goal in ends], savings

    def _gainers(self, view: PolicyView) -> tuple[list[int], list[tuple[int, int]], list[float],
                                                  RouteTables]:
        """`candidates` without their paths: positions, (next node, destination), savings.

        The paths come from the tables returned, for the vehicles that are advised.
        """
        cost = self.costs(view)
        tables = view.routes(cost)
        vehicles = view.vehicles
        tables.prepare(np.unique(vehicles.destination))
        chosen, ends, savings = [], [], []
        for i in _worth_a_look(vehicles, tables, cost, self.threshold).tolist():
            start, goal = int(vehicles.next_node[i]), int(vehicles.destination[i])
            best = tables.distances_to(goal)[start]
            current = view.route_cost(vehicles.remaining[i], cost)
            if not np.isfinite(best) or current <= 0:
                continue
            saving = (current - best) / current
            if saving > self.threshold:
                chosen.append(i)
                ends.append((start, goal))
                savings.append(saving)
        return chosen, ends, savings, tables

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Advise the better path to vehicles saving more than the threshold.

        The ``inertia`` share is left alone before any path is walked: only the advised
        vehicles' paths are built (the draw is one uniform per candidate either way).
        """
        chosen, ends, _, tables = self._gainers(view)
        if self.inertia > 0.0 and chosen:
            move = view.rng.random(len(chosen)) >= self.inertia
            chosen = [c for c, m in zip(chosen, move, strict=True) if m]
            ends = [e for e, m in zip(ends, move, strict=True) if m]
        routes = [tables.path(start, goal) for start, goal in ends]
        return RouteAdvice(view.vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)


def _worth_a_look(vehicles: VehiclesView, tables: RouteTables, cost: NDArray[np.float64],
                  threshold: float) -> NDArray[np.int64]:
    """Positions of the vehicles whose saving may exceed ``threshold`` (ascending).

    Every vehicle at once: the shortest cost from its next node (one table lookup per
    destination), its remaining route's cost as one summed segment of a flat array.
    Left out: vehicles at their destination, those that cannot reach it, and those
    whose saving is below ``threshold`` by more than `SCREEN_TOLERANCE` of their route's
    cost (a sum in another order differs from the exact one by far less).
    """
    n = len(vehicles)
    if n == 0:
        return np.zeros(0, np.int64)
    goal = np.asarray(vehicles.destination, np.int64)
    start = np.asarray(vehicles.next_node, np.int64)
    dests, row = np.unique(goal, return_inverse=True)
    dist = np.stack([tables.distances_to(int(d)) for d in dests.tolist()])
    best = dist[row, start]
    lengths = np.fromiter(map(len, vehicles.remaining), dtype=np.int64, count=n)
    flat = np.fromiter(chain.from_iterable(vehicles.remaining), dtype=np.int64,
                       count=int(lengths.sum()))
    current = np.zeros(n)
    size = np.zeros(n)
    filled = lengths > 0
    if flat.size:
        at = (np.cumsum(lengths) - lengths)[filled]
        current[filled] = np.add.reduceat(cost[flat], at)
        size[filled] = np.add.reduceat(np.abs(cost[flat]), at)
    slack = SCREEN_TOLERANCE * (size + 1.0)
    with np.errstate(invalid="ignore"):
        maybe = (current * (1.0 - threshold) + slack > best) | (current <= slack)
    return np.flatnonzero((start != goal) & np.isfinite(best) & filled & maybe)
