"""Wires the slow loop: the cloud's belief, the policy, advice channels, and the vehicles.

Composition only: the belief is fed by the V2X model's status reports and aggregates,
the control loop reads it, and its advice reaches the traffic model through
`LinkTraffic.reroute`. Nothing here computes; it connects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.comms.messages import MessageKind
from v2x_sim.compute.background import CloudFeeds
from v2x_sim.compute.cloud import Belief, VehicleRegistry
from v2x_sim.compute.estimator import RoadFacts
from v2x_sim.compute.service import draw_service_s
from v2x_sim.control.loop import CloudJobs, ControlLoop
from v2x_sim.control.policy import VehiclesView
from v2x_sim.control.registry import make_policy
from v2x_sim.metrics.records import EventLog
from v2x_sim.road.network import Network
from v2x_sim.road.state import LinkState
from v2x_sim.scenario.schema import Scenario
from v2x_sim.traffic.demand import KINDS
from v2x_sim.traffic.fleet import VehicleTable
from v2x_sim.traffic.movement import LinkTraffic
from v2x_sim.traffic.observation import ExitsSince, vehicle_positions
from v2x_sim.v2x_model import V2XModel

IntArray = NDArray[np.int64]
Delivery = tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64],
                 NDArray[np.float64]]
"""Advice delivery: (delivered, air delay, backhaul delay, WAN delay) per vehicle."""


def build_feeds(scenario: Scenario, network: Network, fleet: VehicleTable,
                traffic: LinkTraffic) -> CloudFeeds:
    """The belief and what feeds it: vehicles' last completed link, what sensors can see.

    The edge also knows each link's signal timing (its RSUs broadcast it).
    """
    params = scenario.control.belief
    belief = Belief(network.free_flow_time_s, weight=params.weight,
                    stale_after_s=params.stale_after_s,
                    stale_to_free_flow=params.stale_fallback == "free_flow")

    def probe(ids: IntArray) -> tuple[IntArray, NDArray[np.float64], NDArray[np.float64]]:
        return fleet.last_link[ids], fleet.last_travel_s[ids], fleet.last_exit_s[ids]

    registry = VehicleRegistry(scenario.control.forget_vehicle_after_s)
    road = RoadFacts.of(network, np.asarray(traffic._sig_cycle), np.asarray(traffic._sig_green))
    return CloudFeeds(belief=belief, probe=probe, positions=lambda: vehicle_positions(traffic),
                      exits=ExitsSince(traffic), road=road, registry=registry)


def build_control(env: simpy.Environment, scenario: Scenario, network: Network,
                  fleet: VehicleTable, traffic: LinkTraffic, v2x: V2XModel | None,
                  feeds: CloudFeeds | None, rng: Callable[[str], np.random.Generator],
                  events: EventLog | None = None) -> ControlLoop | None:
    """The control loop for the scenario's policy (None for ``none`` without V2X)."""
    control = scenario.control
    policy = make_policy(control.policy, control.params)
    if v2x is None or feeds is None:
        if control.policy != "none":
            raise ScenarioError("control.policy", control.policy,
                                "rerouting needs the V2X model (v2x.enabled: true)")
        return None
    belief: Belief = feeds.belief
    free_flow = network.free_flow_time_s
    channels, cloud_cfg = v2x.channels, scenario.cloud
    rng_advice = rng("control.advice")
    compliance_by_kind = np.array([scenario.vehicles.classes.params(k).compliance
                                   for k in KINDS])

    def truth() -> LinkState:
        return LinkState(traffic.travel_time_s(), np.full(network.n_links, env.now), free_flow,
                         traffic.density_vpm())

    registry: VehicleRegistry = feeds.registry
    # the oracle knows everything; an edge-local policy hears BSMs where it acts
    live = bool(getattr(policy, "edge_local", False)) or policy.uses_truth

    def vehicles(only: IntArray | None, links: IntArray | None) -> VehiclesView:
        """What the platform knows of the connected vehicles (never the live fleet).

        A request names its vehicle and link; otherwise the cloud knows each vehicle's
        link from its last delivered status report. An edge-local policy hears BSMs
        (10 Hz, within RSU range) and the oracle knows the truth: they see connected
        vehicles where they are.
        """
        if only is not None and links is not None:
            ids, link = only, links
        elif live:
            ids = np.flatnonzero(fleet.connected[:len(fleet)])
            ids = ids[(fleet.link[ids] >= 0) & np.isnan(fleet.arrive_s[ids])]
            link = fleet.link[ids]
        else:
            ids, link, _ = registry.known(env.now)
        keep = link >= 0
        ids, link = ids[keep], link[keep]
        # shuttles and deliveries keep their itineraries: they are not the policy's to move
        if traffic.stops:
            mine = ~np.isin(ids, np.fromiter(traffic.stops, np.int64, len(traffic.stops)))
            ids, link = ids[mine], link[mine]
        remaining = [planned_after(v, k)
                     for v, k in zip(ids.tolist(), link.tolist(), strict=True)]
        return VehiclesView(ids=ids, link=link, next_node=network.to_node[link],
                            destination=fleet.destination[ids], remaining=remaining)

    def planned_after(vehicle: int, link: int) -> list[int]:
        """The vehicle's planned route after ``link`` (its route travels with its reports)."""
        route = traffic.routes[vehicle]
        for i in range(min(traffic.route_pos[vehicle], len(route) - 1), -1, -1):
            if route[i] == link:
                return route[i + 1:]
        return traffic.remaining_route(vehicle)

    def compliance(ids: IntArray) -> NDArray[np.float64]:
        """Probability that each vehicle follows a piece of advice delivered now.

        ``driver`` model: 1 or 0, the driver's own (drawn once at departure); ``advice``
        model: the class's compliance, drawn anew for every piece.
        """
        if control.compliance_model == "driver":
            return fleet.compliant[ids].astype(np.float64)
        return compliance_by_kind[fleet.kind[ids].astype(np.int64)]

    deterministic = scenario.simulation.deterministic
    faults = v2x.flows.faults
    advice_kind = int(MessageKind.ROUTE_ADVICE)

    def via_edge(ids: IntArray, wan_s: float) -> Delivery:
        """(Cloud ->) edge -> fibre to the RSU covering the vehicle -> PC5."""
        n = len(ids)
        cov = v2x.coverage
        link = np.maximum(fleet.link[ids], 0)
        offset = np.clip(env.now - fleet.entered_s[ids], 0.0, None) * network.free_speed_mps[link]
        cell = cov.cell_of(link, np.minimum(offset, network.length_m[link]))
        rsu = cov.nearest[cell]
        covered = (rsu >= 0) & (fleet.link[ids] >= 0)
        back = np.zeros(n)
        back[covered] = v2x.flows.rsu_fibre_s[rsu[covered]]
        ok, air = channels.pc5.draw(cov.distance_m[cell], v2x.flows.cbr[np.maximum(rsu, 0)],
                                    rng_advice, deterministic=deterministic)
        ok &= covered
        if faults is not None:  # a silent RSU broadcasts nothing
            ok &= faults.drop(v2x.book, advice_kind, np.where(ok, faults.rsu_down(
                np.maximum(rsu, 0), np.full(n, env.now + wan_s), v2x.devices.edge), -1))
        return ok, air, back, np.full(n, wan_s)

    def deliver(ids: IntArray) -> Delivery:
        if control.advice_via == "edge":
            ok, air, back, wan = via_edge(ids, channels.wan.delay_s)
            if faults is not None:  # a cut WAN carries nothing
                ok &= faults.drop(v2x.book, advice_kind, np.where(ok, faults.cloud_cut(
                    np.full(len(ids), env.now + channels.wan.delay_s),
                    channels.wan.delay_s), -1))
            return ok, air, back, wan
        n = len(ids)
        ok, air = channels.uu.draw(n, rng_advice, direction="down", deterministic=deterministic)
        if faults is not None:
            ok, air = faults.degrade_uu(v2x.book, advice_kind, np.full(n, env.now), ok, air,
                                        channels.uu.loss, "advice", deterministic=deterministic)
            ok &= faults.drop(v2x.book, advice_kind, np.where(  # a cut WAN carries nothing
                ok, faults.cloud_cut(np.full(n, env.now + channels.wan.delay_s),
                                     channels.wan.delay_s), -1))
        return ok, air, np.zeros(n), np.full(n, channels.wan.delay_s)

    def uplink() -> tuple[bool, float]:
        ok, up = channels.uu.draw(1, rng_advice, direction="up", deterministic=deterministic)
        if faults is not None:  # a request is no book kind: a lost one goes unanswered
            ok, up = faults.degrade_uu(None, -1, np.array([env.now]), ok, up,
                                       channels.uu.loss, "request", deterministic=deterministic)
            ok &= faults.cloud_cut(env.now + up + channels.wan.delay_s,
                                   channels.wan.delay_s) < 0
        return bool(ok[0]), float(up[0]) + channels.wan.delay_s

    rng_jobs = rng("cloud.jobs")

    def service_s(kind: str, n: int) -> float:
        total = float(draw_service_s(cloud_cfg.service[kind], 1, rng_jobs,
                                     deterministic=deterministic)[0])
        if kind == "decision" and n:
            total += float(draw_service_s(cloud_cfg.service["advice"], n, rng_jobs,
                                          deterministic=deterministic).sum())
        return total

    jobs = CloudJobs(start_s=v2x.cloud.start_time, service_s=service_s,
                     wan_s=channels.wan.delay_s, uplink=uplink)

    def apply(vehicle: int, tail: list[int]) -> bool:
        return traffic.reroute(vehicle, tail)

    loop = ControlLoop(env, network=network, policy=policy, belief=belief.state, truth=truth,
                       vehicles=vehicles, locate=traffic.current_or_origin_link,
                       ahead=traffic.remaining_route, apply=apply,
                       compliance=compliance, deliver=deliver, book=v2x.book,
                       advice_kind=int(MessageKind.ROUTE_ADVICE), rng_policy=rng("policy"),
                       rng_compliance=rng("control.compliance"), period_s=control.period_s,
                       stale_after_s=control.belief.stale_after_s, jobs=jobs)
    loop._deliver_edge = lambda ids: via_edge(ids, 0.0)  # edge-local: no WAN leg
    loop.aoi_time_mean_s = belief.age_time_mean_s
    loop.aoi_restart = belief.restart_age
    loop.events = events
    if faults is not None:
        loop.cloud_out = faults.cloud_down
    env.process(loop.run())
    v2x.hazards.on_confirmed = loop.on_hazard
    v2x.hazards.on_cleared = loop.on_clearance
    return loop
