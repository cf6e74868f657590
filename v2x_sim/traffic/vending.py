"""Unmanned vending vehicles: cruise a service area, stop where people wave them down.

A service area is the set of non-expressway links with both ends within ``radius_m`` of
its ``centre`` node. Hails (a person waving a vehicle down) arrive as a Poisson process
of ``hails_per_km_h`` per km of the area's roads and hour from ``start_s`` to the
horizon (evenly spaced at the mean rate in deterministic mode), each on a link drawn in
proportion to its length, at a position along it drawn uniformly (its middle in
deterministic mode). A hail waits ``patience_s``, then gives up (abandoned).

Each vehicle (``vehicles`` per area) is one trip: it starts at ``start_s`` at an area
node (drawn) and extends its route one link at a time as it enters a link, cruising at
``speed_kmh`` at most: on a one-lane link traffic behind it cannot pass (the link is
FIFO); on a wider link the flow passes it (it spends its extra time off the flow at
the link's end, `kerbside.Stops.kerb_along`). The next link: the first link of the
free-flow shortest path towards the link of the oldest hail still waiting (and not
claimed by another vehicle), or, with none waiting, a link out of the area node it
reached drawn at random (no U-turn unless a dead end; leaving the area only where no
area link leads on).
Entering a link with waiting hails it serves all of them where they stand: it stops at
the kerb at each hail's position (`kerbside.Stops.kerb_along`: one lane blocked there)
for ``sale_s`` per hail (hails at one position: one stop), in order along the link. It
reaches position ``x`` at ``entry + x * T / L`` (``T`` its running time over the link,
``L / speed_kmh`` or the flow's if longer) plus the sales before it; a hail whose
patience has run out by then is abandoned. So a hail is served when a vehicle next
enters its link after it was made (one made ahead of a vehicle already on the link
waits for the next pass); the hail-to-stop time runs to the stop's start. After the
horizon the vehicle finishes its link and its trip ends.
The vehicle is connected (its class's ``connected_share``, default 1): it sends BSMs and
status reports like any connected vehicle.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.network import Network, RoadClass
from v2x_sim.road.routing import RouteTables
from v2x_sim.scenario.sections import VehicleClassParams, VendingArea
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.movement import LinkTraffic

HAIL_COLUMNS = ("area", "hail", "link", "position_m", "hail_s", "vehicle", "stop_s",
                "outcome")


class ServiceArea:
    """One area's hails, its vehicles' routing, and what they served.

    Args:
        area: the configuration.
        links: the area's link indices.
        network, routes: the road network and its free-flow route tables.
    """

    def __init__(self, area: VendingArea, links: NDArray[np.int64], network: Network,
                 routes: RouteTables) -> None:
        self.area, self.links, self.network, self.routes = area, links, network, routes
        self.in_area = set(links.tolist())
        self.waiting: dict[int, deque[int]] = {}  # link -> hails waiting there, oldest first
        self.claimed: dict[int, int] = {}  # link -> vehicle heading for it
        self.hail_s: list[float] = []
        self.hail_link: list[int] = []
        self.hail_pos: list[float] = []
        self.stop_s: list[float] = []
        self.vehicle: list[int] = []
        self.outcome: list[str] = []
        self.stops = 0

    @property
    def km(self) -> float:
        """Length of the area's roads."""
        return float(self.network.length_m[self.links].sum()) / 1000.0

    def draw_hails(self, horizon_s: float, rng: np.random.Generator, *, deterministic: bool,
                   ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """Hail times, links and positions along them for the whole run.

        Poisson times, uniform positions; in deterministic mode even spacing in time and
        every hail at the middle of its link.
        """
        start = self.area.start_s
        rate_s = self.area.hails_per_km_h * self.km / 3600.0
        span = max(0.0, horizon_s - start)
        if deterministic:
            count = math.floor(rate_s * span + 0.5)
            times = start + (np.arange(count) + 0.5) / rate_s if count else np.zeros(0)
        else:
            count = int(rng.poisson(rate_s * span))
            times = np.sort(rng.uniform(start, horizon_s, count))
        weight = self.network.length_m[self.links]
        links = rng.choice(self.links, size=count, p=weight / weight.sum())
        share = np.full(count, 0.5) if deterministic else rng.uniform(0.0, 1.0, count)
        return (np.asarray(times, dtype=np.float64), np.asarray(links, dtype=np.int64),
                share * self.network.length_m[links])

    def hail(self, link: int, now: float, position_m: float) -> None:
        """Someone waves a vehicle down on ``link``, ``position_m`` from its start, now."""
        self.waiting.setdefault(link, deque()).append(len(self.hail_s))
        self.hail_s.append(now)
        self.hail_link.append(link)
        self.hail_pos.append(position_m)
        self.stop_s.append(math.nan)
        self.vehicle.append(-1)
        self.outcome.append("waiting")

    def _drop_impatient(self, now: float) -> None:
        patience = self.area.patience_s
        for link in list(self.waiting):
            queue = self.waiting[link]
            while queue and self.hail_s[queue[0]] + patience < now:
                self.outcome[queue.popleft()] = "abandoned"
            if not queue:
                del self.waiting[link]
                self.claimed.pop(link, None)

    def serve(self, vehicle: int, link: int, entered_s: float, pace_s_per_m: float,
              ) -> list[tuple[float, float, float]]:
        """The stops of ``vehicle``, entering ``link`` now, for the hails waiting on it.

        It reaches a hail at ``x`` m ``x * pace_s_per_m`` after ``entered_s``, plus the
        sales of the stops before it; hails at one position are one stop of ``sale_s``
        each; a hail whose patience has run out by its stop is abandoned.

        Returns:
            (position_m, start_s, dwell_s) of each stop, in order along the link.
        """
        self._drop_impatient(entered_s)
        queue = self.waiting.pop(link, None)
        if self.claimed.get(link) == vehicle or queue:
            self.claimed.pop(link, None)
        if not queue:
            return []
        patience, sale = self.area.patience_s, self.area.sale_s
        hails = sorted(queue, key=lambda h: (self.hail_pos[h], h))
        stops: list[tuple[float, float, float]] = []
        lost = 0.0
        for hail in hails:
            position = self.hail_pos[hail]
            same = bool(stops) and stops[-1][0] == position  # one more sale at a stop
            start = stops[-1][1] if same else entered_s + position * pace_s_per_m + lost
            if self.hail_s[hail] + patience < start:
                self.outcome[hail] = "abandoned"
                continue
            self.stop_s[hail], self.vehicle[hail], self.outcome[hail] = start, vehicle, "served"
            stop = (position, start, (stops[-1][2] if same else 0.0) + sale)
            if same:
                stops[-1] = stop
            else:
                stops.append(stop)
            lost += sale
        self.stops += len(stops)
        return stops

    def next_link(self, vehicle: int, link: int, now: float, rng: np.random.Generator) -> int:
        """Where ``vehicle``, entering ``link`` now, goes after it (see module doc)."""
        net = self.network
        node = int(net.to_node[link])
        self._drop_impatient(now)
        mine = [k for k, v in self.claimed.items() if v == vehicle]
        targets = mine or [k for k in self.waiting if k not in self.claimed]
        if targets:
            target = min(targets, key=lambda k: self.hail_s[self.waiting[k][0]]
                         if k in self.waiting else math.inf)
            self.claimed[target] = vehicle
            start = int(net.from_node[target])
            turns = net.turns
            if start == node and (turns is None or turns.allows(link, target)):
                return target
            path = self.routes.path(node, start, link)
            if path:
                return path[0]
        out = [int(k) for k in net.outgoing(node)
               if net.turns is None or net.turns.allows(link, int(k))] or [
                   int(k) for k in net.outgoing(node)]
        back = int(net.from_node[link])
        ahead = [k for k in out if int(net.to_node[k]) != back] or out
        inside = [k for k in ahead if k in self.in_area] or ahead
        return int(rng.choice(inside))

    def table(self, name: str) -> dict[str, list[Any]]:
        """Columns of ``hails.csv`` for this area (link indices)."""
        n = len(self.hail_s)
        return {"area": [name] * n, "hail": list(range(n)), "link": list(self.hail_link),
                "position_m": list(self.hail_pos),
                "hail_s": list(self.hail_s), "vehicle": list(self.vehicle),
                "stop_s": list(self.stop_s), "outcome": list(self.outcome)}


def area_links(network: Network, area: VendingArea, path: str) -> NDArray[np.int64]:
    """The links of ``area``: not expressway or ramp, both ends within the radius."""
    centre = network.node_index(area.centre, field_path=f"{path}.centre")
    near = np.hypot(network.x_m - network.x_m[centre],
                    network.y_m - network.y_m[centre]) <= area.radius_m
    links = np.flatnonzero(near[network.from_node] & near[network.to_node]
                           & (network.road_class == RoadClass.ARTERIAL))
    if links.size == 0:
        raise ScenarioError(f"{path}.radius_m", area.radius_m,
                            f"no arterial link has both ends within it of node {area.centre}")
    return np.asarray(links, dtype=np.int64)


def _hails(env: simpy.Environment, service: ServiceArea, times: NDArray[np.float64],
           links: NDArray[np.int64], positions_m: NDArray[np.float64],
           ) -> Generator[simpy.Event, Any, None]:
    for t, link, x in zip(times.tolist(), links.tolist(), positions_m.tolist(), strict=True):
        if t > env.now:
            yield env.timeout(t - env.now)
        service.hail(link, env.now, x)


def start_vending(env: simpy.Environment, areas: list[VendingArea], *, network: Network,
                  fleet: VehicleTable, traffic: LinkTraffic, routes: RouteTables,
                  params: VehicleClassParams, kind: int, horizon_s: float,
                  rng: np.random.Generator, deterministic: bool) -> list[ServiceArea]:
    """Draw every area's hails and put its vehicles on the road (as processes)."""
    services = []
    for a, area in enumerate(areas):
        service = ServiceArea(area, area_links(network, area, f"vehicles.vending[{a}]"),
                              network, routes)
        services.append(service)
        times, links, positions = service.draw_hails(horizon_s, rng,
                                                     deterministic=deterministic)
        env.process(_hails(env, service, times, links, positions))
        for _ in range(area.vehicles):
            first = int(rng.choice(service.links))
            env.process(_vehicle(env, service, first, fleet=fleet, traffic=traffic,
                                 params=params, kind=kind, horizon_s=horizon_s, rng=rng))
    return services


def _vehicle(env: simpy.Environment, service: ServiceArea, first: int, *,
             fleet: VehicleTable, traffic: LinkTraffic, params: VehicleClassParams,
             kind: int, horizon_s: float, rng: np.random.Generator,
             ) -> Generator[simpy.Event, Any, None]:
    area, net = service.area, service.network
    if area.start_s >= horizon_s:
        return
    yield env.timeout(area.start_s)
    origin = int(net.from_node[first])
    row = fleet.add(kind=kind, connected=bool(rng.random() < params.connected_share),
                    origin=origin, destination=origin, depart_s=env.now, pce=params.pce)
    fleet.shortest_s[row] = 0.0
    speed = area.speed_kmh / 3.6

    def on_enter(vehicle: int, link: int, ready: float) -> None:
        now = env.now
        length = float(net.length_m[link])
        run_end = max(ready, now + length / speed)  # cruising speed, at most the flow's
        fleet.shortest_s[vehicle] += float(net.free_flow_time_s[link])
        fleet.destination[vehicle] = int(net.to_node[link])
        route = traffic.routes[vehicle]
        pos = traffic.route_pos[vehicle]
        stops = service.serve(vehicle, link, now, (run_end - now) / length)
        traffic.kerb_along(vehicle, link, stops, run_end)
        if env.now < horizon_s:
            route.append(service.next_link(vehicle, link, now, rng))
            off_flow = traffic.cruise_s.get(vehicle, 0.0)  # passed by the flow: off it
            if off_flow > 0.0:
                traffic.stops[vehicle][pos + 1] = off_flow
        else:
            traffic.cruise_s.pop(vehicle, None)  # its last link: it arrives

    traffic.enter_hooks[row] = on_enter
    traffic.stops[row] = {}  # before departing: its first link's hook may add a stop
    traffic.depart(row, [first])


def vending_results(services: list[ServiceArea], kerb: dict[str, NDArray[Any]],
                    link_ids: NDArray[Any], warmup_s: float,
                    ) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The ``vending`` summary section (per area) and ``hails.csv`` (one row per hail).

    Hails made before ``warmup_s`` stay in the table but out of the statistics; the
    delay behind the vehicles' kerbside stops comes from ``kerbside.csv``'s rows.
    """
    areas = []
    columns: dict[str, list[Any]] = {c: [] for c in HAIL_COLUMNS}
    vending = kerb["vehicle_class"] == "vending"
    for service in services:
        name = service.area.name
        for key, values in service.table(name).items():
            columns[key].extend(values)
        hail_s = np.asarray(service.hail_s, dtype=float)
        outcome = np.asarray(service.outcome, dtype=object)
        counted = hail_s >= warmup_s
        served = counted & (outcome == "served")
        wait = (np.asarray(service.stop_s, dtype=float) - hail_s)[served]
        mine = vending & np.isin(kerb["vehicle"], np.asarray(service.vehicle)[served]) \
            if served.any() else np.zeros(len(vending), dtype=bool)
        areas.append({
            "name": name, "vehicles": service.area.vehicles, "km": service.km,
            "hails": int(counted.sum()), "served": int(served.sum()),
            "abandoned": int((counted & (outcome == "abandoned")).sum()),
            "waiting_at_end": int((counted & (outcome == "waiting")).sum()),
            "stops": service.stops,
            "hail_to_stop_mean_s": float(wait.mean()) if wait.size else None,
            "hail_to_stop_p95_s": float(np.percentile(wait, 95)) if wait.size else None,
            "delay_behind_s": float(kerb["delay_behind_s"][mine].sum()),
        })
    table: dict[str, NDArray[Any]] = {k: np.asarray(v) for k, v in columns.items()}
    table["area"] = np.asarray(columns["area"], dtype=object)
    table["outcome"] = np.asarray(columns["outcome"], dtype=object)
    table["link"] = np.asarray(link_ids, dtype=object)[np.asarray(columns["link"],
                                                                  dtype=np.int64)]
    return {"areas": areas}, table
