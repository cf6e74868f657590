"""Transit signal priority as messages: the shuttle's request and the edge's grant.

A shuttle entering a signalised approach sends a priority request (its expected
arrival at the stop line) over PC5 to the RSU covering its position, which forwards it
over fibre to its edge node; the request waits behind that node's background backlog
and is processed (the ``hazard_warning`` service time: the same class of short
foreground job). The edge decides (`decide`, injected: the traffic side's rule) and the
grant goes back over fibre to the junction's signal controller (fibre from the edge
node to the junction, ``rsu_hops`` hops), which puts it into force (`apply`, injected).
A request lost on the radio or sent outside coverage gets nothing. These are foreground
messages like hazard reports (`hazards`): a few simpy events per request, one record
each (``priority.csv``). Fault windows (`compute.faults`) apply as to hazard reports:
an RSU silent when the request reaches it (outage, or its edge node's backhaul cut)
loses it (outcome ``outage``); its edge node down sends it to the stand-in node or the
cloud (``edge.failover``, the extra delay paid both ways) or loses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Generator
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim.compute.background import BackgroundFlows
from v2x_sim.compute.failover import CLOUD, LOST
from v2x_sim.compute.faults import OUTAGE
from v2x_sim.compute.service import draw_service_s
from v2x_sim.scenario.v2x_sections import EdgeSection

PRIORITY_COLUMNS = ("vehicle", "link", "sent_s", "eta_s", "rsu", "edge", "edge_arrival_s",
                    "edge_start_s", "decided_s", "applied_s", "latency_s", "outcome",
                    "granted_s", "cross_lost_green_s")

Decide = Callable[[int, float, float], tuple[str, float, Any]]
"""(link, eta_s, now) -> (outcome, seconds, decision) at the edge."""
Apply = Callable[[int, Any, float], tuple[bool, float]]
"""(link, decision, now) -> (applied, cross traffic's lost green s) at the controller."""


class PriorityLoop:
    """Carries priority requests to the edge and grants to the signal controllers.

    Args:
        env: simpy environment.
        flows: the background flows (coverage, channels, edge queues, CBR).
        edge: the edge configuration (service times).
        junction_xy: per link, the (x, y) of its end node (the controller).
        approaches: the links that end at a signal (the only ones worth a request).
        decide, apply: the traffic side's rule and its effect.
        rng: the ``priority`` stream; deterministic: means only.
    """

    def __init__(self, env: simpy.Environment, *, flows: BackgroundFlows, edge: EdgeSection,
                 junction_xy: tuple[NDArray[np.float64], NDArray[np.float64]],
                 decide: Decide, apply: Apply, rng: np.random.Generator,
                 deterministic: bool, approaches: Container[int]) -> None:
        self.env, self.flows, self.edge_cfg = env, flows, edge
        self.junction_x, self.junction_y = junction_xy
        self.decide, self.apply = decide, apply
        self.rng, self.deterministic = rng, deterministic
        self.records: list[dict[str, Any]] = []
        self.approaches = approaches

    def on_approach(self, vehicle: int, link: int, expected_exit_s: float) -> None:
        """A shuttle entered ``link``: ask for priority if the link ends at a signal."""
        if link in self.approaches:
            self.request(vehicle, link, expected_exit_s)

    def request(self, vehicle: int, link: int, eta_s: float) -> None:
        """A shuttle at the start of ``link`` asks now for priority at its stop line."""
        self.env.process(self._request(vehicle, link, eta_s))

    def _request(self, vehicle: int, link: int, eta_s: float,
                 ) -> Generator[simpy.Event, Any, None]:
        flows, dev = self.flows, self.flows.devices
        row: dict[str, Any] = dict.fromkeys(PRIORITY_COLUMNS, math.nan)
        row.update(vehicle=vehicle, link=link, sent_s=self.env.now, eta_s=eta_s, rsu=-1,
                   edge=-1, outcome="in_flight", granted_s=0.0, cross_lost_green_s=0.0)
        self.records.append(row)  # filled in as the request goes (in flight at the end)
        cell = flows.coverage.cell_of(np.array([link]), np.array([0.0]))
        rsu = int(flows.coverage.nearest[cell[0]])
        if rsu < 0:
            row["outcome"] = "no_coverage"
            return
        ok, air = flows.channels.pc5.draw(flows.coverage.distance_m[cell],
                                          flows.cbr[[rsu]], self.rng,
                                          deterministic=self.deterministic)
        row["rsu"] = rsu
        if not ok[0]:
            row["outcome"] = "lost"
            return
        edge = int(dev.edge[rsu])
        row["edge"] = edge
        uplink = float(air[0]) + float(flows.rsu_fibre_s[rsu])
        route = self._fault_route(rsu, edge, self.env.now + float(air[0]),
                                  self.env.now + uplink)
        if route is None:
            row["outcome"] = OUTAGE
            return
        pool, extra = route
        uplink += extra
        yield self.env.timeout(uplink)
        row["edge_arrival_s"] = self.env.now
        start = pool.start_time(self.env.now)
        service = float(draw_service_s(self.edge_cfg.service["hazard_warning"], 1,
                                       self.rng, deterministic=self.deterministic)[0])
        row["edge_start_s"] = start
        yield self.env.timeout(start + service - self.env.now)
        row["decided_s"] = self.env.now
        outcome, seconds, decision = self.decide(link, eta_s, self.env.now)
        row["outcome"] = outcome
        if outcome not in ("extension", "early"):
            return
        down = float(flows.channels.fibre.delay_s(
            math.hypot(dev.edge_x_m[edge] - self.junction_x[link],
                       dev.edge_y_m[edge] - self.junction_y[link]),
            flows.channels.rsu_hops)) + extra  # back from a stand-in node: the way again
        yield self.env.timeout(down)
        row["applied_s"] = self.env.now
        row["latency_s"] = self.env.now - row["sent_s"]
        applied, lost = self.apply(link, decision, self.env.now)
        if applied:
            row["granted_s"], row["cross_lost_green_s"] = seconds, lost
        else:
            row["outcome"] = "late"

    def _fault_route(self, rsu: int, edge: int, at_rsu_s: float, at_edge_s: float,
                     ) -> tuple[Any, float] | None:
        """The pool that decides a request and the extra one-way delay; None: lost.

        A fault window (`compute.faults`) silencing the RSU when the request reaches it
        (its outage, or its edge node's backhaul cut) loses it; its edge node down when
        it arrives sends it to the stand-in node or the cloud (``edge.failover``), whose
        extra delay the grant pays again on its way back, or loses it. Cellular
        degradation does not touch it (PC5 and fibre).
        """
        flows = self.flows
        faults = flows.faults
        if faults is None:
            return flows.edges[edge], 0.0
        if faults.rsu_down(np.array([rsu]), np.array([at_rsu_s]), flows.devices.edge)[0] >= 0:
            return None
        serving, extra, hit = faults.route_edge(np.array([edge]), np.array([at_edge_s]),
                                                at_edge_s, at_edge_s + 1e-9)
        if hit[0] < 0:
            return flows.edges[edge], 0.0
        target = int(serving[0])
        if target == LOST:
            return None
        return (flows.cloud if target == CLOUD else flows.edges[target]), float(extra[0])

    def table(self) -> dict[str, NDArray[Any]]:
        """One row per request (``priority.csv``; ``link`` as the external id)."""
        table = {name: np.asarray([r[name] for r in self.records],
                                  dtype=object if name == "outcome" else None)
                 for name in PRIORITY_COLUMNS}
        ids = np.asarray(self.flows.network.link_ids, dtype=object)
        table["link"] = ids[table["link"].astype(np.int64)] if self.records else ids[:0]
        return table

    def summary(self) -> dict[str, Any]:
        """Requests by outcome, grants, green granted, cross traffic's lost green, latency."""
        rows = self.table()
        outcome = rows["outcome"]
        applied = np.isin(outcome, ["extension", "early"])
        latency = rows["latency_s"].astype(float)[applied]
        return {
            "requests": int(outcome.size),
            "by_outcome": {str(k): int((outcome == k).sum()) for k in sorted(set(outcome))},
            "grants": int(applied.sum()),
            "granted_s": float(rows["granted_s"].astype(float).sum()),
            "cross_lost_green_s": float(rows["cross_lost_green_s"].astype(float).sum()),
            "latency_mean_s": float(latency.mean()) if latency.size else None,
            "latency_max_s": float(latency.max()) if latency.size else None,
        }
