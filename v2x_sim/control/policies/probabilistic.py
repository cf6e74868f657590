"""``probabilistic``: logit route choice over the k shortest paths of the belief.

Every control period, for each connected vehicle the platform finds the ``k`` cheapest
loopless paths from its next node to its destination under the belief (Yen), and the
vehicle takes path i with the multinomial-logit probability

    P_i = exp(V_i) / sum_j exp(V_j),   V_i = -theta c_i  [+ ln PS_i with path_size]

where c_i is the path's believed travel time in seconds and ``theta`` (1/s) how sharply
drivers prefer the cheaper path (theta -> 0: uniform over the k paths; large theta:
shortest path only). With ``path_size`` the path-size logit of Ben-Akiva and Bierlaire
(1999) corrects for overlapping paths: PS_i = sum over links a of i of
(t_a / c_i) / N_a, with N_a the number of the k paths that use link a, so two paths that
share most of their links count about as one alternative.

Each vehicle draws its own path from the policy's random stream: a uniform number u
drawn once per vehicle, the first time the policy sees it (its taste), mapped through
the cumulative probabilities of its paths in a fixed order (by their link lists). A
vehicle therefore changes path only when the probabilities move past its u, not at
every period's fresh draw: the shares stay logit while advice is sent only to the
vehicles the shift concerns. Advice goes to vehicles whose drawn path differs from their
remaining route.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.control.policy import PolicyView, RouteAdvice
from v2x_sim.road.k_paths import PathSets

FloatArray = NDArray[np.float64]


def logit_probabilities(cost_s: FloatArray, theta_per_s: float,
                        path_size: FloatArray | None = None) -> FloatArray:
    """P_i = exp(-theta c_i [+ ln PS_i]) / sum_j (...), computed stably (shifted by the max)."""
    utility = -theta_per_s * np.asarray(cost_s, dtype=np.float64)
    if path_size is not None:
        utility = utility + np.log(path_size)
    weight = np.exp(utility - utility.max())
    return weight / weight.sum()


def path_size_factors(paths: list[list[int]], link_cost_s: FloatArray) -> FloatArray:
    """Path-size factor per path: PS_i = sum_{a in i} (t_a / c_i) / N_a.

    N_a counts the paths in ``paths`` using link a; a path sharing no link has PS = 1.
    """
    uses: dict[int, int] = {}
    for path in paths:
        for link in path:
            uses[link] = uses.get(link, 0) + 1
    factors = np.empty(len(paths))
    for i, path in enumerate(paths):
        t = link_cost_s[path]
        total = t.sum()
        shares = t / total if total > 0 else np.full(len(path), 1.0 / len(path))
        factors[i] = float((shares / np.array([uses[a] for a in path])).sum())
    return factors


class Probabilistic:
    """Each vehicle draws its path from a logit over the belief's k shortest paths.

    Args:
        k: number of paths in each choice set (at least 1; 1 is shortest-path routing).
        theta: logit scale in 1/s of believed travel time (> 0): a path 1/theta seconds
            slower is e = 2.72 times less likely.
        path_size: apply the path-size correction for overlapping paths.
        on_hazard: also decide when an edge confirms a hazard.
    """

    name = "probabilistic"
    periodic = True
    on_departure = False
    uses_truth = False

    def __init__(self, k: int = 3, theta: float = 0.05, path_size: bool = False,
                 on_hazard: bool = True) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if isinstance(theta, bool) or not isinstance(theta, int | float) or not (
                np.isfinite(theta) and theta > 0):
            raise ValueError(f"theta must be a finite number > 0 (1/s), got {theta!r}")
        self.k, self.theta = k, float(theta)
        self.path_size, self.on_hazard = bool(path_size), bool(on_hazard)
        self._taste: dict[int, float] = {}

    def costs(self, view: PolicyView) -> FloatArray:
        """Link costs the choice is made on: the belief's travel times."""
        return view.belief.travel_time_s

    def tastes(self, view: PolicyView) -> FloatArray:
        """Each vehicle's uniform draw, made the first time the policy sees it."""
        ids = view.vehicles.ids.tolist()
        new = [v for v in dict.fromkeys(ids) if v not in self._taste]
        if new:
            self._taste.update(zip(new, view.rng.random(len(new)).tolist(), strict=True))
        if view.trigger == "periodic" and len(self._taste) > 4 * len(ids) + 1000:
            here = set(ids)  # a periodic view holds every connected vehicle on the road
            self._taste = {v: u for v, u in self._taste.items() if v in here}
        return np.array([self._taste[v] for v in ids], dtype=np.float64)

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Advise each vehicle the path its draw picks, where that is not its route."""
        vehicles = view.vehicles
        if len(vehicles) == 0:
            return RouteAdvice()
        cost = self.costs(view)
        tables = view.routes(cost)
        tables.prepare(np.unique(vehicles.destination))
        sets = PathSets(tables, self.k)
        taste = self.tastes(view)
        chosen, routes = [], []
        cumulative: dict[tuple[int, int], tuple[list[list[int]], FloatArray]] = {}
        for i in range(len(vehicles)):
            start, goal = int(vehicles.next_node[i]), int(vehicles.destination[i])
            if start == goal:
                continue
            key = (start, goal)
            if key not in cumulative:
                cumulative[key] = self._choice_set(sets, key, tables.cost_s)
            paths, cdf = cumulative[key]
            if not paths:
                continue
            pick = paths[min(int(np.searchsorted(cdf, taste[i], side="right")),
                             len(paths) - 1)]
            if pick != vehicles.remaining[i]:
                chosen.append(i)
                routes.append(pick)
        return RouteAdvice(vehicles.ids[np.asarray(chosen, dtype=np.int64)], routes)

    def _choice_set(self, sets: PathSets, key: tuple[int, int],
                    link_cost_s: FloatArray) -> tuple[list[list[int]], FloatArray]:
        """The pair's paths in a fixed order (by link list) and their cumulative P."""
        paths, cost = sets.get(*key)
        if not paths:
            return [], np.zeros(0)
        size = path_size_factors(paths, link_cost_s) if self.path_size else None
        p = logit_probabilities(cost, self.theta, size)
        order = sorted(range(len(paths)), key=lambda j: paths[j])
        return [paths[j] for j in order], np.cumsum(p[order])
