"""The periodic message flows, one window of simulated time at a time.

Every ``tick_s`` the tick process takes all senders at once as arrays and, for the
window ahead: places connected vehicles on their links, finds the covering RSU, draws
PC5 loss and delay in one call, adds the fibre backhaul, and queues the BSMs together
with the roadside sensors' frames at each edge node (compiled FIFO kernel); status
reports go over Uu and the WAN to the cloud, as do the edge nodes' aggregates. Counts
and latencies go straight into histograms: no message is ever an object or an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import simpy
from numpy.typing import NDArray

from v2x_sim.comms.channels import FibreLink, Pc5Channel, UuChannel, WanPath
from v2x_sim.comms.messages import Hop, MessageKind
from v2x_sim.compute.bsm_flow import BsmFlow
from v2x_sim.compute.content import ContentStore
from v2x_sim.compute.estimator import EdgeSensing, RoadFacts
from v2x_sim.compute.fault_window import fail_over_window, reach_cloud
from v2x_sim.compute.faults import FaultPlan
from v2x_sim.compute.pool_split import edge_queues
from v2x_sim.compute.roadside import Coverage, Devices
from v2x_sim.compute.sensor_pattern import sensor_pattern
from v2x_sim.compute.sensors import Exits, Positions
from v2x_sim.compute.servers import Handover, ServerPool, Stream, kernel_threads
from v2x_sim.compute.service import draw_service_s
from v2x_sim.compute.status_kernel import periodic_sends, status_rows
from v2x_sim.compute.streams import StreamSet
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.road.network import Network
from v2x_sim.scenario.fault_sections import FaultKind
from v2x_sim.scenario.v2x_sections import (
    CloudSection,
    EdgeSection,
    MessagesSection,
    RoadsideSection,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Senders(Protocol):
    """The connected vehicles on links now, as they send about themselves (ids ascending).

    Injected by the world (`traffic.connected.ConnectedVehicles`): compute never reads
    the traffic side otherwise.
    """

    def __call__(self) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """(trip ids, link, entered_s, ready_s) of every one."""
        ...

    def on(self, links: NDArray[np.bool_]) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """The same for those on a link where ``links`` is True, in the same order."""
        ...

Probe = Callable[[IntArray], tuple[IntArray, FloatArray, FloatArray]]
"""What status reports carry, per trip id: (last completed link, its traversal time, exit
time); link -1 before the first completed link."""


@dataclass
class CloudFeeds:
    """Where the cloud's belief gets its samples (all optional).

    Attributes:
        belief: receives status-report and aggregate samples.
        probe: the content of vehicles' status reports.
        positions: every vehicle on a link now, as roadside sensors could see it.
        exits: the links vehicles left since the previous call (stop-line counts).
        road: what the edge knows without measuring (map, signal timing).
        sensing: the sensors' readings and each edge node's link estimates (built by
            `build_v2x` from the devices, ``positions`` and ``road``).
        registry: receives each delivered status report (vehicle, link, time).
    """

    belief: Any = None
    probe: Probe | None = None
    positions: Positions | None = None
    exits: Exits | None = None
    road: RoadFacts | None = None
    sensing: EdgeSensing | None = None
    registry: Any = None


@dataclass(frozen=True)
class Channels:
    """The link models the flows cross."""

    pc5: Pc5Channel
    uu: UuChannel
    fibre: FibreLink
    wan: WanPath
    rsu_hops: int


class BackgroundFlows:
    """Periodic messages through channels into the edge nodes and the cloud.

    Args:
        env: simpy environment (the tick process runs on it).
        network, devices, coverage: where senders and receivers are.
        channels: radio and wired links.
        edges: one `ServerPool` per edge node; cloud: the cloud's pool.
        book: where counts and latencies go.
        senders: injected view of the connected vehicles on the road.
        config: (roadside, edge, cloud, messages) sections.
        rng: named random streams by component ("channel.pc5", ...).
        tick_s, horizon_s, deterministic: timing and the means-only switch.
        feeds: where delivered content goes (belief, vehicle registry).
        background_load: simulate BSMs and sensor frames as load (``v2x.background:
            full``); False keeps only content-carrying messages.
        faults: the fault windows (`compute.faults`); None for a run without faults.
    """

    def __init__(self, env: simpy.Environment, *, network: Network, devices: Devices,
                 coverage: Coverage, channels: Channels, edges: list[ServerPool],
                 cloud: ServerPool, book: LatencyBook, senders: Senders,
                 config: tuple[RoadsideSection, EdgeSection, CloudSection, MessagesSection],
                 rng: Callable[[str], np.random.Generator], tick_s: float, horizon_s: float,
                 deterministic: bool, feeds: CloudFeeds | None = None,
                 background_load: bool = True, faults: FaultPlan | None = None) -> None:
        self.env, self.network, self.devices, self.coverage = env, network, devices, coverage
        self.channels, self.edges, self.cloud, self.book = channels, edges, cloud, book
        self.senders = senders
        self.feeds = feeds or CloudFeeds()
        self.roadside, self.edge_cfg, self.cloud_cfg, self.messages = config
        self.tick_s, self.horizon_s, self.deterministic = tick_s, horizon_s, deterministic
        self.rng_uu = rng("channel.uu")
        self.rng_edge, self.rng_cloud = rng("edge.service"), rng("cloud.service")
        self.rng_edge_aggregate = rng("edge.aggregate")
        self.background_load = background_load
        self.faults = faults
        self._faulty = False  # a fault window meets the current flow window
        self.status_content = ContentStore()
        self.aggregate_content: dict[int, tuple[IntArray, FloatArray, float,
                                                FloatArray | None]] = {}
        self._aggregate_born: dict[int, float] = {}
        self._next_aggregate = 0
        n_rsu = devices.n_rsu
        distance = np.hypot(devices.x_m[:n_rsu] - devices.edge_x_m[devices.edge[:n_rsu]],
                            devices.y_m[:n_rsu] - devices.edge_y_m[devices.edge[:n_rsu]])
        self.rsu_fibre_s = channels.fibre.delay_s(distance, channels.rsu_hops)
        self._edge_ids = np.arange(devices.n_edges)
        self.bsm = BsmFlow(length_m=network.length_m, devices=devices, coverage=coverage,
                           pc5=channels.pc5, rsu_fibre_s=self.rsu_fibre_s,
                           spec=self.messages.bsm, service=self.edge_cfg.service["bsm"],
                           book=book, rng=(rng("channel.pc5"), self.rng_edge),
                           deterministic=deterministic)
        self.windows = 0
        self._pattern = sensor_pattern(devices, tick_s, self.roadside.sensor_link_s,
                                       self.rsu_fibre_s, self.edge_cfg.service["perception"],
                                       self.rng_edge)
        # the edge nodes are independent queues: one compiled call serves a window of all
        # (or of each part, parts on threads at once, balanced by the frames per node)
        self.edge_group = (edge_queues(edges, kernel_threads(),
                                       np.diff(self._pattern.flat.bounds) + 1)
                           if edges else None)
        self._full_windows = 0  # windows whose frames are the pattern
        # the BSMs and frames of every window with `v2x.background: off`: none (read only)
        self._no_streams = StreamSet.empty(devices.n_edges)

    @property
    def cbr(self) -> FloatArray:
        """Each RSU's channel busy ratio in the current window (`BsmFlow.cbr`)."""
        return self.bsm.cbr

    @property
    def cbr_max(self) -> FloatArray:
        """Each RSU's highest channel busy ratio since the warm-up."""
        return self.bsm.cbr_max

    @property
    def bsm_received(self) -> IntArray:
        """BSMs each RSU heard since the warm-up."""
        return self.bsm.received

    # ------------------------------------------------------------------ sensors
    def _frames(self, edge: int, start_s: float, end_s: float, offsets: bool) -> Stream:
        """One edge node's frames; ``offsets``: as the pattern (the kernel adds start_s)."""
        pattern = self._pattern.streams[edge]
        born = pattern.born_s if offsets else pattern.born_s + start_s
        keep = slice(None) if end_s >= start_s + self.tick_s else born < end_s
        service = pattern.service_s[keep]
        params = self.edge_cfg.service["perception"]
        if not self.deterministic and params.distribution != "deterministic":
            service = draw_service_s(params, len(born[keep]), self.rng_edge)
        frames = Stream(pattern.arrival_s if offsets else pattern.arrival_s[keep] + start_s,
                        service, pattern.kind[keep], born[keep])
        self.book.count_sent(MessageKind.PERCEPTION, len(frames))
        if self._faulty and self.faults is not None and len(frames):
            # frames of failed sensors, or sent through a silent RSU, are lost
            alive = self.faults.drop(self.book, int(MessageKind.PERCEPTION),
                                     self.faults.sensor_down(self._pattern.sensor[edge][keep],
                                                             frames.born_s, self.devices))
            if not alive.all():
                frames = Stream(frames.arrival_s[alive], frames.service_s[alive],
                                frames.kind[alive], frames.born_s[alive])
        return frames

    # ------------------------------------------------------------------ the tick
    def process(self):  # type: ignore[no-untyped-def]
        """The tick process: one window per ``tick_s`` until the horizon."""
        while self.env.now < self.horizon_s:
            start = self.env.now
            end = min(start + self.tick_s, self.horizon_s)
            self.window(start, end)
            yield self.env.timeout(self.tick_s)

    def window(self, start_s: float, end_s: float) -> None:
        """Generate and serve every periodic message sent in [start, end).

        Edge nodes first (their aggregates are jobs in their queues), then the cloud
        (status reports and the aggregates that left the edges); content takes effect
        at each message's departure from the queue that processes it (`_hand_over`).
        """
        ids, link, entered, ready = self.senders()
        load = self.background_load
        self._faulty = self.faults is not None and self.faults.overlaps(start_s, end_s)
        n_edges = self.devices.n_edges
        bsm = (self.bsm.window((ids, link, entered, ready), start_s, end_s,
                               self.faults if self._faulty else None) if load
               else self._no_streams)
        aggregates = self._aggregates(start_s, end_s)
        full = end_s >= start_s + self.tick_s
        # a window a fault touches may lose frames: it does not repeat the pattern
        patterned = full and not self._faulty
        failed_over = Stream()
        if not load:
            frames = self._no_streams
        elif patterned and (self.deterministic or self.edge_cfg.service[
                "perception"].distribution == "deterministic"):
            # the pattern as it is (offsets from the window's start): no per-edge arrays
            frames = self._pattern.flat
            self.book.count_sent(MessageKind.PERCEPTION, len(frames))
        else:
            each = [self._frames(e, start_s, end_s, patterned) for e in range(n_edges)]
            if self._faulty and self.faults is not None and self.faults.overlaps(
                    start_s, end_s, FaultKind.EDGE_DOWN):
                each, bsm_each, moved, failed_over = fail_over_window(
                    self.faults, self.book, (each, bsm.streams(), aggregates.streams()),
                    (start_s, end_s), self._forget_aggregate)
                bsm, aggregates = StreamSet.of(bsm_each), StreamSet.of(moved)
            for stream in each:
                if not patterned and len(stream):  # frames' backhaul one by one
                    self.book.add_hop(MessageKind.PERCEPTION, Hop.BACKHAUL,
                                      stream.arrival_s - stream.born_s)
            frames = StreamSet.of(each)
        join_edges = (self.edge_group.start(
            frames, bsm, aggregates, start_s + self.tick_s,
            start_s if patterned and load else 0.0) if self.edge_group is not None else None)
        # status reports touch no edge node (own random streams): drawn while any edge
        # part still runs on a worker thread
        status = self._status(ids, link, start_s, end_s)
        handed_edges = join_edges() if join_edges is not None else None
        left_edge = ([] if handed_edges is None else
                     [handed_edges.of_kind(int(MessageKind.AGGREGATE), self.horizon_s)])
        if load:
            self._full_windows += int(patterned)
        batch = Stream.merged(Stream.merged(status, self._edge_to_cloud(left_edge)), failed_over)
        if self._faulty and self.faults is not None and len(batch):
            batch = reach_cloud(self.faults, self.book, batch, self.channels.wan.delay_s,
                                self.status_content.take, self._forget_aggregate)
        handed = self.cloud.serve(Stream(), batch, start_s, start_s + self.tick_s)
        self._hand_over(handed)
        self.windows += 1

    def _forget_aggregate(self, payload: int) -> None:
        """Drop the content of an aggregate that was lost (a fault window)."""
        self._aggregate_born.pop(payload, None)
        self.aggregate_content.pop(payload, None)

    def _status(self, ids: IntArray, link: IntArray, start_s: float, end_s: float) -> Stream:
        """Status reports of the window over Uu and the WAN, queued for the cloud.

        Each report carries its vehicle, the link it is on at the window's start, and
        the link it completed since its previous report (with traversal and exit time;
        link -1 if none): content kept in `status_content` until the report departs.
        """
        spec = self.messages.status
        if not spec.enabled or ids.size == 0:
            return Stream()
        period = 1.0 / spec.rate_hz
        who, born = periodic_sends(ids, period, start_s, end_s)
        self.book.count_sent(MessageKind.STATUS, born.size)
        ok, up = self.channels.uu.draw(born.size, self.rng_uu, direction="up",
                                       deterministic=self.deterministic)
        self.book.count_lost(MessageKind.STATUS, int(born.size - ok.sum()), "radio")
        if self._faulty and self.faults is not None:
            ok, up = self.faults.degrade_uu(self.book, int(MessageKind.STATUS), born, ok, up,
                                            self.channels.uu.loss, "status",
                                            deterministic=self.deterministic)
        # the delivered ones with their content, in order of arrival (one compiled call)
        probe = self.feeds.probe
        wan_s = self.channels.wan.delay_s
        arrival, content, up = status_rows(who, born, ok, up, wan_s, (ids, link),
                                           probe(ids) if probe is not None else None, period)
        self.book.add_hop(MessageKind.STATUS, Hop.AIR, up)
        self.book.add_hop_constant(MessageKind.STATUS, Hop.WAN, wan_s, arrival.size)
        payload = self.status_content.add(**content)
        service = draw_service_s(self.cloud_cfg.service["status"], arrival.size,
                                 self.rng_cloud, deterministic=self.deterministic)
        return Stream(arrival, service, np.full(arrival.size, int(MessageKind.STATUS)),
                      content["born_s"], payload)

    def _aggregates(self, start_s: float, end_s: float) -> StreamSet:
        """Each edge node's aggregates of the window, as jobs in its own queue.

        An aggregate is built when its turn in the edge's FIFO queue comes, from what the
        edge processed before it: its estimates of the links its sensors watch, from their
        latest readings (`CloudFeeds.sensing`, read at most once per window). When the job
        is done it travels the WAN and waits in the cloud queue (`_edge_to_cloud`).
        """
        spec = self.messages.aggregate
        n_edges = self.devices.n_edges
        if not spec.enabled:
            return StreamSet.empty(n_edges)
        edge, born = periodic_sends(self._edge_ids, 1.0 / spec.rate_hz, start_s, end_s)
        self.book.count_sent(MessageKind.AGGREGATE, born.size)
        if born.size == 0:  # none due in this window (nothing to read, draw or queue)
            return StreamSet.empty(n_edges)
        feeds = self.feeds
        sensing = feeds.sensing
        # the sensors' latest readings; each edge node estimates the links it watches
        readings = sensing.snapshot(start_s) if sensing is not None else None
        service = draw_service_s(self.edge_cfg.service["aggregate"], born.size,
                                 self.rng_edge_aggregate, deterministic=self.deterministic)
        payload = np.arange(self._next_aggregate, self._next_aggregate + born.size)
        self._next_aggregate += born.size
        for p, e, at in zip(payload.tolist(), edge.tolist(), born.tolist(), strict=True):
            self._aggregate_born[p] = at
            if sensing is None or readings is None:
                continue
            links, travel, density = sensing.measured(e, readings)
            self.aggregate_content[p] = (links, travel, at, density)
        # the sends come edge by edge, each edge's in time order: they are the edge
        # nodes' streams already, one after the other (a few a window, so no per-edge
        # `Stream` is built and concatenated again)
        return StreamSet(born, service, np.full(born.size, int(MessageKind.AGGREGATE)), born,
                         np.searchsorted(edge, np.arange(n_edges + 1)), payload)

    def _edge_to_cloud(self, left: list[tuple[FloatArray, IntArray]]) -> Stream:
        """Aggregates that finished at their edge node, over the WAN into the cloud queue."""
        left = [(d, p) for d, p in left if d.size]
        if not left:
            return Stream()
        done = np.concatenate([d for d, _ in left])
        payload = np.concatenate([p for _, p in left])
        born = np.array([self._aggregate_born[p] for p in payload.tolist()])
        wan = np.full(done.size, self.channels.wan.delay_s)
        self.book.add_hop_constant(MessageKind.AGGREGATE, Hop.WAN, self.channels.wan.delay_s,
                                   done.size)
        return self._to_cloud(MessageKind.AGGREGATE, born, done + wan, "aggregate", payload)

    def _to_cloud(self, kind: MessageKind, born: FloatArray, arrival: FloatArray,
                  service_key: str, payload: IntArray) -> Stream:
        order = np.argsort(arrival, kind="stable")
        service = draw_service_s(self.cloud_cfg.service[service_key], born.size, self.rng_cloud,
                                 deterministic=self.deterministic)
        return Stream(arrival[order], service, np.full(born.size, int(kind)), born[order],
                      payload[order])

    def _hand_over(self, handed: Handover) -> None:
        """Content of the messages the cloud finished: into the belief at each departure.

        Departures may lie in the future (a backlog): the belief applies each sample at
        its own instant. Messages finishing after the horizon hand nothing over.
        """
        if not len(handed):
            return
        horizon, feeds = self.horizon_s, self.feeds
        done, payload = handed.of_kind(int(MessageKind.STATUS))
        if done.size:
            report = self.status_content.take(payload)
            arrive = done <= horizon
            if not arrive.all():  # the last windows: some finish after the horizon
                done = done[arrive]
                report = {k: v[arrive] for k, v in report.items()}
            if self.faults is not None:
                born = np.asarray(report["born_s"], dtype=np.float64)
                self.faults.record_latency("status", born, done - born)
            new = report["done_link"] >= 0
            if feeds.belief is not None and new.any():
                # a traversal describes the link as the vehicle found it on entering:
                # stamped with the entry time (exit - travel), its age counts from there
                feeds.belief.ingest(done[new], report["done_link"][new], report["travel_s"][new],
                                    report["exited_s"][new] - report["travel_s"][new])
            if feeds.registry is not None and done.size:
                feeds.registry.ingest(done, report["vehicle"], report["link"], report["born_s"],
                                      now_s=self.env.now)
        done, payload = handed.of_kind(int(MessageKind.AGGREGATE))
        # every aggregate of the window in one batch of samples, in departure order (the
        # belief applies samples by their own instants: one batch or one per aggregate
        # is the same sequence)
        samples: list[tuple[float, IntArray, FloatArray, float, FloatArray | None]] = []
        for at, p in zip(done.tolist(), payload.tolist(), strict=True):
            self._aggregate_born.pop(p, None)
            content = self.aggregate_content.pop(p, None)
            if content is None or at > horizon or feeds.belief is None:
                continue
            links, travel, sent, density = content
            if links.size:
                samples.append((at, links, travel, sent, density))
        if samples:
            sizes = [links.size for _, links, _, _, _ in samples]
            feeds.belief.ingest(
                np.repeat([at for at, *_ in samples], sizes),
                np.concatenate([links for _, links, _, _, _ in samples]),
                np.concatenate([travel for _, _, travel, _, _ in samples]),
                np.repeat([sent for *_, sent, _ in samples], sizes),
                np.concatenate([np.full(n, np.nan) if density is None else density
                                for n, (*_, density) in zip(sizes, samples, strict=True)]))

    def finish(self) -> None:
        """Move the queues' accumulators into the book; what waits is in flight.

        Called once, when the run has reached its horizon.
        """
        pattern = self._pattern.backhaul
        if pattern.count and self._full_windows:
            # every full window carries the same frames: add their backhaul hop once, scaled
            self.book.hist[MessageKind.PERCEPTION][Hop.BACKHAUL].add_binned(
                pattern.counts * self._full_windows, pattern.total_s * self._full_windows,
                pattern.max_s)
        hops = [int(Hop.QUEUE), int(Hop.PROCESSING), int(Hop.TOTAL)]
        agg = int(MessageKind.AGGREGATE)
        for pool in self.edges:
            # an aggregate's edge stage shows in its total latency at the cloud; here it
            # only counts when it is still at the edge at the end
            self.book.count_in_flight(agg, int(pool.counts[agg, 2]))
            pool.counts[agg] = 0
            pool.stats[agg] = 0
            pool.hist[agg] = 0
        for pool in (*self.edges, self.cloud):
            self.book.add_kernel(pool.counts, pool.stats, pool.hist, hops)
            for kind, n in enumerate(pool.pending()):
                self.book.count_in_flight(kind, int(n))
            pool.counts[:] = 0
            pool.stats[:] = 0
            pool.hist[:] = 0

    def restart_statistics(self) -> None:
        """Warm-up over: channel load, BSMs received and frame backhaul count afresh."""
        self.bsm.restart()
        self.windows = 0
        self._full_windows = 0

    def mean_cbr(self) -> FloatArray:
        """Mean channel busy ratio per RSU over the windows so far."""
        return self.bsm.cbr_sum / max(self.windows, 1)
