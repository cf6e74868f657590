"""The slow loop: the cloud decides on its belief, advice travels back, vehicles switch.

Periodic decisions every ``period_s`` (for periodic policies), one per departing
connected vehicle (for ``on_departure`` policies: its request goes up over Uu and the
WAN, the answer comes back), and one when the cloud learns of a hazard (``on_hazard``:
the edge's report crosses the WAN and the cloud queue first). Deciding costs compute:
every decision is a job in the cloud's queue (`CloudJobs`), it runs when its turn
comes, on the belief as it is then, and its advice leaves when the job is done. Each
piece of advice is a foreground message: the injected ``deliver`` draws its delay and
loss over Uu (or edge, RSU and PC5); at delivery a vehicle still on the road follows it
with its class's compliance probability, switching at its next node. The oracle
reference reads the truth, costs nothing and its advice arrives at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim.comms.messages import Hop
from v2x_sim.control.policy import Policy, PolicyView, RouteAdvice, VehiclesView
from v2x_sim.metrics.belief_error import flow_weighted_error
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.metrics.records import EventLog
from v2x_sim.metrics.reroute_clock import RerouteClocks
from v2x_sim.road.network import Network
from v2x_sim.road.state import LinkState, estimate_error

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Deliver = Callable[[IntArray], tuple[NDArray[np.bool_], FloatArray, FloatArray, FloatArray]]
"""Advice channel: vehicle ids -> (delivered, air delay, backhaul delay, WAN delay)."""
Uplink = Callable[[], tuple[bool, float]]
"""A vehicle's request to the cloud: (delivered, air + WAN delay)."""


@dataclass(frozen=True)
class CloudJobs:
    """The cloud's compute, as the control loop sees it (injected by the wiring).

    Attributes:
        start_s: when a job arriving at the cloud at a time starts service (behind the
            background backlog of the cloud queue at that instant).
        service_s: service time of a job: (kind, vehicles advised) -> seconds, for kind
            "decision" (per decision plus per vehicle advised) or "hazard_report".
        wan_s: one-way delay between the edge nodes and the cloud.
        uplink: a request's trip from a vehicle to the cloud.
    """

    start_s: Callable[[float], float]
    service_s: Callable[[str, int], float]
    wan_s: float
    uplink: Uplink


@dataclass
class ControlStats:
    """What the loop did (the ``rerouting`` section of the summary)."""

    decisions: int = 0
    advised: int = 0
    delivered: int = 0
    lost: int = 0
    followed: int = 0
    declined: int = 0
    stale: int = 0
    unanswered: dict[str, int] = field(default_factory=dict)
    job_s: list[float] = field(default_factory=list)
    belief_rows: list[dict[str, float]] = field(default_factory=list)


