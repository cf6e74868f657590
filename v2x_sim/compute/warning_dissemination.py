"""Warnings from the edge to the connected vehicles whose route passes the hazard.

Recipients: the connected vehicles whose **remaining route** reaches the hazard within
``v2x.warning_distance_m`` along that route (a vehicle on the opposite carriageway, or
one turning off before the hazard, is not addressed), in range of an RSU that carries
the warning (a silent RSU broadcasts nothing).

Repetition: while the edge believes the hazard active (until it confirms the clearance;
a queue tail until its BSMs show the queue gone) it repeats the warning every
``v2x.warning_repeat_s``, like a DENM (ETSI EN 302 637-3: the originating station
re-sends the same DENM at its repetition interval for its repetition duration; a
receiver knows a repetition by its action id and does not pass it on again). So vehicles
that arrive later are warned too, and a vehicle already warned ignores the repetitions:
counts are per warned vehicle, not per broadcast. A vehicle a broadcast failed to reach
(no coverage, radio loss) is tried again by the next one.

Each broadcast is a message per addressed, not yet warned vehicle. The first one's
latency runs from the detection (uplink, edge queue and processing, then fibre to the
RSU and PC5); a repetition leaves the edge at its instant and crosses the same hops
after the edge (fibre to the RSU, PC5), so its latency runs from the re-send.

Vectorised: once per hazard a Dijkstra on the reversed graph, bounded at the warning
distance, marks the links from which the hazard is within reach; per broadcast one
compiled pass over the vehicles on the road gathers only the connected ones on such
links (a few dozen of the zone's thousands, `Senders.on`) and only their routes are
walked, up to the warning distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from v2x_sim._core.jit import njit
from v2x_sim.comms.messages import Hop, MessageKind
from v2x_sim.metrics.latency import LatencyBook
from v2x_sim.road.network import Network

if TYPE_CHECKING:
    from v2x_sim.compute.background import BackgroundFlows, Senders

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

WARNING_COLUMNS = ("hazard", "vehicle", "distance_m", "rsu", "delivered", "t_hazard_s",
                   "t_detect_s", "t_edge_arrival_s", "t_edge_start_s", "t_edge_done_s",
                   "t_rsu_s", "t_delivered_s", "latency_s", "in_time",
                   "t_sent_s", "repetition", "attempts", "reaction")
"""warnings.csv: one row per (hazard, addressed vehicle): the broadcast that warned it
(or, if none did, the last one tried), how many were tried, and its reaction."""


def reverse_graph(network: Network) -> csr_matrix:
    """The road graph reversed (to -> from, weighted by length) for upstream searches."""
    return csr_matrix((network.length_m, (network.to_node, network.from_node)),
                      shape=(network.n_nodes, network.n_nodes))


def upstream_links(network: Network, reverse: csr_matrix, link: int, position_m: float,
                   distance_m: float) -> BoolArray:
    """Links on which a vehicle may be within ``distance_m`` of the hazard point.

    A vehicle on link ``l`` is at least ``d(to_node[l] -> from_node[link]) + position_m``
    from the point by road (the route it drives cannot be shorter), so links beyond that
    are never addressed; the hazard link itself always may hold vehicles before it.
    """
    to_start = dijkstra(reverse, directed=True, indices=int(network.from_node[link]),
                        limit=distance_m)
    near = to_start[network.to_node] + position_m <= distance_m
    near[link] = True
    return np.asarray(near, dtype=bool)


def route_distance_m(link: int, offset_m: float, ahead: Sequence[int], hazard_link: int,
                     position_m: float, length_m: Sequence[float], limit_m: float) -> float:
    """Distance along a vehicle's route to the hazard point.

    The vehicle is ``offset_m`` along ``link``; ``ahead`` is its route after ``link``.
    d = (L_link - offset) + the lengths of the route's links before the hazard link +
    position on it; on the hazard link before the point, d = position - offset. inf
    when the route does not reach the point within ``limit_m`` of the end of ``link``
    (so it cannot come within reach while on ``link``); a finite d may still exceed
    ``limit_m`` (it comes within reach further along ``link``).
    """
    if link == hazard_link and offset_m <= position_m:
        return position_m - offset_m
    rest = 0.0
    for nxt in ahead:
        if nxt == hazard_link:
            if rest + position_m > limit_m:
                return math.inf
            return length_m[link] - offset_m + rest + position_m
        rest += length_m[nxt]
        if rest > limit_m:
            return math.inf
    return math.inf


@njit(cache=True)
def _near_and_offsets(ids: IntArray, links: IntArray, entered_s: FloatArray,
                      ready_s: FloatArray, upstream: BoolArray, done: BoolArray,
                      passed_on: IntArray, now_s: float, length_m: FloatArray,
                      ) -> tuple[IntArray, FloatArray]:  # pragma: no cover
    """Where in the senders' arrays the vehicles a broadcast may address are; their offsets.

    Addressable: on a link the hazard is within reach of (``upstream``), not yet warned
    (``done``), and not already found on this very link to pass the hazard by
    (``passed_on``). Offsets as `flows.offsets_on_link` (uniform from entry to earliest
    exit, at the link's end once past it), the same arithmetic to the last bit.
    """
    near = np.empty(ids.size, np.int64)
    offset = np.empty(ids.size)
    n = 0
    for i in range(ids.size):
        lk, v = links[i], ids[i]
        if not upstream[lk] or done[v] or passed_on[v] == lk:
            continue
        duration = ready_s[i] - entered_s[i]
        share = (now_s - entered_s[i]) / duration if duration > 0 else 1.0
        near[n] = i
        offset[n] = min(max(share, 0.0), 1.0) * length_m[lk]
        n += 1
    return near[:n], offset[:n]


@dataclass
class HazardWarnings:
    """One hazard's dissemination state.

    Attributes:
        position_m: the hazard point on its link.
        upstream: per link, whether a vehicle on it may be addressed (`upstream_links`).
        rows: addressed vehicle -> its row in the warnings table.
        warned_at: warned vehicle -> when its warning was delivered.
        reaction: warned vehicle -> what it did (`warning_reaction.Reaction` value).
    """

    position_m: float
    upstream: BoolArray
    rows: dict[int, int] = field(default_factory=dict)
    warned_at: dict[int, float] = field(default_factory=dict)
    reaction: dict[int, str] = field(default_factory=dict)
    # per vehicle id: warned already; the link it was on when its route was found not to
    # pass the hazard (-1: none), so it is walked again only once it moved on
    done: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    passed_on: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def forget_vehicles(self) -> None:
        """Drop the per-vehicle masks once the hazard is no longer broadcast."""
        self.done = np.zeros(0, dtype=bool)
        self.passed_on = np.zeros(0, dtype=np.int64)

    def fit(self, n: int) -> None:
        """Make room for vehicle ids below ``n``."""
        if n > self.done.size:
            size = max(n, 2 * self.done.size, 1024)
            self.done = np.concatenate([self.done, np.zeros(size - self.done.size, bool)])
            self.passed_on = np.concatenate([self.passed_on,
                                             np.full(size - self.passed_on.size, -1)])


class WarningTable:
    """warnings.csv as growable columns: one row per (hazard, addressed vehicle)."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in WARNING_COLUMNS}

    def put(self, state: HazardWarnings, vehicle: int, values: dict[str, Any]) -> int:
        """Write ``vehicle``'s row (a new one, or over its earlier unsuccessful try)."""
        cols = self.columns
        row = state.rows.get(vehicle)
        if row is None:
            row = state.rows[vehicle] = len(cols["hazard"])
            for name in WARNING_COLUMNS:
                cols[name].append(values.get(name))
            cols["attempts"][row] = 1
        else:
            for name, value in values.items():
                cols[name][row] = value
            cols["attempts"][row] += 1
        return row

    def set_reaction(self, row: int, reaction: str) -> None:
        """Record what the vehicle of ``row`` did."""
        self.columns["reaction"][row] = reaction

    def as_arrays(self) -> dict[str, NDArray[Any]]:
        """The columns as numpy arrays."""
        cols = dict(self.columns)
        cols["reaction"] = ["" if r is None else r for r in cols["reaction"]]
        return {name: np.asarray(values) for name, values in cols.items()}


class Broadcaster:
    """Sends one hazard's broadcasts and keeps its counts (module doc).

    Args:
        flows: the background flows (network, devices, coverage, channels, CBR, faults).
        senders: the connected vehicles on links now.
        ahead: a vehicle's route after its current link (None: routes unknown, so only
            vehicles on the hazard link before the point are addressed).
        book: latency book (kind ``hazard_warning``).
        table: warnings.csv.
        rng: the hazards' generator (PC5 draws).
        distance_m: the warning distance.
        deterministic: means-only mode.
    """

    def __init__(self, *, flows: BackgroundFlows, senders: Senders,
                 ahead: Callable[[int], list[int]] | None, book: LatencyBook,
                 table: WarningTable, rng: np.random.Generator, distance_m: float,
                 deterministic: bool) -> None:
        self.flows, self.senders, self.ahead, self.book = flows, senders, ahead, book
        self.table, self.rng = table, rng
        self.distance_m, self.deterministic = distance_m, deterministic
        net = flows.network
        self._reverse = reverse_graph(net)
        self._length = net.length_m.tolist()
        self._length_m = np.ascontiguousarray(net.length_m, np.float64)

    def state(self, link: int, position_m: float) -> HazardWarnings:
        """A hazard's dissemination state (its upstream links found once)."""
        return HazardWarnings(position_m, upstream_links(
            self.flows.network, self._reverse, link, position_m, self.distance_m))

    def addressed(self, state: HazardWarnings, link: int, now: float,
                  ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Not yet warned connected vehicles whose route reaches the hazard in range.

        Returns (ids, their links, offsets along them, route distance to the hazard).
        """
        # only the vehicles on links the hazard is within reach of (one compiled pass)
        ids, links, entered, ready = self.senders.on(state.upstream)
        if ids.size:
            state.fit(int(ids.max()) + 1)
        # who may be addressed and where along its link, in one compiled pass
        near, offset = _near_and_offsets(ids, links, entered, ready, state.upstream,
                                         state.done, state.passed_on, float(now), self._length_m)
        if not near.size:
            return ids[:0], links[:0], offset, offset
        ids, links = ids[near], links[near]
        distance = np.full(ids.size, math.inf)
        ahead, length = self.ahead, self._length
        for i, (vehicle, on) in enumerate(zip(ids.tolist(), links.tolist(), strict=True)):
            route = ahead(vehicle) if ahead is not None else []
            distance[i] = route_distance_m(on, float(offset[i]), route, link,
                                           state.position_m, length, self.distance_m)
        keep = distance <= self.distance_m
        # a route that does not reach the hazard within the distance from this link's
        # end will not while the vehicle stays on it: walked again on its next link
        beyond = distance == math.inf
        state.passed_on[ids[beyond]] = links[beyond]
        return ids[keep], links[keep], offset[keep], distance[keep]

    def send(self, record: Any, state: HazardWarnings, repetition: int,
             ) -> list[tuple[float, int, int]]:
        """One broadcast now; returns (delivery time, vehicle, row) of newly warned ones."""
        flows, cov, dev = self.flows, self.flows.coverage, self.flows.devices
        book, kind = self.book, MessageKind.HAZARD_WARNING
        now = flows.env.now
        ids, links, offset, distance = self.addressed(state, record.link, now)
        record.broadcasts += 1
        book.count_sent(kind, ids.size)
        if ids.size == 0:
            return []
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
        book.count_lost(kind, int((~covered).sum()), "no_coverage")
        book.count_lost(kind, int((covered & ~ok).sum()), "radio")
        if flows.faults is not None and ok.any():  # a silent RSU broadcasts nothing
            ok &= flows.faults.drop(book, int(kind), np.where(
                ok, flows.faults.rsu_down(np.maximum(rsu, 0), now + down, dev.edge), -1))
        t_rsu = now + down
        delivered_at = t_rsu + air
        born = record.detect_s if repetition == 0 else now
        latency = delivered_at - born
        arrived = ok & (delivered_at <= flows.horizon_s)
        book.count_in_flight(kind, int((ok & ~arrived).sum()))
        if arrived.any():
            book.add_delivered(kind, latency[arrived])
            book.add_hop(kind, Hop.AIR, air[arrived])
            n = int(arrived.sum())
            if repetition == 0:
                uplink = record.edge_arrival_s - record.detect_s
                book.add_hop(kind, Hop.BACKHAUL, uplink + down[arrived])
                book.add_hop(kind, Hop.QUEUE,
                             np.full(n, record.edge_start_s - record.edge_arrival_s))
                book.add_hop(kind, Hop.PROCESSING,
                             np.full(n, record.edge_done_s - record.edge_start_s))
            else:
                book.add_hop(kind, Hop.BACKHAUL, down[arrived])
            if flows.faults is not None:  # split by "began in a fault window"
                flows.faults.record_latency("hazard_warning", np.full(n, record.start_s),
                                            latency[arrived])
        in_time = arrived & (latency <= float(book.deadline_s[kind]))
        record.delivered += int(arrived.sum())
        record.in_time += int(in_time.sum())
        fresh = []
        common = {"hazard": record.hazard, "t_hazard_s": record.start_s,
                  "t_detect_s": record.detect_s, "t_edge_arrival_s": record.edge_arrival_s,
                  "t_edge_start_s": record.edge_start_s, "t_edge_done_s": record.edge_done_s,
                  "t_sent_s": now, "repetition": repetition}
        for i, vehicle in enumerate(ids.tolist()):
            got = bool(arrived[i])
            row = self.table.put(state, vehicle, {
                **common, "vehicle": vehicle, "distance_m": float(distance[i]),
                "rsu": int(rsu[i]), "delivered": got, "t_rsu_s": float(t_rsu[i]),
                "t_delivered_s": float(delivered_at[i]) if got else math.nan,
                "latency_s": float(latency[i]) if got else math.nan,
                "in_time": bool(in_time[i])})
            if got:
                state.done[vehicle] = True
                state.warned_at[vehicle] = float(delivered_at[i])
                fresh.append((float(delivered_at[i]), vehicle, row))
        record.upstream_vehicles = len(state.rows)
        return fresh
