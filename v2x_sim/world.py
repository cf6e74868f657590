"""The composition root: build one simulation from a scenario and a seed, run it.

`build_world` turns a validated `Scenario` into a network, a trip plan (from the
``demand`` random stream) and the movement engine, all on one simpy environment;
`World.run` advances it to the horizon and gathers a `RunResult`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim._core.streams import RandomStreams
from v2x_sim.compute.background import Senders
from v2x_sim.compute.priority import PriorityLoop
from v2x_sim.control.loop import ControlLoop
from v2x_sim.fast_loop import wire_warnings
from v2x_sim.metrics.records import ColumnLog, EventLog
from v2x_sim.metrics.reroute_clock import RerouteClocks
from v2x_sim.result import RunResult, collect_result
from v2x_sim.road.connections import connections_path, read_connections_csv, with_turns
from v2x_sim.road.fundamental_diagram import SPEED_FUNCTIONS
from v2x_sim.road.generators import corridor, demo_zone, grid
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.lane_layout import lane_masks
from v2x_sim.road.movements import TurnRules
from v2x_sim.road.network import Network
from v2x_sim.road.network_table import read_network_table
from v2x_sim.road.routing import RouteTables
from v2x_sim.road.signal_file import read_signal_plan
from v2x_sim.road.signals import SignalPlan, fixed_time_plan
from v2x_sim.road.webster import webster_plan
from v2x_sim.scenario.routing_section import Background
from v2x_sim.scenario.scale import scale_notes, scaled_scenario
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.sections import VehicleKind
from v2x_sim.scenario.signal_sections import SignalPlanKind
from v2x_sim.slow_loop import build_control, build_feeds
from v2x_sim.traffic.connected import ConnectedVehicles
from v2x_sim.traffic.demand import KINDS, TripPlan, build_trip_plan
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.habitual import (
    HabitualRoutes,
    draw_leg_paths,
    planned_trip_routes,
    trip_legs,
)
from v2x_sim.traffic.itinerary import itinerary, itinerary_cost
from v2x_sim.traffic.movement import LinkTraffic
from v2x_sim.traffic.route_file import read_route_files
from v2x_sim.traffic.shuttle import LineControl, start_shuttle_lines
from v2x_sim.traffic.vending import ServiceArea, start_vending
from v2x_sim.v2x_model import V2XModel, build_v2x
from v2x_sim.warmup import restart_at_warmup

ProgressCallback = Callable[[float, float], None]
TripRoutes = list[tuple[list[int], dict[int, float]]]
"""Per planned trip: its link route and dwell seconds keyed by route position."""

log = logging.getLogger(__name__)


def build_network_from(scenario: Scenario) -> Network:
    """The road network the scenario asks for."""
    road = scenario.road
    if road.generator == "grid":
        return grid(road.grid)
    if road.generator == "corridor":
        return corridor(road.corridor)
    if road.generator == "demo_zone":
        return demo_zone(road.demo_zone)
    files = road.file
    assert files is not None  # guaranteed by RoadSection validation
    if files.network is not None:
        return read_network_table(scenario.resolve_path(files.network))
    assert files.nodes is not None  # NetworkFiles validation: nodes and links, or network
    assert files.links is not None
    links = scenario.resolve_path(files.links)
    network = read_network_csv(scenario.resolve_path(files.nodes), links)
    path = connections_path(scenario)
    return network if path is None else with_turns(network, read_connections_csv(path, network))


@dataclass
class World:
    """One simulation, ready to run.

    Attributes:
        scenario: the scenario it was built from.
        seed: the master seed.
        env: the simpy environment.
        network: the road network (ground truth geometry).
        plan: the trips that will depart.
        fleet: every trip that has departed, with live state.
        traffic: the movement engine (ground-truth link state).
        traversals: one row per vehicle per completed link.
        events: notable events (incidents, moved-on vehicles).
        end_s: when the run ended (the horizon; later when it drained).
        signals: the signal plan in force.
        routing: how departure routes were chosen (``routing`` section of the summary).
        lines: the shuttle lines' controls (holding, stop departures).
        priority: transit signal priority requests and grants (None: off or no V2X).
        vending: the vending vehicles' service areas (hails and what was served).
        departure_routes: per planned trip, the (route, dwell points) it departs on, when
            drawn before the run (habitual routes, or free-flow paths for Webster plans);
            None when routes are found at departure (free-flow shortest paths).
    """

    scenario: Scenario
    seed: int
    env: simpy.Environment
    network: Network
    plan: TripPlan
    fleet: VehicleTable
    traffic: LinkTraffic
    free_flow: RouteTables
    traversals: ColumnLog
    events: EventLog
    signals: SignalPlan | None = None
    routing: dict[str, Any] = field(default_factory=dict)
    departure_routes: TripRoutes | None = None
    v2x: V2XModel | None = None
    control: ControlLoop | None = None
    lines: list[LineControl] = field(default_factory=list)
    priority: PriorityLoop | None = None
    vending: list[ServiceArea] = field(default_factory=list)
    wall_s: float = 0.0
    end_s: float = math.nan  # when the run ended: the horizon, or later after a drain
    _ran: bool = field(default=False, repr=False)

    def run(self, progress: ProgressCallback | None = None, *, steps: int = 100) -> RunResult:
        """Advance to the horizon (then drain, if asked) and return a `RunResult`.

        Args:
            progress: called as ``progress(sim_time_s, horizon_s)`` about ``steps`` times.
            steps: how many slices to run the horizon in (for progress reporting).
        """
        if self._ran:
            raise RuntimeError("a World runs once; build a new one to run again")
        self._ran = True
        sim = self.scenario.simulation
        horizon = sim.horizon_s
        started = time.perf_counter()
        for k in range(1, steps + 1):
            self.env.run(until=horizon * k / steps)
            if progress is not None:
                progress(self.env.now, horizon)
        self.end_s = horizon
        if sim.drain:
            self.end_s = self._drain(horizon + sim.drain_limit_s)
        if self.v2x is not None:
            if self.end_s < sim.latest_end_s:
                self.v2x.flows.horizon_s = self.end_s
                for pool in (*self.v2x.edges, self.v2x.cloud):
                    pool.end_at(self.end_s)
            self.v2x.flows.finish()
        if self.control is not None:
            self.control.finish()
        self.wall_s = time.perf_counter() - started
        return collect_result(self)

    def _drain(self, limit_s: float) -> float:
        """Run on past the horizon (no new demand) until the road is empty or ``limit_s``.

        Checks once per V2X tick (1 s without V2X), so the run ends at the first check
        after the last arrival; the periodic message flows stop with it. Returns the end.
        """
        step = self.scenario.v2x.tick_s if self.v2x is not None else 1.0
        now = self.env.now
        while now < limit_s and self.fleet.on_road().any():
            now = min(now + step, limit_s)
            self.env.run(until=now)
        return now


def _schedule_incidents(world_env: simpy.Environment, scenario: Scenario, network: Network,
                        traffic: LinkTraffic, events: EventLog,
                        on_hazard: Callable[[int, float, int], None] | None,
                        on_clear: Callable[[int, float], None] | None = None,
                        clocks: RerouteClocks | None = None) -> None:
    for i, incident in enumerate(scenario.incidents):
        path = f"incidents[{i}]"
        link = network.link_index(incident.link, field_path=f"{path}.link")
        lanes = int(network.lanes[link])
        if incident.lanes_closed > lanes:
            raise ScenarioError(f"{path}.lanes_closed", incident.lanes_closed,
                                f"link {incident.link} has only {lanes} lanes")
        cap = incident.speed_cap_kmh / 3.6 if incident.speed_cap_kmh else float("inf")
        settings = {"lanes_closed": incident.lanes_closed, "speed_cap_mps": cap,
                    "capacity_factor": incident.capacity_factor,
                    "length_m": incident.length_m}
        detail = (f"{incident.lanes_closed} of {lanes} lanes closed"
                  + (f" over {incident.length_m:g} m" if incident.length_m else "")
                  + (f", speed cap {incident.speed_cap_kmh:g} km/h" if cap < float("inf") else "")
                  + (f", capacity x{incident.capacity_factor:g}"
                     if incident.capacity_factor < 1 else ""))

        length = float(network.length_m[link])
        if incident.length_m > length:
            raise ScenarioError(f"{path}.length_m", incident.length_m,
                                f"link {incident.link} is only {length:g} m long")
        position = (length - incident.length_m if incident.position_m is None
                    else incident.position_m)
        if position + incident.length_m > length:
            field = "length_m" if incident.length_m else "position_m"
            raise ScenarioError(f"{path}.{field}", getattr(incident, field),
                                f"the zone must end on link {incident.link}, which is only "
                                f"{length:g} m long")

        def window(link: int = link, settings: dict[str, Any] = settings, i: int = i,
                   start: float = incident.start_s, end: float = incident.end_s,
                   detail: str = detail, ext: str = str(network.link_ids[link]),
                   position: float = position) -> Any:
            yield world_env.timeout(start)
            traffic.set_incident(link, i, active=True, **settings)
            events.add(world_env.now, "incident_start", link=ext, detail=detail)
            if clocks is not None:
                clocks.start(link, world_env.now)
            if on_hazard is not None:
                on_hazard(link, position, int(settings["lanes_closed"]))
            yield world_env.timeout(end - start)
            traffic.set_incident(link, i, active=False, **settings)
            events.add(world_env.now, "incident_end", link=ext, detail=detail)
            if clocks is not None:
                clocks.end(link, world_env.now)
            if on_clear is not None:  # the edge has to detect the clearance
                on_clear(link, position)

        world_env.process(window())


def draw_compliant(plan: TripPlan, scenario: Scenario,
                   rng: np.random.Generator) -> NDArray[np.bool_]:
    """Per planned trip: is its driver compliant? One uniform per trip, u < class share.

    Drawn for every trip (connected or not) from its own stream, so the same drivers
    are compliant under every policy and penetration of one seed.
    """
    share = np.array([scenario.vehicles.classes.params(k).compliance for k in KINDS])
    return np.asarray(rng.random(len(plan)) < share[plan.kind.astype(np.int64)])


def _departures(env: simpy.Environment, plan: TripPlan, fleet: VehicleTable,
                traffic: LinkTraffic, routes: RouteTables, scenario: Scenario,
                on_departure: Callable[[int], None] | None,
                planned: TripRoutes | None, compliant: NDArray[np.bool_]) -> Any:
    classes = scenario.vehicles.classes
    pce = [classes.params(k).pce for k in KINDS]
    dwell = classes.delivery.dwell_s
    depart, origin, dest = plan.depart_s.tolist(), plan.origin.tolist(), plan.destination.tolist()
    kind, connected = plan.kind.tolist(), plan.connected.tolist()
    horizon = scenario.simulation.horizon_s
    turns = TurnRules(traffic.network, u_turns_anywhere=scenario.road.u_turns == "anywhere")
    for i, t in enumerate(depart):
        if t >= horizon:
            return  # demand stops at the horizon (a draining run goes on without it)
        if t > env.now:
            yield env.timeout(t - env.now)
        route, stops = planned[i] if planned is not None else ([], {})
        if not route:
            route, stops = itinerary(routes, origin[i], plan.waypoints[i], dest[i], dwell,
                                     turns)
        row = fleet.add(kind=kind[i], connected=connected[i], origin=origin[i],
                        destination=dest[i], depart_s=env.now, pce=pce[kind[i]])
        fleet.shortest_s[row] = itinerary_cost(routes, origin[i], plan.waypoints[i], dest[i])
        fleet.compliant[row] = compliant[i]
        traffic.depart(row, route, stops=stops)
        if on_departure is not None and connected[i]:
            on_departure(row)


def _background_routes(scenario: Scenario, network: Network,
                       ) -> tuple[HabitualRoutes | None, dict[str, Any]]:
    """The habitual routes ``routing.background`` asks for (None: free-flow paths)."""
    routing = scenario.routing
    if routing.background == Background.FREE_FLOW:
        return None, {"background": "free_flow"}
    if routing.background == Background.FILE:
        assert routing.file is not None  # guaranteed by RoutingSection validation
        times = routing.file.link_times
        routes = read_route_files(scenario.resolve_path(routing.file.routes),
                                  scenario.resolve_path(times) if times else None, network)
        return routes, {"background": "file", "routes": str(routing.file.routes),
                        "paths": len(routes.paths), "cells": len(routes.cells)}
    from v2x_sim.equilibrium import habitual_routes  # it builds worlds itself

    routes, report = habitual_routes(scenario, network)
    return routes, {"background": "equilibrium", **report, "paths": len(routes.paths),
                    "cells": len(routes.cells)}


def _planned_routes(scenario: Scenario, network: Network, plan: TripPlan,
                    free_flow: RouteTables, habits: HabitualRoutes | None,
                    rng: np.random.Generator) -> TripRoutes | None:
    """Every trip's departure route drawn now from the habits; free-flow paths for Webster.

    None (routes found at departure, the fast path) with free-flow routing and no plan
    that needs the demand's link flows.
    """
    dwell = scenario.vehicles.classes.delivery.dwell_s
    signals = scenario.road.signals
    if habits is None:
        if not (signals.enabled and signals.plan == SignalPlanKind.WEBSTER):
            return None
        turns = TurnRules(network, u_turns_anywhere=scenario.road.u_turns == "anywhere")
        return [itinerary(free_flow, o, w, d, dwell, turns) for o, w, d in
                zip(plan.origin.tolist(), plan.waypoints, plan.destination.tolist(), strict=True)]
    legs = trip_legs(plan.origin.tolist(), plan.waypoints, plan.destination.tolist(),
                     plan.depart_s.tolist())
    paths = draw_leg_paths(habits, legs, network, free_flow, rng)
    return planned_trip_routes(legs, paths, len(plan), dwell)


def build_signal_plan(scenario: Scenario, network: Network,
                      planned: TripRoutes | None) -> SignalPlan:
    """The signal plan ``road.signals`` asks for; Webster sizes it for ``planned`` routes."""
    config = scenario.road.signals
    if config.enabled and config.plan == SignalPlanKind.FILE:
        assert config.file is not None  # guaranteed by SignalSection validation
        startup = config.intervals()[2]
        share = 0.0 if config.lost_time_s is not None else config.amber_usable_share
        return read_signal_plan(scenario.resolve_path(config.file), network,
                                startup_lost_s=startup, amber_usable_share=share)
    if config.enabled and config.plan == SignalPlanKind.WEBSTER:
        links = [link for route, _ in planned or [] for link in route]
        count = np.bincount(np.asarray(links, dtype=np.int64), minlength=network.n_links)
        flow_vph = np.asarray(count * 3600.0 / scenario.simulation.horizon_s, dtype=np.float64)
        return webster_plan(network, config, flow_vph)
    return fixed_time_plan(network, config)


def _signal_priority(env: simpy.Environment, scenario: Scenario, network: Network,
                     traffic: LinkTraffic, v2x: V2XModel | None,
                     streams: RandomStreams) -> PriorityLoop | None:
    """Transit signal priority: shuttles' requests to the edge, grants to the signals."""
    config = scenario.vehicles.transit_priority
    if not config.enabled or v2x is None or not scenario.vehicles.shuttle_lines:
        return None
    signals = traffic.priority

    def decide(link: int, eta_s: float, now: float) -> tuple[str, float, Any]:
        d = signals.decide(link, eta_s, now, max_extension_s=config.max_extension_s,
                           max_early_s=config.max_early_s, margin_s=config.margin_s)
        return d.outcome, d.seconds, d

    loop = PriorityLoop(env, flows=v2x.flows, edge=scenario.edge,
                        junction_xy=(network.x_m[network.to_node], network.y_m[network.to_node]),
                        decide=decide, apply=signals.apply, rng=streams.get("priority"),
                        deterministic=scenario.simulation.deterministic,
                        approaches=signals.node_of)
    return loop


