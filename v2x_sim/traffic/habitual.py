"""Habitual routes: per origin, destination and departure interval, paths with shares.

How they apply: every trip leg (a trip, or each leg between a delivery vehicle's stops)
belongs to the *cell* (origin, destination, interval of the trip's departure time). Legs
of a cell are shuffled and take paths by systematic sampling from the cell's shares:
with one uniform draw u per cell, the i-th of n legs takes the path where the
cumulative share first exceeds (i + u) / n. So a cell's split matches its shares to
within one trip, and which trip takes which path is random. All draws come from the
``routing`` stream: policies compared on one seed see the same habitual routes.

Cells without routes (pairs the routes never saw, e.g. another seed's random demand)
take, when the routes carry a link time profile, the path with the least mean cost on it
over the interval's sampled departures (`sample_departures`) among the best paths for
each of them; else the free-flow shortest path. Departures after the last interval
use the last interval's routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables
from v2x_sim.road.td_paths import best_path_trees, path_costs, trace_paths
from v2x_sim.road.td_turn_paths import best_link_trees, trace_link_paths
from v2x_sim.road.turn_routing import TurnGraph

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Cell = tuple[int, int, int]
"""(origin node index, destination node index, departure interval index)."""


@dataclass(frozen=True)
class HabitualRoutes:
    """Path sets with shares per cell, and optionally the link times they were built on.

    Attributes:
        interval_s: width of a departure interval.
        paths: every path, as link indices.
        cells: per cell, (indices into ``paths``, shares summing to 1).
        link_time_s: link time profile (links x bins) for cells without routes, or None.
        bin_s: the profile's bin width.
    """

    interval_s: float
    paths: list[tuple[int, ...]]
    cells: dict[Cell, tuple[IntArray, FloatArray]]
    link_time_s: FloatArray | None = None
    bin_s: float = 0.0
    _last_interval: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        last = max((k for _, _, k in self.cells), default=0)
        object.__setattr__(self, "_last_interval", last)

    def interval_of(self, depart_s: FloatArray) -> IntArray:
        """Departure interval index of each time (clamped to the last interval held)."""
        k = (np.asarray(depart_s, dtype=np.float64) // self.interval_s).astype(np.int64)
        return np.clip(k, 0, self._last_interval)


@dataclass(frozen=True, slots=True)
class Legs:
    """Trip legs to route: one entry per leg.

    Attributes:
        trip: index of the trip each leg belongs to.
        origin, destination: node indices.
        depart_s: departure time of the trip.
    """

    trip: IntArray
    origin: IntArray
    destination: IntArray
    depart_s: FloatArray


def trip_legs(origin: Sequence[int], waypoints: Sequence[Sequence[int]],
              destination: Sequence[int], depart_s: Sequence[float]) -> Legs:
    """Split trips at their stops into legs (consecutive repeated nodes are skipped)."""
    trip, a, b, t = [], [], [], []
    for i, (o, stops, d, dep) in enumerate(zip(origin, waypoints, destination, depart_s,
                                               strict=True)):
        here = int(o)
        for target in (*stops, d):
            if int(target) == here:
                continue
            trip.append(i)
            a.append(here)
            b.append(int(target))
            t.append(float(dep))
            here = int(target)
    return Legs(np.asarray(trip, dtype=np.int64), np.asarray(a, dtype=np.int64),
                np.asarray(b, dtype=np.int64), np.asarray(t, dtype=np.float64))


def leg_cells(routes: HabitualRoutes, legs: Legs) -> IntArray:
    """Cell key columns (origin, destination, interval) per leg, shape (legs, 3)."""
    return np.stack([legs.origin, legs.destination, routes.interval_of(legs.depart_s)], axis=1)


def draw_leg_paths(routes: HabitualRoutes, legs: Legs, network: Network,
                   free_flow: RouteTables, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """A path per leg, drawn as the module docstring says."""
    cells, inverse = np.unique(leg_cells(routes, legs), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_cells = cells.shape[0]
    # each leg's rank within its cell, in a random order, and one uniform start per cell
    order = np.lexsort((rng.random(inverse.size), inverse))
    size = np.bincount(inverse, minlength=n_cells)
    first = np.concatenate(([0], np.cumsum(size)[:-1]))
    rank = np.empty(inverse.size, dtype=np.int64)
    rank[order] = np.arange(inverse.size) - first[inverse[order]]
    start = np.asarray(rng.random(n_cells), dtype=np.float64)
    u = (rank + start[inverse]) / size[inverse]
    # cumulative shares of every covered cell c, shifted to (c, c + 1], in one array
    cum_parts, path_parts, missing = [], [], []
    for c, (o, d, k) in enumerate(cells.tolist()):
        entry = routes.cells.get((o, d, k))
        if entry is None:
            missing.append(c)
            continue
        ids, shares = entry
        cum = np.cumsum(shares) / shares.sum()
        cum[-1] = 1.0
        cum_parts.append(c + cum)
        path_parts.append(ids)
    covered = np.ones(n_cells, dtype=bool)
    covered[missing] = False
    path_id = np.full(inverse.size, -1, dtype=np.int64)
    if cum_parts:
        cum_all = np.concatenate(cum_parts)
        has = covered[inverse]
        pick = np.searchsorted(cum_all, inverse[has] + u[has], side="right")
        path_id[has] = np.concatenate(path_parts)[np.minimum(pick, cum_all.size - 1)]
    fallback = dict(zip(missing, _fallback_paths(routes, cells[missing], network, free_flow),
                        strict=True))
    return [routes.paths[p] if p >= 0 else fallback[c]
            for p, c in zip(path_id.tolist(), inverse.tolist(), strict=True)]


def _fallback_paths(routes: HabitualRoutes, cells: IntArray, network: Network,
                    free_flow: RouteTables) -> list[tuple[int, ...]]:
    """Paths for cells the routes do not cover (see the module docstring)."""
    if cells.shape[0] == 0:
        return []
    if routes.link_time_s is None:
        return [tuple(free_flow.path(int(o), int(d))) for o, d, _ in cells.tolist()]
    departs = sample_departures(cells[:, 2], routes.interval_s, routes.bin_s)
    candidates = candidate_paths(network, routes.link_time_s, routes.bin_s, cells, departs)
    flat = [p for group in candidates for p in group]
    owner = np.repeat(np.arange(len(candidates)), [len(g) for g in candidates])
    costs = mean_path_costs(flat, departs[owner], routes.link_time_s, routes.bin_s)
    best: list[tuple[int, ...]] = []
    at = 0
    for (o, d, _), group in zip(cells.tolist(), candidates, strict=True):
        best.append(group[int(np.argmin(costs[at:at + len(group)]))] if group
                    else tuple(free_flow.path(int(o), int(d))))
        at += len(group)
    return best


def sample_departures(interval: IntArray, interval_s: float, bin_s: float) -> FloatArray:
    """Departure instants at which each cell's paths are costed, shape (cells, samples).

    The centres of the cost bins in the cell's interval (at least one, at most 12): a
    cell's cost is the mean over them, since its trips depart all through the interval.
    """
    samples = int(min(12, max(1, round(interval_s / bin_s)))) if bin_s > 0 else 1
    offsets = (np.arange(samples) + 0.5) / samples
    return np.asarray((interval[:, None] + offsets[None, :]) * interval_s, dtype=np.float64)


def candidate_paths(network: Network, profile: FloatArray, bin_s: float, cells: IntArray,
                    departs: FloatArray) -> list[list[tuple[int, ...]]]:
    """Per cell, the distinct best paths for each of its sampled departure instants."""
    n, m = departs.shape
    origin = np.repeat(cells[:, 0], m)
    destination = np.repeat(cells[:, 1], m)
    when = departs.ravel()
    pairs, row = np.unique(np.stack([origin.astype(np.float64), when], axis=1), axis=0,
                           return_inverse=True)
    roots, times = pairs[:, 0].astype(np.int64), pairs[:, 1]
    if network.turns is None:
        _, last = best_path_trees(network, profile, bin_s, roots, times)
        found = trace_paths(network, last, row.ravel(), origin, destination)
    else:  # on the links: the way on depends on the link arrived by (`td_turn_paths`)
        arrival, previous = best_link_trees(TurnGraph(network), profile, bin_s, roots, times)
        found = trace_link_paths(network, arrival, previous, row.ravel(), origin,
                                 destination)
    return [list(dict.fromkeys(p for p in found[c * m:(c + 1) * m] if p))
            for c in range(n)]


def mean_path_costs(paths: list[tuple[int, ...]], departs: FloatArray, profile: FloatArray,
                    bin_s: float) -> FloatArray:
    """Mean travel time of each path over its row of departure instants (paths x samples)."""
    if not paths:
        return np.zeros(0)
    m = departs.shape[1]
    flat = [p for p in paths for _ in range(m)]
    costs = path_costs(flat, departs.ravel(), profile, bin_s)
    return np.asarray(costs.reshape(len(paths), m).mean(axis=1), dtype=np.float64)


def planned_trip_routes(legs: Legs, paths: Sequence[tuple[int, ...]], n_trips: int,
                        dwell_s: float) -> list[tuple[list[int], dict[int, float]]]:
    """Join leg paths into trip routes with dwell points, as `itinerary.itinerary` does.

    A trip with a leg that has no path gets an empty route.
    """
    routes: list[list[int]] = [[] for _ in range(n_trips)]
    stops: list[dict[int, float]] = [{} for _ in range(n_trips)]
    broken = set()
    for trip, path in zip(legs.trip.tolist(), paths, strict=True):
        if not path:
            broken.add(trip)
        route = routes[trip]
        if route and dwell_s > 0.0:
            stops[trip][len(route)] = dwell_s
        route.extend(path)
    return [([], {}) if i in broken else (routes[i], stops[i]) for i in range(n_trips)]
