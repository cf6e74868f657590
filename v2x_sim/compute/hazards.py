"""The fast loop: a hazard is detected, fused at the edge, and broadcast upstream.

A hazard (an incident starting on a link) is seen by every roadside sensor whose range
covers its position: each frame detects it with the sensor's probability, so the first
detection comes a geometric number of frames after the start (its mean, ``1/p`` frames,
in deterministic mode). Where no sensor looks, the edge infers the hazard from BSMs: a
connected vehicle standing on the link for ``bsm_confirm_s``. The report travels to the
edge node (sensor link + fibre, or PC5 + fibre), waits behind the background backlog of
that node's queue, is processed, and the warning goes back over fibre to the RSUs and
over PC5 to the connected vehicles whose route reaches the hazard within
``warning_distance_m``, repeated while the edge believes the hazard active
(`warning_dissemination`); warned vehicles react (`warning_reaction`). These are
foreground messages: a few simpy events per hazard and broadcast, each delivery recorded
per hop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim.comms.flows import offsets_on_link, phases_s
from v2x_sim.compute.background import BackgroundFlows, Senders
from v2x_sim.compute.roadside import DEVICE_NAMES, point_on_link
from v2x_sim.compute.service import draw_service_s
from v2x_sim.compute.warning_dissemination import (
    WARNING_COLUMNS,
    Broadcaster,
    HazardWarnings,
    WarningTable,
)
from v2x_sim.compute.warning_reaction import Reaction, VehicleHooks, WarningReaction
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.scenario.v2x_sections import EdgeSection, V2XSection

FloatArray = NDArray[np.float64]

__all__ = ["WARNING_COLUMNS", "HazardLoop", "HazardRecord"]


@dataclass
class HazardRecord:
    """What happened to one hazard (one row of hazards in the summary)."""

    hazard: int
    link: int
    start_s: float
    cause: str = "incident"
    position_m: float = math.nan
    lanes_closed: int = 0
    blocking: bool = False
    closed: bool = False
    detected_by: str = "none"
    detect_s: float = math.nan
    edge: int = -1
    edge_arrival_s: float = math.nan
    edge_start_s: float = math.nan
    edge_done_s: float = math.nan
    upstream_vehicles: int = 0
    delivered: int = 0
    in_time: int = 0
    end_s: float = math.nan
    cleared_by: str = "none"
    clear_detect_s: float = math.nan
    clear_done_s: float = math.nan
    failover: str = ""
    failover_s: float = 0.0
    broadcasts: int = 0
    detoured: int = 0
    slowed: int = 0


class HazardLoop:
    """Detects hazards and disseminates warnings through the edge.

    Args:
        env: simpy environment.
        flows: the background flows (devices, coverage, channels, edge queues, CBR).
        senders: injected view of the connected vehicles on the road.
        v2x, edge: configuration.
        book: latency book (kind ``hazard_warning``).
        rng: generator for detection, PC5 and processing draws ("hazards").
        deterministic: means-only mode.
    """

    def __init__(self, env: simpy.Environment, *, flows: BackgroundFlows, senders: Senders,
                 v2x: V2XSection, edge: EdgeSection, book: LatencyBook,
                 rng: np.random.Generator, deterministic: bool) -> None:
        self.env, self.flows, self.senders = env, flows, senders
        self.v2x, self.edge_cfg, self.book = v2x, edge, book
        self.rng, self.deterministic = rng, deterministic
        self.on_confirmed: Callable[[float, int], None] | None = None
        self.on_cleared: Callable[[int], None] | None = None
        self._open: dict[int, list[HazardRecord]] = {}
        self.records: list[HazardRecord] = []
        self.table = WarningTable()
        self.warnings: dict[int, HazardWarnings] = {}  # by hazard index, once broadcast
        self.vehicles: VehicleHooks | None = None  # the traffic side (wired by the world)
        self.reaction: WarningReaction | None = None  # None: warned vehicles do nothing
        self._broadcaster: Broadcaster | None = None

    def report(self, link: int, position_m: float, lanes_closed: int = 0) -> None:
        """A hazard (an incident) starts now at ``position_m`` along ``link``.

        ``lanes_closed``: how many of the link's lanes it closes (the sensor sees it).
        """
        lanes = int(self.flows.network.lanes[link])
        record = HazardRecord(hazard=len(self.records), link=link, start_s=self.env.now,
                              position_m=position_m, lanes_closed=lanes_closed,
                              blocking=lanes_closed > 0, closed=lanes_closed >= lanes)
        self.records.append(record)
        self._open.setdefault(link, []).append(record)
        self.env.process(self._lifecycle(record, position_m))

    def clear(self, link: int, position_m: float) -> None:
        """The (oldest open) incident on ``link`` ends now; the edge has to notice."""
        records = self._open.get(link)
        if not records:
            return
        record = records.pop(0)
        record.end_s = self.env.now
        self.env.process(self._clearance(record, position_m))

    def watch_queue_tails(self) -> Generator[simpy.Event, Any, None]:
        """The edge's BSM-based queue-tail detector, one look per tick.

        A link where ``queue_tail_vehicles`` connected vehicles have stood for
        ``queue_tail_standing_s`` (longer than a red light) holds a queue tail: a hazard
        at the tail of the standing queue, warned like an incident, at most one at a time
        and one per ``queue_tail_cooldown_s`` per link. It ends (its warnings stop) at the
        first look that no longer finds that many standing.
        """
        flows, cov, v2x = self.flows, self.flows.coverage, self.v2x
        last: dict[int, float] = {}
        tails: dict[int, HazardRecord] = {}  # link -> its open queue-tail hazard
        while self.env.now < flows.horizon_s:
            now = self.env.now
            ids, links, _, ready = self.senders()
            standing = ready <= now - v2x.queue_tail_standing_s
            counts = np.bincount(links[standing], minlength=flows.network.n_links)
            for link, record in list(tails.items()):  # the queue went: the hazard ends
                if counts[link] < v2x.queue_tail_vehicles:
                    record.end_s = record.clear_detect_s = record.clear_done_s = now
                    record.cleared_by = "bsm"
                    del tails[link]
            for link in np.flatnonzero(counts >= v2x.queue_tail_vehicles).tolist():
                if link in tails or now < last.get(link, -np.inf) + v2x.queue_tail_cooldown_s:
                    continue
                tail_m = self._queue_tail_m(ids, links, ready, link)
                cell = cov.cell_of(np.array([link]), np.array([tail_m]))
                rsu = int(cov.nearest[cell[0]])
                if rsu < 0 or self._rsu_silent(rsu):
                    continue
                ok, air = flows.channels.pc5.draw(cov.distance_m[cell], flows.cbr[[rsu]],
                                                  self.rng, deterministic=self.deterministic)
                if not ok[0]:
                    continue
                last[link] = now
                record = HazardRecord(hazard=len(self.records), link=link, start_s=now,
                                      cause="queue_tail", position_m=tail_m, blocking=True)
                self.records.append(record)
                tails[link] = record
                self.env.process(self._lifecycle(record, tail_m, known=(rsu, float(air[0]))))
            yield self.env.timeout(flows.tick_s)

    def _queue_tail_m(self, ids: NDArray[np.int64], links: NDArray[np.int64],
                      ready: FloatArray, link: int) -> float:
        """Where the standing queue on ``link`` ends, as its connected vehicles' BSMs say.

        The upstream-most connected vehicle standing in the exit queue marks the tail
        (vehicles behind it that send nothing are not seen); without the traffic side's
        positions, the link's end.
        """
        length = float(self.flows.network.length_m[link])
        queued = (links == link) & (ready <= self.env.now)
        if self.vehicles is None or not queued.any():
            return length
        return float(np.clip(self.vehicles.queue_offsets(ids[queued]).min(), 0.0, length))

    # ------------------------------------------------------------------ detection
    def _rsu_silent(self, rsu: int) -> bool:
        """Whether a fault window silences ``rsu`` now (it hears no BSM)."""
        faults = self.flows.faults
        return faults is not None and bool(faults.rsu_down(
            np.array([rsu]), np.array([self.env.now]), self.flows.devices.edge)[0] >= 0)

    def _sensor_detection(self, link: int, position_m: float) -> tuple[float, int] | None:
        dev = self.flows.devices
        x, y = point_on_link(self.flows.network, np.array([link]), np.array([position_m]))
        sensors = dev.sensors
        seeing = sensors[np.hypot(dev.x_m[sensors] - x[0], dev.y_m[sensors] - y[0])
                         <= dev.range_m[sensors]]
        faults = self.flows.faults
        if faults is not None and seeing.size:  # failed (or cut off) at the hazard's start
            seeing = seeing[faults.sensor_down(seeing, np.full(seeing.size, self.env.now),
                                               dev) < 0]
        if seeing.size == 0:
            return None
        now = self.env.now
        period = 1.0 / dev.frame_rate_hz[seeing]
        first = now + np.mod(phases_s(seeing, 1.0) * period - now, period)
        p = dev.detection_probability[seeing]
        if self.deterministic:
            frames = np.maximum(1, np.round(1.0 / np.maximum(p, 1e-12)))
        else:
            frames = self.rng.geometric(np.maximum(p, 1e-12))
        at = first + (frames - 1) * period
        best = int(np.argmin(at))
        return float(at[best]), int(seeing[best])

    def _lifecycle(self, record: HazardRecord, position_m: float,
                   known: tuple[int, float] | None = None) -> Generator[simpy.Event, Any, None]:
        """Detection, uplink, edge queue and processing, then the broadcast.

        ``known`` = (RSU, PC5 delay) when the edge already inferred the hazard from a BSM.
        """
        flows, dev = self.flows, self.flows.devices
        seen = None if known else self._sensor_detection(record.link, position_m)
        if known is not None:
            rsu, air = known
            record.detected_by = "bsm"
            uplink = air + float(flows.rsu_fibre_s[rsu])
        elif seen is not None:
            detect_s, sensor = seen
            yield self.env.timeout(detect_s - self.env.now)
            record.detected_by = DEVICE_NAMES[int(dev.kind[sensor])]
            rsu = int(dev.rsu[sensor])
            uplink = flows.roadside.sensor_link_s + float(flows.rsu_fibre_s[rsu])
        else:
            found = yield from self._wait_for_stopped_vehicle(record.link, record.start_s)
            if found is None:
                return
            rsu, air = found
            record.detected_by = "bsm"
            uplink = air + float(flows.rsu_fibre_s[rsu])
        record.detect_s = self.env.now
        record.edge = edge = int(dev.edge[rsu])
        pool = flows.edges[edge]
        if flows.faults is not None:  # its edge node down: the fallback path, or lost
            route = flows.faults.hazard_route(record, self.env.now + uplink, flows.edges,
                                              flows.cloud)
            if route is None:
                return
            pool, extra = route
            uplink += extra
        record.edge_arrival_s = self.env.now + uplink
        yield self.env.timeout(uplink)
        record.edge_start_s = pool.start_time(self.env.now)
        service = float(draw_service_s(self.edge_cfg.service["hazard_warning"], 1, self.rng,
                                       deterministic=self.deterministic)[0])
        record.edge_done_s = record.edge_start_s + service
        yield self.env.timeout(record.edge_done_s - self.env.now)
        self.env.process(self._disseminate(record, position_m))
        if self.on_confirmed is not None:
            # queue tails are congestion, not blockages: only incidents mark their link
            self.on_confirmed(record.start_s,
                              record.link if record.cause == "incident" else -1)

    def _wait_for_stopped_vehicle(self, link: int, since_s: float) -> Generator[
            simpy.Event, Any, tuple[int, float] | None]:
        """Poll each tick for a connected vehicle standing on ``link`` long enough.

        Standing counts from when the vehicle reached the queue or from the hazard's
        start, whichever is later, so a queue that was already there is no evidence.
        """
        flows, cov = self.flows, self.flows.coverage
        while self.env.now < flows.horizon_s:
            _, links, _, ready = self.senders()
            standing = ((links == link)
                        & (np.maximum(ready, since_s) <= self.env.now - self.v2x.bsm_confirm_s))
            if standing.any():
                i = int(np.flatnonzero(standing)[0])
                cell = cov.cell_of(links[i:i + 1], np.array([flows.network.length_m[link]]))
                rsu = int(cov.nearest[cell[0]])
                if rsu >= 0 and not self._rsu_silent(rsu):
                    ok, air = flows.channels.pc5.draw(cov.distance_m[cell], flows.cbr[[rsu]],
                                                      self.rng, deterministic=self.deterministic)
                    if ok[0]:
                        return rsu, float(air[0])
            yield self.env.timeout(flows.tick_s)
        return None

    # ------------------------------------------------------------------ clearance
    def _clearance(self, record: HazardRecord, position_m: float) -> Generator[
            simpy.Event, Any, None]:
        """Detect that the hazard is gone, report it to the edge, hand it on when done.

        Sensors covering the spot see it clear (per frame with their detection
        probability); where none looks, a connected vehicle past the spot and still
        moving, that entered the link after the end, shows traffic crosses at normal
        speed (its BSM, over PC5). The platform cannot clear what it never confirmed:
        the clearance waits for the start's confirmation.
        """
        flows, dev = self.flows, self.flows.devices
        while not record.edge_done_s <= self.env.now:
            if self.env.now >= flows.horizon_s:
                return
            yield self.env.timeout(flows.tick_s)
        seen = self._sensor_detection(record.link, position_m)
        if seen is not None:
            detect_s, sensor = seen
            yield self.env.timeout(detect_s - self.env.now)
            record.cleared_by = DEVICE_NAMES[int(dev.kind[sensor])]
            rsu = int(dev.rsu[sensor])
            uplink = flows.roadside.sensor_link_s + float(flows.rsu_fibre_s[rsu])
        else:
            found = yield from self._wait_for_moving_vehicle(record.link, position_m,
                                                             record.end_s)
            if found is None:
                return
            rsu, air = found
            record.cleared_by = "bsm"
            uplink = air + float(flows.rsu_fibre_s[rsu])
        record.clear_detect_s = self.env.now
        yield self.env.timeout(uplink)
        start = flows.edges[int(dev.edge[rsu])].start_time(self.env.now)
        service = float(draw_service_s(self.edge_cfg.service["hazard_warning"], 1, self.rng,
                                       deterministic=self.deterministic)[0])
        yield self.env.timeout(start + service - self.env.now)
        record.clear_done_s = self.env.now
        if self.on_cleared is not None:
            self.on_cleared(record.link)

    def _wait_for_moving_vehicle(self, link: int, position_m: float, since_s: float,
                                 ) -> Generator[simpy.Event, Any, tuple[int, float] | None]:
        """Poll each tick for a connected vehicle that crossed the spot at normal speed."""
        flows, cov = self.flows, self.flows.coverage
        length = float(flows.network.length_m[link])
        while self.env.now < flows.horizon_s:
            now = self.env.now
            _, links, entered, ready = self.senders()
            on = (links == link) & (entered >= since_s) & (ready > now)
            if on.any():
                offset = offsets_on_link(np.full(int(on.sum()), now), entered[on], ready[on],
                                         np.full(int(on.sum()), length))
                if (offset > min(position_m, 0.9 * length)).any():
                    cell = cov.cell_of(np.array([link]), np.array([min(position_m, length)]))
                    rsu = int(cov.nearest[cell[0]])
                    if rsu >= 0:
                        ok, air = flows.channels.pc5.draw(
                            cov.distance_m[cell], flows.cbr[[rsu]], self.rng,
                            deterministic=self.deterministic)
                        if ok[0]:
                            return rsu, float(air[0])
            yield self.env.timeout(flows.tick_s)
        return None

    # ------------------------------------------------------------------ dissemination
    def _disseminate(self, record: HazardRecord, position_m: float) -> Generator[
            simpy.Event, Any, None]:
        """The first broadcast now, then one every ``warning_repeat_s`` while active.

        Active as far as the edge knows: until it confirmed the clearance (a queue tail:
        until its BSMs showed the queue gone), and within the run.
        """
        if self._broadcaster is None:
            self._broadcaster = Broadcaster(
                flows=self.flows, senders=self.senders,
                ahead=self.vehicles.ahead if self.vehicles is not None else None,
                book=self.book, table=self.table, rng=self.rng,
                distance_m=self.v2x.warning_distance_m, deterministic=self.deterministic)
        state = self.warnings[record.hazard] = self._broadcaster.state(record.link,
                                                                       position_m)
        repeat, horizon = self.v2x.warning_repeat_s, self.flows.horizon_s
        repetition = 0
        while True:
            fresh = self._broadcaster.send(record, state, repetition)
            if fresh and self.reaction is not None:
                self.env.process(self._react(record, state, fresh))
            repetition += 1
            at = record.edge_done_s + repetition * repeat
            if repeat <= 0.0 or at >= horizon:
                break
            yield self.env.timeout(at - self.env.now)
            if record.clear_done_s <= self.env.now:
                break
        state.forget_vehicles()  # the per-vehicle masks (the counts stay)

    def _react(self, record: HazardRecord, state: HazardWarnings,
               fresh: list[tuple[float, int, int]]) -> Generator[simpy.Event, Any, None]:
        """Each newly warned vehicle reacts when its warning arrives (`warning_reaction`)."""
        assert self.reaction is not None  # only scheduled with a reaction
        for at, vehicle, row in sorted(fresh):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            reaction = self.reaction.react(
                hazard=record.hazard, link=record.link, edge=record.edge,
                blocking=record.blocking, closed=record.closed, vehicle=vehicle,
                closed_links=self._closed_links())
            state.reaction[vehicle] = reaction.value
            self.table.set_reaction(row, reaction.value)
            record.detoured += reaction is Reaction.DETOUR
            record.slowed += reaction is Reaction.SLOW

    def _closed_links(self) -> list[int]:
        """Links of every fully closed hazard the edge confirmed and has not seen clear."""
        now = self.env.now
        return sorted({r.link for r in self.records
                       if r.closed and r.edge_done_s <= now and not r.clear_done_s <= now})

    def warnings_table(self) -> dict[str, NDArray[Any]]:
        """warnings.csv: one row per (hazard, addressed vehicle) (`WARNING_COLUMNS`)."""
        return self.table.as_arrays()
