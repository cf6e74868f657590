"""Fault windows as masks over time, applied to whole message arrays.

A `FaultPlan` is the ``faults:`` section resolved against the built world: listed
indices checked, random shares drawn (each fault window from its own named stream,
``faults.<i>``, so no other stream moves). The message path asks it, for arrays of
(device or node, time), which fault window hits each message (-1: none); the caller
drops those messages and counts them lost with reason ``outage``. Every query is a few
numpy operations per fault window, never a loop over messages. A window is half open,
``[start_s, end_s)``: an empty one hits nothing, so a run with it is identical to one
without.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.compute.failover import CLOUD, LOST, Failover, split
from v2x_sim.compute.roadside import Devices
from v2x_sim.compute.servers import Stream
from v2x_sim.metrics.histogram import LogHistogram
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.scenario.fault_sections import DEVICE_KINDS, EDGE_KINDS, FaultKind, FaultWindow

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

OUTAGE = "outage"
"""The ``lost_by_reason`` key of messages a fault window dropped."""


@dataclass(frozen=True)
class ResolvedFault:
    """One fault window with its targets as a mask over devices or edge nodes.

    Attributes:
        index: position in the ``faults:`` list.
        kind: what fails.
        start_s, end_s: the window ``[start_s, end_s)``.
        targets: the indices hit (RSUs, sensor devices or edge nodes), sorted.
        mask: boolean over all devices (device kinds) or edge nodes (edge kinds);
            empty for zone-wide kinds.
        loss, latency_factor: cellular degradation (None elsewhere).
    """

    index: int
    kind: FaultKind
    start_s: float
    end_s: float
    targets: IntArray
    mask: BoolArray
    loss: float | None = None
    latency_factor: float | None = None

    def covers(self, t_s: FloatArray) -> BoolArray:
        """True where ``t_s`` lies inside the window."""
        return (t_s >= self.start_s) & (t_s < self.end_s)


@dataclass
class FaultPlan:
    """The run's fault windows and what they cost (lost messages, latency during them).

    Build it with `FaultPlan.build`. ``lost[w, k]`` counts messages of kind code ``k``
    dropped by window ``w``.
    """

    faults: list[ResolvedFault]
    n_kinds: int
    rng: Callable[[str], np.random.Generator]
    n_edges: int = 0
    failover: Failover | None = None
    lost: IntArray = field(init=False)
    taken_over: IntArray = field(init=False)
    reports_lost: IntArray = field(init=False)
    latency: dict[str, tuple[LogHistogram, LogHistogram]] = field(default_factory=dict)
    _streams: dict[str, np.random.Generator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lost = np.zeros((len(self.faults), self.n_kinds), np.int64)
        # per window: messages each edge node (last column: the cloud) took over
        self.taken_over = np.zeros((len(self.faults), self.n_edges + 1), np.int64)
        self.reports_lost = np.zeros(len(self.faults), np.int64)  # hazard reports

    @classmethod
    def build(cls, windows: list[FaultWindow], devices: Devices, n_kinds: int,
              rng: Callable[[str], np.random.Generator],
              failover: Failover | None = None) -> FaultPlan:
        """Resolve ``windows`` against ``devices``: check indices, draw random shares."""
        n_rsu, n_devices, n_edges = devices.n_rsu, len(devices.kind), devices.n_edges
        sensors = devices.sensors
        faults = []
        for i, w in enumerate(windows):
            path = f"faults[{i}]"
            if w.kind in DEVICE_KINDS:
                pool = (np.arange(n_rsu) if w.kind == FaultKind.RSU_OUTAGE else sensors)
                what = "RSU" if w.kind == FaultKind.RSU_OUTAGE else "sensor device"
                if w.share is not None:
                    n = round(w.share * pool.size)
                    targets = np.sort(rng(f"faults.{i}").choice(pool, size=n, replace=False))
                else:
                    targets = np.unique(np.asarray(w.targets, np.int64))
                    bad = targets[~np.isin(targets, pool)]
                    if bad.size:
                        raise ScenarioError(f"{path}.targets", int(bad[0]), _no_such(
                            what, pool, "rsus.csv column rsu" if what == "RSU"
                            else "devices.csv column device"))
                mask = np.zeros(n_devices, bool)
                mask[targets] = True
            elif w.kind in EDGE_KINDS:
                targets = np.unique(np.asarray(w.targets, np.int64))
                bad = targets[targets >= n_edges]
                if bad.size:
                    raise ScenarioError(f"{path}.targets", int(bad[0]), _no_such(
                        "edge node", np.arange(n_edges), "edge-0 is 0"))
                mask = np.zeros(n_edges, bool)
                mask[targets] = True
            else:
                targets, mask = np.zeros(0, np.int64), np.zeros(0, bool)
            faults.append(ResolvedFault(i, w.kind, w.start_s, w.end_s, targets, mask,
                                        w.loss, w.latency_factor))
        return cls(faults, n_kinds, rng, n_edges, failover)

    # ------------------------------------------------------------------ queries
    def of_kind(self, *kinds: FaultKind) -> list[ResolvedFault]:
        """The non-empty windows of the given kinds."""
        return [f for f in self.faults if f.kind in kinds and f.end_s > f.start_s]

    def overlaps(self, start_s: float, end_s: float, *kinds: FaultKind) -> bool:
        """Whether a non-empty window of ``kinds`` (all kinds if none) meets [start, end)."""
        return any(f.start_s < end_s and f.end_s > start_s
                   for f in (self.of_kind(*kinds) if kinds else self.of_kind(*FaultKind)))

    def during(self, t_s: ArrayLike) -> BoolArray:
        """True where a time lies inside any non-empty fault window."""
        t = np.asarray(t_s, dtype=np.float64)
        inside = np.zeros(t.shape, bool)
        for f in self.of_kind(*FaultKind):
            inside |= f.covers(t)
        return inside

    def _hits(self, faults: list[ResolvedFault], t_s: ArrayLike,
              target: ArrayLike | None = None) -> IntArray:
        """Index of the first window covering each message (-1: none).

        ``target`` indexes each window's mask (a device or an edge node per message);
        None for zone-wide windows.
        """
        t = np.asarray(t_s, dtype=np.float64)
        hit = np.full(t.shape, -1, np.int64)
        for f in reversed(faults):  # the first listed window wins
            inside = f.covers(t)
            if target is not None:
                inside &= f.mask[np.asarray(target, np.int64)]
            hit[inside] = f.index
        return hit

    def rsu_down(self, rsu: ArrayLike, t_s: ArrayLike, edge_of: IntArray) -> IntArray:
        """Window that silences each RSU at each time: its outage, or its edge's backhaul cut.

        Args:
            rsu: RSU index per message.
            t_s: when the message reaches (or leaves) the RSU.
            edge_of: the edge node of every device (`Devices.edge`).
        """
        rsu = np.asarray(rsu, np.int64)
        hit = self._hits(self.of_kind(FaultKind.RSU_OUTAGE), t_s, rsu)
        cut = self.of_kind(FaultKind.BACKHAUL_CUT)
        if cut:
            by_cut = self._hits(cut, t_s, edge_of[rsu])
            hit = np.where(hit >= 0, hit, by_cut)
        return hit

    def sensor_down(self, device: ArrayLike, t_s: ArrayLike, devices: Devices) -> IntArray:
        """Window that silences each sensor: its own failure, or its RSU's being down."""
        device = np.asarray(device, np.int64)
        hit = self._hits(self.of_kind(FaultKind.SENSOR_FAILURE), t_s, device)
        by_rsu = self.rsu_down(devices.rsu[device], t_s, devices.edge)
        return np.where(hit >= 0, hit, by_rsu)

    # ------------------------------------------------------------------ edge failover
    def edges_down(self, start_s: float, end_s: float) -> BoolArray:
        """Edge nodes an ``edge_down`` window takes down at some time in [start, end)."""
        down = np.zeros(self.n_edges, bool)
        for f in self.of_kind(FaultKind.EDGE_DOWN):
            if f.start_s < end_s and f.end_s > start_s:
                down |= f.mask
        return down

    def route_edge(self, home: IntArray, t_s: FloatArray, start_s: float,
                   end_s: float) -> tuple[IntArray, FloatArray, IntArray]:
        """Serving node, extra delay and edge_down window of messages bound for ``home``.

        See `Failover.route`; the neighbour is the nearest node not down at any time of
        the flow window ``[start_s, end_s)``.
        """
        hit = self._hits(self.of_kind(FaultKind.EDGE_DOWN), t_s, home)
        if self.failover is None:
            return home.copy(), np.zeros(home.size), hit
        serving, extra = self.failover.route(home, hit, self.edges_down(start_s, end_s))
        return serving, extra, hit

    def fail_over(self, book: LatencyBook, per_edge: list[Stream], start_s: float,
                  end_s: float) -> tuple[list[Stream], Stream]:
        """Messages of one kind bound for each edge node, re-routed around failed nodes.

        Returns the streams each edge node serves (its own plus what fails over to it)
        and the stream the cloud takes; the rest is lost (``outage``). Counts what each
        node took over (`taken_over`).
        """
        n = len(per_edge)
        parts: list[list[Stream]] = [[] for _ in range(n)]
        cloud: list[Stream] = []
        for e, stream in enumerate(per_edge):
            if not len(stream):
                continue
            serving, extra, hit = self.route_edge(np.full(len(stream), e, np.int64),
                                                  stream.arrival_s, start_s, end_s)
            if (serving == e).all():
                parts[e].append(stream)
                continue
            self.drop(book, int(stream.kind[0]), np.where(serving == LOST, hit, -1))
            moved = (serving != e) & (serving != LOST)
            if moved.any():
                target = np.where(serving[moved] == CLOUD, n, serving[moved])
                np.add.at(self.taken_over, (hit[moved], target), 1)
            split_edges, to_cloud = split(stream, serving, extra, n)
            for t, part in enumerate(split_edges):
                if len(part):
                    parts[t].append(part)
            if len(to_cloud):
                cloud.append(to_cloud)
        return [_merge_all(p) for p in parts], _merge_all(cloud)

    # ------------------------------------------------------------------ cloud side
    def cloud_cut(self, arrival_s: FloatArray, wan_s: float) -> IntArray:
        """Window losing each cloud-bound message (-1: none).

        A cloud outage when it arrives, or a WAN cut when it enters the WAN (``wan_s``
        earlier).
        """
        hit = self._hits(self.of_kind(FaultKind.CLOUD_OUTAGE), arrival_s)
        cut = self.of_kind(FaultKind.WAN_CUT)
        if cut:
            by_cut = self._hits(cut, arrival_s - wan_s)
            hit = np.where(hit >= 0, hit, by_cut)
        return hit

    def cloud_down(self, t_s: float) -> bool:
        """Whether the cloud is out (or cut off by the WAN) at ``t_s``."""
        t = np.array([t_s])
        return bool((self._hits(self.of_kind(FaultKind.CLOUD_OUTAGE, FaultKind.WAN_CUT), t)
                     >= 0)[0])

    def hazard_route(self, record: Any, arrival_s: float, edges: list[Any],
                     cloud: Any) -> tuple[Any, float] | None:
        """Where a hazard report reaching its edge node at ``arrival_s`` is processed.

        Returns (server pool, extra one-way delay), or None when it is lost (its node
        is down and ``edge.failover: none``, or no node is left). Marks the record
        (``failover``: the serving node or ``cloud``; ``failover_s``: the extra delay,
        which the warning pays again on its way back).
        """
        home = np.array([record.edge], np.int64)
        serving, extra, hit = self.route_edge(home, np.array([arrival_s]), arrival_s,
                                              arrival_s + 1e-9)
        if hit[0] < 0:
            return edges[record.edge], 0.0
        target = int(serving[0])
        if target == LOST:
            record.failover = "lost"
            self.reports_lost[hit[0]] += 1
            return None
        record.failover_s = float(extra[0])
        if target == CLOUD:
            record.failover = "cloud"
            return cloud, record.failover_s
        record.failover = f"edge-{target}"
        return edges[target], record.failover_s

    # ------------------------------------------------------------------ accounting
    def drop(self, book: LatencyBook | None, kind: int, hit: IntArray) -> BoolArray:
        """Count the messages a window hit as lost (``outage``); the mask of the rest.

        ``book`` None: a message that is no book kind (a route request); not counted.
        """
        down = hit >= 0
        n = int(down.sum())
        if n and book is not None:
            book.count_lost(kind, n, OUTAGE)
            self.lost[:, kind] += np.bincount(hit[down], minlength=len(self.faults))
        return ~down

    def stream(self, name: str) -> np.random.Generator:
        """The fault model's own generator for one consumer (``faults.<name>``)."""
        if name not in self._streams:
            self._streams[name] = self.rng(f"faults.{name}")
        return self._streams[name]

    def degrade_uu(self, book: LatencyBook | None, kind: int, t_s: FloatArray, delivered: BoolArray,
                   delay_s: FloatArray, base_loss: float, consumer: str, *,
                   deterministic: bool) -> tuple[BoolArray, FloatArray]:
        """Apply cellular degradation windows to a batch of Uu messages.

        Inside a window with ``loss = p`` above the channel's own ``base_loss`` = b, a
        message the channel delivered is lost with probability ``(p - b) / (1 - b)``,
        so the total loss is ``p``; those count as ``outage``. Delays inside a window
        are multiplied by ``latency_factor``. The channel's own draws are untouched (its
        stream moves exactly as without the fault); the extra loss comes from the
        stream ``faults.uu.<consumer>``. Deterministic: a message inside is lost iff
        ``1 - p < 0.5``, as the channel decides its own loss.

        Returns:
            (delivered, delay_s): new arrays.
        """
        windows = self.of_kind(FaultKind.CELLULAR_DEGRADATION)
        delivered, delay_s = delivered.copy(), np.asarray(delay_s, np.float64).copy()
        if not windows or not delivered.size:
            return delivered, delay_s
        hit = np.full(delivered.shape, -1, np.int64)
        for f in windows:
            inside = f.covers(t_s)
            if not inside.any():
                continue
            if f.latency_factor is not None:
                delay_s[inside] *= f.latency_factor
            p = f.loss if f.loss is not None else base_loss
            if p <= base_loss:
                continue
            if deterministic:
                lost = inside & delivered & (1.0 - p < 0.5)
            else:
                extra = (p - base_loss) / (1.0 - base_loss)
                draw = self.stream(f"uu.{consumer}").random(int(inside.sum()))
                lost = np.zeros(delivered.shape, bool)
                lost[inside] = draw < extra
                lost &= delivered
            hit[lost & (hit < 0)] = f.index
        return delivered & self.drop(book, kind, hit), delay_s

    def record_latency(self, key: str, born_s: FloatArray, latency_s: FloatArray) -> None:
        """Add end-to-end latencies of one message kind, split by "born during a fault".

        ``born_s``: when each message was sent (a warning: when its hazard began).
        """
        if not self.of_kind(*FaultKind) or not born_s.size:
            return
        during, outside = self.latency.setdefault(key, (LogHistogram(), LogHistogram()))
        inside = self.during(born_s)
        during.add(latency_s[inside])
        outside.add(latency_s[~inside])


def _no_such(what: str, pool: IntArray, where: str) -> str:
    if pool.size == 0:
        return f"the world has no {what}s"
    return (f"no {what} of that index; the world has {pool.size} "
            f"({int(pool.min())}..{int(pool.max())}; {where})")


def _merge_all(streams: list[Stream]) -> Stream:
    out = Stream()
    for s in streams:
        out = Stream.merged(out, s)
    return out