def _connected_on_links(fleet: VehicleTable) -> Senders:
    """The view the compute side gets of the traffic: connected vehicles on links.

    Asked every flow window and every warning broadcast: the trips still out (the
    fleet's active set) that are connected and on a link, in ascending row order
    (`traffic.connected.connected_on_links`, one compiled pass); a broadcast asks only
    for those on the links upstream of its hazard (`ConnectedVehicles.on`).
    """
    return ConnectedVehicles(fleet)


def warn_about_demand(scenario: Scenario, plan: TripPlan) -> None:
    """One warning line each for trips that can never start and for an empty scenario.

    Neither is an error (a study may shorten the horizon on purpose), but both usually
    are mistakes: a trip list in another time base, a demand section left out.
    """
    horizon = scenario.simulation.horizon_s
    late = int(np.count_nonzero(plan.depart_s >= horizon))
    lines = scenario.vehicles.shuttle_lines
    late_lines = sum(line.first_departure_s >= horizon for line in lines)
    if late or late_lines:
        what = " and ".join(part for part in (
            f"{late} of {len(plan)} planned trips" if late else "",
            f"{late_lines} of {len(lines)} shuttle lines" if late_lines else "") if part)
        log.warning("%s depart at or after the horizon (simulation.horizon_s = %g s) and "
                    "will never start", what, horizon)
    if len(plan) == late and late_lines == len(lines) and not scenario.vehicles.vending:
        log.warning("the scenario plans no trips within the horizon (demand and "
                    "vehicles.shuttle_lines are empty, zero or late): the run will be empty")


