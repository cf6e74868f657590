"""The policy interface: what a rerouting policy sees, and what it returns.

A policy is a class with one method, ``decide(view) -> RouteAdvice``. The view is
read-only: the platform's belief (travel time and age per link), the connected vehicles
the platform knows of as arrays (trip id, the link of its last delivered status report,
destination, planned route after that link), routing helpers, and the policy's own
random generator. It never sees the true road state or where vehicles are now, unless
it is the oracle reference (``uses_truth = True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network
from v2x_sim.road.routing import RouteTables
from v2x_sim.road.state import LinkState

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class VehiclesView:
    """The connected vehicles the platform knows of when the decision is made.

    Each comes from its last delivered status report (or, for a route request, from the
    request itself); a vehicle the cloud has not heard from for
    ``control.forget_vehicle_after_s`` is not in the view. Edge-local policies and the
    oracle see connected vehicles where they are.

    Attributes:
        ids: trip ids.
        link: the link each reported being on (it may have moved on since: advice that
            no longer fits when it arrives counts as ``stale``).
        next_node: the node at the end of that link, where a new route would start.
        destination: destination node.
        remaining: its planned route after that link (one list per vehicle).
    """

    ids: IntArray
    link: IntArray
    next_node: IntArray
    destination: IntArray
    remaining: list[list[int]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class PolicyView:
    """Everything a policy may read.

    Attributes:
        now_s: decision time.
        network: the road network (static).
        belief: the platform's link state (the truth only for ``uses_truth`` policies).
        history: earlier belief travel times as (time, array) pairs, oldest first.
        vehicles: connected vehicles the platform knows of (see `VehiclesView`).
        rng: the policy's own generator.
        trigger: "periodic", "departure" or "hazard".
        hazard_links: links with a hazard an edge node has confirmed and not yet cleared.
    """

    now_s: float
    network: Network
    belief: LinkState
    history: list[tuple[float, NDArray[np.float64]]]
    vehicles: VehiclesView
    rng: np.random.Generator
    trigger: str = "periodic"
    hazard_links: tuple[int, ...] = ()
    _tables: dict[int, RouteTables] = field(default_factory=dict, repr=False)

    def routes(self, cost_s: NDArray[np.float64] | None = None) -> RouteTables:
        """Shortest-path tables under ``cost_s`` (default: the belief's travel times)."""
        key = id(cost_s) if cost_s is not None else 0
        if key not in self._tables:
            cost = self.belief.travel_time_s if cost_s is None else cost_s
            self._tables[key] = RouteTables(self.network, np.maximum(cost, 1e-6))
        return self._tables[key]

    def route_cost(self, links: list[int], cost_s: NDArray[np.float64] | None = None) -> float:
        """Total cost of a list of links (default cost: the belief)."""
        cost = self.belief.travel_time_s if cost_s is None else cost_s
        return float(cost[links].sum()) if links else 0.0


@dataclass(frozen=True)
class RouteAdvice:
    """New routes for some vehicles: ``routes[i]`` starts at ``vehicles[i]``'s next node."""

    vehicles: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    routes: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.vehicles)


@runtime_checkable
class Policy(Protocol):
    """A rerouting policy.

    Attributes:
        name: shown in results.
        periodic: decides every control period.
        on_departure: routes connected vehicles when they depart.
        on_hazard: decides as soon as an edge node confirms a hazard.
        uses_truth: reads the true road state with no delay (the oracle reference).
    """

    name: str
    periodic: bool
    on_departure: bool
    on_hazard: bool
    uses_truth: bool

    def decide(self, view: PolicyView) -> RouteAdvice:
        """Route advice for (some of) the connected vehicles in ``view``."""
        ...