class ControlLoop:
    """Runs a policy against the platform's belief and dispatches its advice.

    Args:
        env: simpy environment.
        network: road network.
        policy: the rerouting policy.
        belief: the cloud's belief at a time (a `LinkState`).
        truth: the true link state now (for the oracle, and for measuring the belief).
        vehicles: the platform's view of the connected vehicles, ``vehicles(only, links)``:
            all it knows of (``only`` None), or the requesting vehicles ``only`` on the
            ``links`` their requests named.
        locate: where a vehicle really is (the link it is on or waits at its origin to
            enter; -1 once arrived): the vehicle's side, to judge whether advice fits.
        ahead: the links really ahead of a vehicle (for measuring, never for policies).
        apply: switch a vehicle to a new route tail; False if it no longer can.
        compliance: probability per trip id that it follows advice.
        deliver: the advice channel.
        book: latency book (kind index ``advice_kind``).
        advice_kind: index of route advice in the book.
        rng_policy, rng_compliance: the policy's and compliance's own generators.
        period_s: control period.
        stale_after_s: age beyond which a belief link counts as stale (for coverage).
        jobs: the cloud's compute (None: decisions cost nothing, as for the oracle).
    """

    def __init__(self, env: simpy.Environment, *, network: Network, policy: Policy,
                 belief: Callable[[float], LinkState], truth: Callable[[], LinkState],
                 vehicles: Callable[[IntArray | None, IntArray | None], VehiclesView],
                 locate: Callable[[int], int],
                 ahead: Callable[[int], list[int]] | None = None,
                 apply: Callable[[int, list[int]], bool],
                 compliance: Callable[[IntArray], FloatArray], deliver: Deliver,
                 book: LatencyBook, advice_kind: int,
                 rng_policy: np.random.Generator, rng_compliance: np.random.Generator,
                 period_s: float, stale_after_s: float, jobs: CloudJobs | None = None) -> None:
        self.env, self.network, self.policy = env, network, policy
        self.jobs = None if policy.uses_truth else jobs
        self._belief, self._truth, self._vehicles = belief, truth, vehicles
        self._locate = locate
        self._ahead = ahead
        self._apply, self._compliance, self._deliver = apply, compliance, deliver
        self._deliver_edge: Deliver | None = None
        self.book, self.kind = book, advice_kind
        self.rng_policy, self.rng_compliance = rng_policy, rng_compliance
        self.period_s, self.stale_after_s = period_s, stale_after_s
        self.stats = ControlStats()
        self.events: EventLog | None = None
        self._on_the_way = 0
        self.advice_log: list[tuple[float, float, int, str]] = []
        self.history: list[tuple[float, FloatArray]] = []
        self._first_links: dict[int, list[int]] = {}
        self.flapping: set[int] = set()
        self._jobs_running = 0
        self.advised_vehicles: set[int] = set()  # received (were delivered) advice
        self.clocks = RerouteClocks()  # per incident: first advice, first reroute around it
        # the belief's time-averaged age of information, and its restart (wired by slow_loop)
        self.aoi_time_mean_s: Callable[[float], float] | None = None
        self.aoi_restart: Callable[[float], None] | None = None
        self.hazard_links: set[int] = set()
        self.cleared_at: dict[int, float] = {}
        self.reroute_times: list[float] = []
        # a cloud outage or WAN cut (fault windows): the cloud decides nothing then
        self.cloud_out: Callable[[float], bool] = lambda _t: False

    # ------------------------------------------------------------------ triggers
    def run(self) -> Generator[simpy.Event, Any, None]:
        """The periodic process: measure the belief; decide if the policy is periodic."""
        while True:
            yield self.env.timeout(self.period_s)
            self._measure_belief()
            if self.policy.periodic:
                if self.jobs is not None and self.cloud_out(self.env.now):
                    self._unanswered("cloud_outage")  # paused: the belief ages meanwhile
                    continue
                self.decide("periodic")

    def on_departure(self, vehicle: int) -> None:
        """A connected vehicle departed: for ``on_departure`` policies, it asks for a route.

        The request crosses Uu and the WAN (it may be lost: counted as unanswered,
        ``request_lost``), then waits in the cloud queue as a decision job.
        """
        if not self.policy.on_departure:
            return
        only = np.array([vehicle], dtype=np.int64)
        where = np.array([self._locate(vehicle)], dtype=np.int64)  # the request says where
        if self.jobs is None:
            self.decide("departure", only=only, links=where)
            return
        ok, delay = self.jobs.uplink()
        if not ok:
            self._unanswered("request_lost")
            return
        self.env.process(self._request(only, where, delay))

    def _request(self, only: IntArray, where: IntArray, delay_s: float) -> Generator[
            simpy.Event, Any, None]:
        yield self.env.timeout(delay_s)
        self.decide("departure", only=only, links=where)

    def on_hazard(self, start_s: float, link: int = -1) -> None:
        """An edge node confirmed a hazard that began at ``start_s`` on ``link``.

        Edge-local policies act at once at that edge; otherwise the report crosses the
        WAN and the cloud queue before the platform knows of it.
        """
        if self.jobs is None or getattr(self.policy, "edge_local", False):
            self._hazard_known(start_s, link)
            return
        self.env.process(self._hazard_report(start_s, link))

    def _hazard_report(self, start_s: float, link: int) -> Generator[simpy.Event, Any, None]:
        assert self.jobs is not None  # only scheduled with jobs
        yield self.env.timeout(self.jobs.wan_s)
        if self.cloud_out(self.env.now):  # lost on a cut WAN or at a cloud that is out
            return
        yield from self._cloud_job("hazard_report", 0)
        self._hazard_known(start_s, link)

    def _hazard_known(self, start_s: float, link: int) -> None:
        if link >= 0:
            self.hazard_links.add(link)
        if self.policy.on_hazard:
            self.decide("hazard")

    def on_clearance(self, link: int) -> None:
        """An edge node confirmed that the hazard on ``link`` is gone (detected, not told).

        Like a hazard's start, the report crosses the WAN and the cloud queue before the
        platform treats the link as clear; until then it treats the hazard as present.
        """
        if self.jobs is None or getattr(self.policy, "edge_local", False):
            self.clear_hazard(link)
            return
        self.env.process(self._clearance_report(link))

    def _clearance_report(self, link: int) -> Generator[simpy.Event, Any, None]:
        assert self.jobs is not None  # only scheduled with jobs
        yield self.env.timeout(self.jobs.wan_s)
        if self.cloud_out(self.env.now):  # lost like a hazard report (no retry)
            return
        yield from self._cloud_job("hazard_report", 0)
        self.clear_hazard(link)

    def clear_hazard(self, link: int) -> None:
        """The platform now knows that the hazard on ``link`` is over."""
        self.hazard_links.discard(link)
        self.cleared_at[link] = self.env.now

    # ------------------------------------------------------------------ deciding
    def _state(self) -> LinkState:
        return self._truth() if self.policy.uses_truth else self._belief(self.env.now)

    def decide(self, trigger: str, *, only: IntArray | None = None,
               links: IntArray | None = None) -> None:
        """A decision: a job in the cloud queue (or at once, without `CloudJobs`).

        ``only`` and ``links``: the vehicles of a route request and the links their
        requests said they were on.
        """
        if self.jobs is None or getattr(self.policy, "edge_local", False):
            advice = self._ask_policy(trigger, only, links)
            if len(advice):
                self._dispatch(advice)
            return
        self.env.process(self._decision_job(trigger, only, links))

    def _cloud_job(self, kind: str, n: int) -> Generator[simpy.Event, Any, float]:
        """Wait for the cloud queue and serve a job of ``kind``; its queue wait."""
        assert self.jobs is not None  # only called with jobs
        arrived = self.env.now
        start = self.jobs.start_s(arrived)
        if start > arrived:
            yield self.env.timeout(start - arrived)
        yield self.env.timeout(self.jobs.service_s(kind, n))
        return start - arrived

    def _decision_job(self, trigger: str, only: IntArray | None,
                      links: IntArray | None) -> Generator[simpy.Event, Any, None]:
        """Queue, run the policy on the belief as of the job's start, serve, dispatch."""
        assert self.jobs is not None  # only scheduled with jobs
        arrived = self.env.now
        self._jobs_running += 1
        start = self.jobs.start_s(arrived)
        if start > arrived:
            yield self.env.timeout(start - arrived)
        if self.cloud_out(self.env.now):
            self._jobs_running -= 1
            self._unanswered("cloud_outage")
            return
        advice = self._ask_policy(trigger, only, links)
        yield self.env.timeout(self.jobs.service_s("decision", len(advice)))
        self._jobs_running -= 1
        self.stats.job_s.append(self.env.now - arrived)
        if len(advice):
            self._dispatch(advice)

    def _ask_policy(self, trigger: str, only: IntArray | None,
                    links: IntArray | None = None) -> RouteAdvice:
        """Run the policy now on the platform's view; count requests it cannot answer."""
        state = self._state()
        vehicles = self._vehicles(only, links)
        if len(vehicles) == 0:
            if only is not None:  # a shuttle or delivery: it keeps its itinerary
                self._unanswered("keeps_itinerary")
            return RouteAdvice()
        self.stats.decisions += 1
        view = PolicyView(now_s=self.env.now, network=self.network, belief=state,
                          history=list(self.history), vehicles=vehicles, rng=self.rng_policy,
                          trigger=trigger, hazard_links=tuple(sorted(self.hazard_links)))
        return self.policy.decide(view)

    def _unanswered(self, reason: str, n: int = 1) -> None:
        self.stats.unanswered[reason] = self.stats.unanswered.get(reason, 0) + n

    def _dispatch(self, advice: RouteAdvice) -> None:
        n = len(advice)
        if self.clocks.waiting(self.env.now, followed=False):
            self.clocks.advised(self.env.now, [self._remaining(v) for v in
                                               advice.vehicles.tolist()], advice.routes)
        self.stats.advised += n
        self.book.count_sent(self.kind, n)
        reasons = self.book.lost_reasons[self.kind]
        outage_before = reasons.get("outage", 0)  # a fault window may drop advice
        if self.policy.uses_truth:
            ok, air, back, wan = (np.ones(n, bool), np.zeros(n), np.zeros(n), np.zeros(n))
        elif getattr(self.policy, "edge_local", False) and self._deliver_edge is not None:
            ok, air, back, wan = self._deliver_edge(advice.vehicles)
        else:
            ok, air, back, wan = self._deliver(advice.vehicles)
        self.book.count_lost(self.kind, int((~ok).sum())
                             - (reasons.get("outage", 0) - outage_before), "radio")
        self.stats.lost += int((~ok).sum())
        delay = air + back + wan
        decided = self.env.now
        self._on_the_way += int(ok.sum())
        for i in np.flatnonzero(ok).tolist():
            vehicle, route = int(advice.vehicles[i]), advice.routes[i]
            self.env.process(self._arrive(vehicle, route, float(delay[i]), decided))
        if ok.any():
            self.book.add_hop(self.kind, Hop.AIR, air[ok])
            self.book.add_hop(self.kind, Hop.BACKHAUL, back[ok])
            self.book.add_hop(self.kind, Hop.WAN, wan[ok])

    def _arrive(self, vehicle: int, route: list[int], delay_s: float,
                decided_s: float) -> Generator[simpy.Event, Any, None]:
        if delay_s > 0:
            yield self.env.timeout(delay_s)
        self._on_the_way -= 1
        self.book.add_delivered(self.kind, [self.env.now - decided_s])
        self.stats.delivered += 1
        self.advised_vehicles.add(vehicle)
        if self.rng_compliance.random() >= float(self._compliance(np.array([vehicle]))[0]):
            self.stats.declined += 1
            self._log_advice(decided_s, vehicle, "declined")
            return
        timing = self.clocks.waiting(self.env.now, followed=True)
        before = self._remaining(vehicle) if timing else []
        tail = self._still_ahead(vehicle, route)
        if tail is None or not self._apply(vehicle, tail):
            self.stats.stale += 1
            self._log_advice(decided_s, vehicle, "stale")
            return
        self._log_advice(decided_s, vehicle, "followed")
        if timing:
            self.clocks.followed(self.env.now, before, tail)
        self._followed(vehicle, tail)

    def _remaining(self, vehicle: int) -> list[int]:
        """The links really ahead of ``vehicle`` after its current one (none if off-road).

        For measuring (the reroute clocks), not for the policy: it reads the vehicle.
        """
        if self._locate(vehicle) < 0 or self._ahead is None:
            return []
        return list(self._ahead(vehicle))

    def _log_advice(self, decided_s: float, vehicle: int, outcome: str) -> None:
        self.advice_log.append((decided_s, self.env.now, vehicle, outcome))

    def advice_table(self) -> dict[str, NDArray[Any]]:
        """One row per delivered piece of advice: decided, delivered, latency, outcome."""
        rows = self.advice_log
        decided = np.array([r[0] for r in rows], dtype=np.float64)
        delivered = np.array([r[1] for r in rows], dtype=np.float64)
        return {"decided_s": decided, "delivered_s": delivered,
                "latency_s": delivered - decided,
                "vehicle": np.array([r[2] for r in rows], dtype=np.int64),
                "outcome": np.array([r[3] for r in rows], dtype=str)}

    def _still_ahead(self, vehicle: int, route: list[int]) -> list[int] | None:
        """The part of ``route`` after the link the vehicle is really on, or None.

        The vehicle may have moved on since the report the advice was computed from.
        """
        link = self._locate(vehicle)
        if link < 0:
            return None
        start = int(self.network.to_node[link])
        if route and int(self.network.from_node[route[0]]) == start:
            return route
        if link in route:
            return route[route.index(link) + 1:] or None
        return None

    def _followed(self, vehicle: int, tail: list[int]) -> None:
        self.stats.followed += 1
        now = self.env.now
        if self.events is not None:
            self.events.add(now, "reroute", link=str(self.network.link_ids[tail[0]]),
                            vehicle=vehicle, detail=f"{self.policy.name}: "
                            f"{len(tail)} links to destination")
        self.reroute_times.append(now)
        seen = self._first_links.setdefault(vehicle, [])
        if tail[0] in seen[:-1]:
            self.flapping.add(vehicle)  # back onto a choice it had already left
        seen.append(tail[0])

    def restart_statistics(self) -> None:
        """Warm-up over: decision and advice counts, vehicle sets, belief samples restart."""
        self.stats = ControlStats()
        self.advised_vehicles.clear()
        self._first_links.clear()
        self.flapping.clear()
        if self.aoi_restart is not None:
            self.aoi_restart(self.env.now)

    def finish(self) -> None:
        """At the horizon: advice still travelling counts as in flight."""
        self.book.count_in_flight(self.kind, self._on_the_way)
        self._on_the_way = 0
        if self._jobs_running:
            self._unanswered("decision_unfinished_at_horizon", self._jobs_running)
            self._jobs_running = 0

    # ------------------------------------------------------------------ measuring
    def _measure_belief(self) -> None:
        now = self.env.now
        belief = self._belief(now)
        truth = self._truth()
        self.history.append((now, belief.travel_time_s.copy()))
        if len(self.history) > 60:
            del self.history[0]
        age = belief.age_s(now)
        finite = age[np.isfinite(age)]
        # flow by Little's law: vehicles on the link / the time they take to cross it
        density = truth.density_vpm if truth.density_vpm is not None else np.zeros(age.size)
        flow = density * self.network.length_m / np.maximum(truth.travel_time_s, 1e-9)
        measured = age <= self.stale_after_s
        row = {"time_s": now, **estimate_error(belief, truth),
               **flow_weighted_error(belief.travel_time_s, truth.travel_time_s, flow, measured),
               "age_mean_s": float(finite.mean()) if finite.size else math.nan,
               "age_p95_s": float(np.percentile(finite, 95)) if finite.size else math.nan,
               "coverage": float((age <= self.stale_after_s).mean())}
        self.stats.belief_rows.append(row)

    def summary(self) -> dict[str, Any]:
        """The ``rerouting`` section: what was advised, delivered, followed; belief quality."""
        s = self.stats
        rows = s.belief_rows

        def mean(key: str) -> float:
            values = np.array([r[key] for r in rows], dtype=np.float64)
            values = values[np.isfinite(values)]
            return float(values.mean()) if values.size else math.nan

        latency = self.book.hist[self.kind][self.book.hops.index("total")]
        clocks = self.clocks.clocks
        advice_s = [c.time_to_first_advice_s() for c in clocks]
        reroute_s = [c.time_to_first_reroute_s() for c in clocks]

        def mean_of(values: list[float]) -> float | None:
            finite = [v for v in values if math.isfinite(v)]
            return float(np.mean(finite)) if finite else None

        return {
            "policy": self.policy.name,
            "reroutes_per_rerouted_vehicle": (s.followed / len(self._first_links)
                                              if self._first_links else None),
            "decisions": s.decisions,
            "advised": s.advised,
            "delivered": s.delivered,
            "lost": s.lost,
            "followed": s.followed,
            "declined": s.declined,
            "stale": s.stale,
            "unanswered_by_reason": dict(sorted(s.unanswered.items())),
            "decision_job_mean_s": float(np.mean(s.job_s)) if s.job_s else None,
            "decision_job_max_s": float(np.max(s.job_s)) if s.job_s else None,
            "vehicles_rerouted": len(self._first_links),
            "flapping_vehicles": len(self.flapping),
            "vehicles_advised": len(self.advised_vehicles),
            "route_switches_per_advised_vehicle": (s.followed / len(self.advised_vehicles)
                                                   if self.advised_vehicles else None),
            "advice_latency_p50_s": latency.quantile(0.5),
            "advice_latency_p95_s": latency.quantile(0.95),
            "advice_latency_p99_s": latency.quantile(0.99),
            "time_to_first_reroute_s": mean_of(reroute_s),
            "time_to_first_advice_s": mean_of(advice_s),
            "incidents": [{"link": c.link, "start_s": c.start_s,
                           "time_to_first_advice_s": a, "time_to_first_reroute_s": r}
                          for c, a, r in zip(clocks, advice_s, reroute_s, strict=True)],
            "belief": {"mae_s": mean("mae_s"), "relative_error": mean("relative"),
                       "age_mean_s": mean("age_mean_s"), "age_p95_s": mean("age_p95_s"),
                       "coverage": mean("coverage"), "samples_per_period": len(rows),
                       "mae_flow_weighted_s": mean("mae_flow_s"),
                       "relative_error_flow_weighted": mean("relative_flow"),
                       "mae_unmeasured_flow_weighted_s": mean("mae_unmeasured_flow_s"),
                       "unmeasured_flow_share": mean("unmeasured_flow_share"),
                       "unmeasured_links": mean("unmeasured_links"),
                       "aoi_time_mean_s": (self.aoi_time_mean_s(self.env.now)
                                           if self.aoi_time_mean_s is not None else None)},
        }
