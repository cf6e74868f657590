"""The fast loop: a hazard is detected, fused at the edge, and broadcast upstream.

A hazard (an incident starting on a link) is seen by every roadside sensor whose range
covers its position: each frame detects it with the sensor's probability, so the first
detection comes a geometric number of frames after the start (its mean, ``1/p`` frames,
in deterministic mode). Where no sensor looks, the edge infers the hazard from BSMs: a
connected vehicle standing on the link for ``bsm_confirm_s``. The report travels to the
edge node (sensor link + fibre, or PC5 + fibre), waits behind the background backlog of
that node's queue, is processed, and the warning goes back over fibre to the RSUs and
over PC5 to every connected vehicle within ``warning_distance_m`` upstream. These are
foreground messages: a few simpy events per hazard, each delivery recorded per hop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from v2x_sim.comms.flows import offsets_on_link, phases_s
from v2x_sim.comms.messages import Hop, MessageKind
from v2x_sim.compute.background import BackgroundFlows, Senders
from v2x_sim.compute.roadside import DEVICE_NAMES, point_on_link
from v2x_sim.compute.service import draw_service_s
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.scenario.v2x_sections import EdgeSection, V2XSection

FloatArray = NDArray[np.float64]

WARNING_COLUMNS = ("hazard", "vehicle", "distance_m", "rsu", "delivered", "t_hazard_s",
                   "t_detect_s", "t_edge_arrival_s", "t_edge_start_s", "t_edge_done_s",
                   "t_rsu_s", "t_delivered_s", "latency_s", "in_time")


@dataclass
class HazardRecord:
    """What happened to one hazard (one row of hazards in the summary)."""

    hazard: int
    link: int
    start_s: float
    cause: str = "incident"
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
        self.deliveries: dict[str, list[float]] = {c: [] for c in WARNING_COLUMNS}
        self._deadline = float(book.deadline_s[MessageKind.HAZARD_WARNING])
        net = flows.network
        self._reverse = csr_matrix((net.length_m, (net.to_node, net.from_node)),
                                   shape=(net.n_nodes, net.n_nodes))

    def report(self, link: int, position_m: float) -> None:
        """A hazard (an incident) starts now at ``position_m`` along ``link``."""
        record = HazardRecord(hazard=len(self.records), link=link, start_s=self.env.now)
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
        warned like an incident, at most once per ``queue_tail_cooldown_s`` per link.
        """
        flows, cov, v2x = self.flows, self.flows.coverage, self.v2x
        last: dict[int, float] = {}
        length = flows.network.length_m
        while self.env.now < flows.horizon_s:
            ids, links, _, ready = self.senders()
            standing = ready <= self.env.now - v2x.queue_tail_standing_s
            counts = np.bincount(links[standing], minlength=flows.network.n_links)
            for link in np.flatnonzero(counts >= v2x.queue_tail_vehicles).tolist():
                if self.env.now < last.get(link, -np.inf) + v2x.queue_tail_cooldown_s:
                    continue
                cell = cov.cell_of(np.array([link]), np.array([length[link]]))
                rsu = int(cov.nearest[cell[0]])
                if rsu < 0 or self._rsu_silent(rsu):
                    continue
                ok, air = flows.channels.pc5.draw(cov.distance_m[cell], flows.cbr[[rsu]],
                                                  self.rng, deterministic=self.deterministic)
                if not ok[0]:
                    continue
                last[link] = self.env.now
                record = HazardRecord(hazard=len(self.records), link=link,
                                      start_s=self.env.now, cause="queue_tail")
                self.records.append(record)
                self.env.process(self._lifecycle(record, float(length[link]),
                                                 known=(rsu, float(air[0]))))
            del ids
            yield self.env.timeout(flows.tick_s)

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
        self._broadcast(record, position_m, uplink)
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
    def _upstream_distance(self, ids_link: NDArray[np.int64], offset_m: FloatArray,
                           link: int, position_m: float) -> FloatArray:
        """Road distance from each vehicle to the hazard point (inf if not upstream)."""
        net = self.flows.network
        to_start = dijkstra(self._reverse, directed=True, indices=int(net.from_node[link]))
        ahead = net.length_m[ids_link] - offset_m + to_start[net.to_node[ids_link]]
        distance = ahead + position_m
        on_link = ids_link == link
        distance[on_link] = np.where(offset_m[on_link] <= position_m,
                                     position_m - offset_m[on_link], np.inf)
        return distance

    def _broadcast(self, record: HazardRecord, position_m: float, uplink_s: float) -> None:
        flows, cov, dev = self.flows, self.flows.coverage, self.flows.devices
        now = self.env.now
        ids, links, entered, ready = self.senders()
        offset = offsets_on_link(np.full(ids.size, now), entered, ready,
                                 flows.network.length_m[links])
        distance = self._upstream_distance(links, offset, record.link, position_m)
        near = distance <= self.v2x.warning_distance_m
        ids, links, offset, distance = ids[near], links[near], offset[near], distance[near]
        record.upstream_vehicles = ids.size
        self.book.count_sent(MessageKind.HAZARD_WARNING, ids.size)
        if ids.size == 0:
            return
        cell = cov.cell_of(links, offset)
        rsu = cov.nearest[cell]
        covered = rsu >= 0
        edge_x, edge_y = dev.edge_x_m[record.edge], dev.edge_y_m[record.edge]
        down = np.full(ids.size, np.nan)
        down[covered] = flows.channels.fibre.delay_s(
            np.hypot(dev.x_m[rsu[covered]] - edge_x, dev.y_m[rsu[covered]] - edge_y),
            flows.channels.rsu_hops) + record.failover_s  # back over the fallback path
        ok = np.zeros(ids.size, dtype=bool)
        air = np.full(ids.size, np.nan)
        if covered.any():
            ok_c, air_c = flows.channels.pc5.draw(cov.distance_m[cell[covered]],
                                                  flows.cbr[rsu[covered]], self.rng,
                                                  deterministic=self.deterministic)
            ok[covered], air[covered] = ok_c, air_c
        self.book.count_lost(MessageKind.HAZARD_WARNING, int((~covered).sum()), "no_coverage")
        self.book.count_lost(MessageKind.HAZARD_WARNING, int((covered & ~ok).sum()), "radio")
        if flows.faults is not None and ok.any():  # a silent RSU broadcasts nothing
            ok &= flows.faults.drop(self.book, int(MessageKind.HAZARD_WARNING), np.where(
                ok, flows.faults.rsu_down(np.maximum(rsu, 0), now + down, dev.edge), -1))
        t_rsu = now + down
        delivered_at = t_rsu + air
        latency = delivered_at - record.detect_s
        horizon = flows.horizon_s
        arrived = ok & (delivered_at <= horizon)
        self.book.count_in_flight(MessageKind.HAZARD_WARNING, int((ok & ~arrived).sum()))
        kind = MessageKind.HAZARD_WARNING
        if arrived.any():
            self.book.add_delivered(kind, latency[arrived])
            self.book.add_hop(kind, Hop.AIR, air[arrived])
            self.book.add_hop(kind, Hop.BACKHAUL, uplink_s + down[arrived])
            n = int(arrived.sum())
            wait = record.edge_start_s - record.edge_arrival_s
            self.book.add_hop(kind, Hop.QUEUE, np.full(n, wait))
            self.book.add_hop(kind, Hop.PROCESSING,
                              np.full(n, record.edge_done_s - record.edge_start_s))
        in_time = arrived & (latency <= self._deadline)
        if flows.faults is not None and arrived.any():  # split by "began in a fault window"
            flows.faults.record_latency("hazard_warning", np.full(int(arrived.sum()),
                                        record.start_s), latency[arrived])
        record.delivered = int(arrived.sum())
        record.in_time = int(in_time.sum())
        columns = {
            "hazard": np.full(ids.size, record.hazard), "vehicle": ids, "distance_m": distance,
            "rsu": rsu, "delivered": arrived, "t_hazard_s": np.full(ids.size, record.start_s),
            "t_detect_s": np.full(ids.size, record.detect_s),
            "t_edge_arrival_s": np.full(ids.size, record.edge_arrival_s),
            "t_edge_start_s": np.full(ids.size, record.edge_start_s),
            "t_edge_done_s": np.full(ids.size, record.edge_done_s), "t_rsu_s": t_rsu,
            "t_delivered_s": np.where(arrived, delivered_at, np.nan),
            "latency_s": np.where(arrived, latency, np.nan), "in_time": in_time,
        }
        for name, values in columns.items():
            self.deliveries[name].extend(np.asarray(values).tolist())

    def warnings_table(self) -> dict[str, NDArray[Any]]:
        """One row per (hazard, upstream vehicle) warning attempt."""
        return {name: np.asarray(values) for name, values in self.deliveries.items()}