def build_world(scenario: Scenario, seed: int | None = None, *,
                routes: HabitualRoutes | None = None) -> World:
    """Build a ready-to-run `World`; ``seed`` overrides ``scenario.simulation.seed``.

    ``routes`` gives the habitual routes directly instead of ``routing.background``
    (the equilibrium's days use it). A scenario's ``scale`` is applied first
    (`v2x_sim.scenario.scale`): the world, and ``World.scenario``, are the scaled ones.

    Raises:
        ScenarioError: a field refers to something the network lacks (link, node, path).
        InputFileError: a referenced file is missing or malformed.
    """
    if routes is None:  # the main world: say what `scale` leaves alone, once
        for note in scale_notes(scenario):
            log.warning("%s", note)
    scenario = scaled_scenario(scenario)  # built (and recorded) at its scale
    seed = scenario.simulation.seed if seed is None else seed
    streams = RandomStreams(seed)
    network = build_network_from(scenario)
    free_flow = RouteTables(network, network.free_flow_time_s)
    plan = build_trip_plan(scenario, network, streams.get("demand"), free_flow)
    routing: dict[str, Any] = {"background": "given"}
    if routes is None:  # the main world, not one of the equilibrium's days
        warn_about_demand(scenario, plan)
        routes, routing = _background_routes(scenario, network)
    planned = _planned_routes(scenario, network, plan, free_flow, routes, streams.get("routing"))
    env = simpy.Environment()
    fleet = VehicleTable(capacity=max(1024, len(plan) + 64))
    traversals = ColumnLog({"vehicle": "q", "link": "q", "t_in": "d", "t_out": "d"})
    events = EventLog()
    signals = build_signal_plan(scenario, network, planned)
    traffic = LinkTraffic(
        env, network, fleet,
        speed_function=SPEED_FUNCTIONS[scenario.road.fundamental_diagram],
        diagram=scenario.road.fundamental_diagram, signals=signals,
        moved_on_after_s=scenario.simulation.moved_on_after_s,
        u_turns_anywhere=scenario.road.u_turns == "anywhere",
        lane_masks=lane_masks(network, u_turns_anywhere=scenario.road.u_turns == "anywhere"),
        traversals=traversals, events=events)
    traffic.kerbside_kinds = frozenset(
        {KINDS.index(VehicleKind.VENDING)} | ({KINDS.index(VehicleKind.DELIVERY)}
                                              if scenario.vehicles.classes.delivery.kerbside
                                              else set()))
    v2x = feeds = None
    if scenario.v2x.enabled:
        feeds = build_feeds(scenario, network, fleet, traffic)
        v2x = build_v2x(env, scenario, network, _connected_on_links(fleet), streams.get, feeds)
        wire_warnings(scenario, network, v2x, traffic, fleet)
    control = build_control(env, scenario, network, fleet, traffic, v2x, feeds, streams.get,
                            events)
    _schedule_incidents(env, scenario, network, traffic, events,
                        v2x.hazards.report if v2x else None,
                        v2x.hazards.clear if v2x else None,
                        control.clocks if control else None)
    priority = _signal_priority(env, scenario, network, traffic, v2x, streams)
    lines = start_shuttle_lines(
        env, scenario.vehicles.shuttle_lines, network=network, fleet=fleet, traffic=traffic,
        routes=free_flow, params=scenario.vehicles.classes.shuttle,
        kind=KINDS.index(VehicleKind.SHUTTLE), horizon_s=scenario.simulation.horizon_s,
        rng=streams.get("shuttles"), on_approach=priority.on_approach if priority else None,
        signal_wait_s=signals.random_arrival_wait_s)
    vending = start_vending(
        env, scenario.vehicles.vending, network=network, fleet=fleet, traffic=traffic,
        routes=free_flow, params=scenario.vehicles.classes.vending,
        kind=KINDS.index(VehicleKind.VENDING), horizon_s=scenario.simulation.horizon_s,
        rng=streams.get("vending"), deterministic=scenario.simulation.deterministic)
    on_departure = control.on_departure if control is not None else None
    restart_at_warmup(env, scenario.simulation.warmup_s, v2x, control)
    compliant = draw_compliant(plan, scenario, streams.get("drivers.compliance"))
    env.process(_departures(env, plan, fleet, traffic, free_flow, scenario, on_departure,
                            planned, compliant))
    return World(scenario=scenario, seed=seed, env=env, network=network, plan=plan,
                 fleet=fleet, traffic=traffic, free_flow=free_flow, traversals=traversals,
                 events=events, signals=signals, routing=routing, departure_routes=planned,
                 v2x=v2x, control=control, end_s=scenario.simulation.horizon_s, lines=lines,
                 priority=priority, vending=vending)
