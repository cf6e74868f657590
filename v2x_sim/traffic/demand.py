"""Demand: when trips depart, between which nodes, in which class, connected or not.

Random-OD and fixed-flow demand are non-homogeneous Poisson processes whose rate is
piecewise constant (``rate_vph x factor`` per profile step): per step, the count is
Poisson(rate x duration) and the times are sorted uniforms, all in vectorised draws. In
deterministic mode the times are evenly spaced at the mean rate instead. Everything here
draws from the ``demand`` stream only, so changing a policy or the communication
hardware never changes the trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.network import Network, RoadClass
from v2x_sim.road.routing import RouteTables
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.sections import ClassTable, ProfileStep, VehicleKind
from v2x_sim.traffic.trip_file import TripList, read_trip_file, trip_list_from_entries

KINDS = list(VehicleKind)
RANDOM_KINDS = (VehicleKind.CAR, VehicleKind.TRUCK, VehicleKind.DELIVERY)


@dataclass(frozen=True, slots=True)
class TripPlan:
    """All trips of a run, sorted by departure time.

    Attributes:
        depart_s, origin, destination, kind, connected: one entry per trip (node indices;
            kind indexes ``list(VehicleKind)``).
        waypoints: intermediate stop nodes per trip (delivery vehicles), else empty.
        unroutable: trips dropped because no path joins origin and destination.
    """

    depart_s: NDArray[np.float64]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    kind: NDArray[np.int64]
    connected: NDArray[np.bool_]
    waypoints: list[list[int]]
    unroutable: int = 0

    def __len__(self) -> int:
        return len(self.depart_s)


def departure_times(rate_vph: float, profile: list[ProfileStep], horizon_s: float,
                    rng: np.random.Generator, *, deterministic: bool) -> NDArray[np.float64]:
    """Departure times on [0, horizon) for a piecewise-constant rate (veh/h x factor)."""
    steps = sorted(profile, key=lambda s: s.from_s)
    chunks = []
    for i, step in enumerate(steps):
        start = step.from_s
        end = steps[i + 1].from_s if i + 1 < len(steps) else horizon_s
        end = min(end, horizon_s)
        if end <= start:
            continue
        rate_vps = rate_vph * step.factor / 3600.0
        expected = rate_vps * (end - start)
        if deterministic:
            count = int(np.floor(expected + 0.5))
            times = start + (np.arange(count) + 0.5) / rate_vps if count else np.zeros(0)
        else:
            count = int(rng.poisson(expected))
            times = np.sort(rng.uniform(start, end, count))
        chunks.append(times)
    return np.concatenate(chunks) if chunks else np.zeros(0)


def largest_component(network: Network) -> NDArray[np.int64]:
    """Nodes of the largest strongly connected component (all mutually reachable)."""
    graph = csr_matrix((np.ones(network.n_links), (network.from_node, network.to_node)),
                       shape=(network.n_nodes, network.n_nodes))
    _, labels = connected_components(graph, directed=True, connection="strong")
    biggest = np.bincount(labels).argmax()
    return np.flatnonzero(labels == biggest)


def _local_access_nodes(network: Network, main: NDArray[np.int64]) -> NDArray[np.int64]:
    """Default trip ends: the nodes of ``main`` that touch an arterial.

    Trips do not start on an expressway; a network without arterials uses all of ``main``.
    """
    arterial = network.road_class == RoadClass.ARTERIAL
    touching = np.zeros(network.n_nodes, dtype=bool)
    touching[network.from_node[arterial]] = True
    touching[network.to_node[arterial]] = True
    local = main[touching[main]]
    return local if local.size >= 2 else main


def _stop_nodes(network: Network, main: NDArray[np.int64]) -> NDArray[np.int64]:
    """Where delivery and vending vehicles may stop: nodes of ``main`` no expressway touches.

    They dwell at the kerb of the link they arrive on, and expressways and ramps have
    none; a network with fewer than two such nodes uses all of ``main``.
    """
    fast = network.road_class != RoadClass.ARTERIAL
    touched = np.zeros(network.n_nodes, dtype=bool)
    touched[network.from_node[fast]] = True
    touched[network.to_node[fast]] = True
    allowed = main[~touched[main]]
    return allowed if allowed.size >= 2 else main


def _node_indices(network: Network, ids: list[int | str] | None, path: str,
                  default: NDArray[np.int64], main_part: NDArray[np.int64]) -> NDArray[np.int64]:
    if ids is None:
        return default
    nodes = np.array([network.node_index(n, field_path=f"{path}[{i}]")
                      for i, n in enumerate(ids)], dtype=np.int64)
    inside = nodes[np.isin(nodes, main_part)]
    if inside.size == 0:
        raise ScenarioError(path, ids, "none of these nodes lies in the network's main "
                            "strongly connected part; trips could not be routed")
    return inside


def _draw_kinds(n: int, classes: ClassTable, rng: np.random.Generator) -> NDArray[np.int64]:
    shares = np.array([classes.params(k).share for k in RANDOM_KINDS])
    codes = np.array([KINDS.index(k) for k in RANDOM_KINDS])
    return codes[rng.choice(len(RANDOM_KINDS), size=n, p=shares / shares.sum())]


def _draw_connected(kind: NDArray[np.int64], given: NDArray[np.int8], classes: ClassTable,
                    rng: np.random.Generator) -> NDArray[np.bool_]:
    share = np.array([classes.params(k).connected_share for k in KINDS])[kind]
    drawn = rng.random(len(kind)) < share
    return np.where(given >= 0, given == 1, drawn)


def _delivery_waypoints(origin: int, count: int, radius_m: float, network: Network,
                        candidates: NDArray[np.int64], rng: np.random.Generator) -> list[int]:
    dist = np.hypot(network.x_m[candidates] - network.x_m[origin],
                    network.y_m[candidates] - network.y_m[origin])
    near = candidates[(dist <= radius_m) & (candidates != origin)]
    pool = near if near.size else candidates[candidates != origin]
    return [int(n) for n in rng.choice(pool, size=count, replace=True)]


def build_trip_plan(scenario: Scenario, network: Network, rng: np.random.Generator,
                    free_flow: RouteTables) -> TripPlan:
    """Every trip of the scenario, drawn from ``rng`` (the ``demand`` stream)."""
    demand, sim = scenario.demand, scenario.simulation
    classes = scenario.vehicles.classes
    main = largest_component(network)
    local = _local_access_nodes(network, main)
    parts: list[TripList] = []
    horizon = sim.horizon_s

    if demand.random is not None and demand.random.rate_vph > 0:
        spec = demand.random
        times = departure_times(spec.rate_vph, spec.profile or demand.profile, horizon, rng,
                                deterministic=sim.deterministic)
        origins = _node_indices(network, spec.origins, "demand.random.origins", local, main)
        dests = _node_indices(network, spec.destinations, "demand.random.destinations", local,
                              main)
        if origins.size == 1 and dests.size == 1 and origins[0] == dests[0]:
            raise ScenarioError("demand.random", spec.origins,
                                "origins and destinations leave no pair of distinct nodes")
        o = rng.choice(origins, size=times.size)
        d = rng.choice(dests, size=times.size)
        for _ in range(100):  # redraw destinations equal to their origin
            same = o == d
            if not same.any():
                break
            d[same] = rng.choice(dests, size=int(same.sum()))
        keep = o != d
        n = int(keep.sum())
        parts.append(TripList(times[keep], o[keep], d[keep], _draw_kinds(n, classes, rng),
                              np.full(n, -1, dtype=np.int8)))

    for i, flow in enumerate(demand.flows):
        path = f"demand.flows[{i}]"
        o_idx = network.node_index(flow.origin, field_path=f"{path}.origin")
        d_idx = network.node_index(flow.destination, field_path=f"{path}.destination")
        if o_idx == d_idx:
            raise ScenarioError(f"{path}.destination", flow.destination,
                                "must differ from the origin")
        if not np.isfinite(free_flow.distance(o_idx, d_idx)):
            raise ScenarioError(path, f"{flow.origin} -> {flow.destination}",
                                "no path joins this origin to this destination")
        times = departure_times(flow.rate_vph, flow.profile or demand.profile, horizon, rng,
                                deterministic=sim.deterministic)
        n = times.size
        kinds = (np.full(n, KINDS.index(flow.vehicle_class), dtype=np.int64)
                 if flow.vehicle_class else _draw_kinds(n, classes, rng))
        parts.append(TripList(times, np.full(n, o_idx), np.full(n, d_idx), kinds,
                              np.full(n, -1, dtype=np.int8)))

    if demand.trips:
        parts.append(trip_list_from_entries(demand.trips, network))
    if demand.trips_file:
        parts.append(read_trip_file(scenario.resolve_path(demand.trips_file), network))

    return _finish(parts, network, classes, rng, main, free_flow)


def _finish(parts: list[TripList], network: Network, classes: ClassTable,
            rng: np.random.Generator, main: NDArray[np.int64],
            free_flow: RouteTables) -> TripPlan:
    trips = TripList.concat(*parts)
    order = np.argsort(trips.depart_s, kind="stable")
    depart, origin, dest = trips.depart_s[order], trips.origin[order], trips.destination[order]
    kind, given = trips.kind[order], trips.connected[order]
    connected = _draw_connected(kind, given, classes, rng)

    delivery = KINDS.index(VehicleKind.DELIVERY)
    params = classes.delivery
    waypoints: list[list[int]] = [[] for _ in range(depart.size)]
    stop_nodes = _stop_nodes(network, main)
    for i in np.flatnonzero(kind == delivery):
        if params.stops:
            waypoints[i] = _delivery_waypoints(int(origin[i]), params.stops, params.radius_m,
                                               network, stop_nodes, rng)

    # drop trips whose origin cannot reach the destination (explicit trips only can be)
    free_flow.prepare(dest)
    reachable = np.ones(depart.size, dtype=bool)
    by_dest = np.argsort(dest, kind="stable")
    targets, starts = np.unique(dest[by_dest], return_index=True)
    ends = np.append(starts[1:], by_dest.size) if starts.size else starts
    for d, a, b in zip(targets.tolist(), starts.tolist(), ends.tolist(), strict=True):
        rows = by_dest[a:b]  # one gather per destination, not a lookup per trip
        reachable[rows] = np.isfinite(free_flow.distances_to(d)[origin[rows]])
    keep = np.flatnonzero(reachable)
    return TripPlan(depart[keep], origin[keep], dest[keep], kind[keep], connected[keep],
                    [waypoints[i] for i in keep], unroutable=int((~reachable).sum()))
