"""The edge's link estimates from its sensors' readings (never from the road model).

What the edge knows without measuring is the map and the signal timing its RSUs
broadcast (`RoadFacts`): length, lanes, free speed, saturation flow, jam density, cycle
and effective green per link, and its sensors' specifications (miss probability, ghost
rate). From the zone readings of one snapshot it estimates, per watched link:

* density: ``k = (sum of counts - expected ghosts) / (1 - miss) / watched length``,
  per metre over all lanes (unbiased for the sensors' stated noise);
* running speed: the mean spot speed of the moving vehicles detected (a snapshot's
  arithmetic mean is the space-mean speed), or the free speed when none moves;
* the queue it sees: when a zone sees a standing vehicle, the queue reaches from the
  link's end back to the farthest-upstream one: ``(L - tail) * lanes * k_jam``
  vehicles (what it cannot see between the zone and the end is assumed queued too);
* the rate the queue drains: where a zone reaches the link's end, the vehicles it saw
  leave while a queue stood there over the time it stood (fading over a minute;
  `EdgeSensing`), which takes in lanes closed, the green share and downstream
  blocking as they are; elsewhere the nominal saturation flow times the green share,
  or what the links leaving its end can take in if that is less (a lane drop);
* travel time ``T = L / v + wait``: running time over the whole link at the speed seen
  on the watched part, plus ``queue / drain`` when a queue is seen, else (at a signal)
  the mean wait for green of a vehicle arriving at a random instant, ``(C - g)^2 /
  (2 C)``. Averaged over a signal's cycle, ``queue / drain`` with the drain measured
  while the queue stands is Webster's delay (Little's law: mean queue = arrivals x
  delay, and that drain equals the arrival rate when the approach is undersaturated).

Assumptions (where the estimate can go wrong): the watched part's speed holds for the
whole link; a queue that reaches no zone is not seen, and where no zone sees the link's
end its drain is the nominal one (an incident's closed lanes are then not known); a
snapshot taken during red sees the red's queue, so single estimates swing with the
cycle (the belief's smoothing averages them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from v2x_sim.compute.estimate_kernel import estimate_kernel
from v2x_sim.compute.sensors import (
    Exits,
    Positions,
    SensorZones,
    ZoneReadings,
    read_zones,
    reverse_links,
)
from v2x_sim.road.network import Network

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DRAIN_MEMORY_S = 120.0
"""Time constant over which measured discharge fades (about a signal cycle or more)."""
MIN_QUEUE_TIME_S = 10.0
"""Queue time a stop-line zone must have watched before its measured drain is used."""
_EMPTY = np.zeros(0)


@dataclass(frozen=True, eq=False)
class RoadFacts:
    """What the edge knows of each link without measuring it (map and signal timing).

    ``onward_vps`` is the capacity of the links leaving a link's end (U-turns left
    out; inf at a dead end): a queue cannot drain faster than they take vehicles in.
    """

    length_m: FloatArray
    lanes: FloatArray
    free_speed_mps: FloatArray
    saturation_vps: FloatArray
    jam_density_vpm_per_lane: FloatArray
    cycle_s: FloatArray
    green_s: FloatArray
    onward_vps: FloatArray

    @classmethod
    def of(cls, network: Network, cycle_s: FloatArray | None = None,
           green_s: FloatArray | None = None) -> RoadFacts:
        """From the network and the signal plan's cycle and effective green (0: none)."""
        n = network.n_links
        lanes = network.lanes.astype(np.float64)
        capacity = network.capacity_vps_per_lane * lanes
        # what the links leaving each link's end can take in (U-turns back left out)
        leaving = np.bincount(network.from_node, weights=capacity, minlength=network.n_nodes)
        back = reverse_links(network)
        onward = leaving[network.to_node] - np.where(back >= 0, capacity[np.maximum(back, 0)],
                                                     0.0)
        return cls(length_m=network.length_m, lanes=lanes,
                   free_speed_mps=network.free_speed_mps, saturation_vps=capacity,
                   jam_density_vpm_per_lane=network.jam_density_vpm_per_lane,
                   cycle_s=np.zeros(n) if cycle_s is None else np.asarray(cycle_s, np.float64),
                   green_s=np.zeros(n) if green_s is None else np.asarray(green_s, np.float64),
                   onward_vps=np.where(onward > 0, onward, np.inf))

    @cached_property
    def columns(self) -> tuple[FloatArray, ...]:
        """The columns as `estimate_kernel` takes them (float64, built once)."""
        return tuple(np.ascontiguousarray(c, np.float64) for c in (
            self.length_m, self.lanes, self.free_speed_mps, self.saturation_vps,
            self.jam_density_vpm_per_lane, self.cycle_s, self.green_s, self.onward_vps))


@dataclass(frozen=True, eq=False)
class LinkEstimates:
    """Per-link estimates; ``measured`` marks the links some zone of the subset watches."""

    travel_time_s: FloatArray
    density_vpm: FloatArray
    measured: BoolArray

    @property
    def links(self) -> IntArray:
        """Indices of the measured links."""
        return np.flatnonzero(self.measured)


def estimate_links(zones: SensorZones, readings: ZoneReadings, road: RoadFacts,
                   use: BoolArray | None = None, *,
                   drain_vps: FloatArray | None = None) -> LinkEstimates:
    """Travel time and density of every link the zones in ``use`` watch (module doc).

    Args:
        zones: the sensors' zones.
        readings: one snapshot of them (`sensors.read_zones`).
        road: the map and signal timing.
        use: which zones to use (e.g. those whose frames one edge node processed).
        drain_vps: measured discharge per zone (NaN where unknown; the nominal
            saturation flow times the green share then).
    """
    group = np.zeros(len(zones), np.int64) if use is None else np.where(use, 0, -1)
    travel, density, measured = estimate_grouped(zones, readings, road, group, 1,
                                                 drain_vps=drain_vps)
    return LinkEstimates(travel_time_s=travel[0], density_vpm=density[0], measured=measured[0])


def estimate_grouped(zones: SensorZones, readings: ZoneReadings, road: RoadFacts,
                     group: IntArray, n_groups: int, *, drain_vps: FloatArray | None = None,
                     ) -> tuple[FloatArray, FloatArray, BoolArray]:
    """`estimate_links` for several zone subsets at once: (travel, density, measured).

    Zone ``z`` belongs to subset ``group[z]`` (-1: none); each result has one row per
    subset, so every edge node's estimates cost one pass over the zones (one compiled
    call, `estimate_kernel`).
    """
    corrected = (readings.count - zones.ghost_mean) / (1.0 - zones.miss_probability)
    as_float = np.asarray
    return estimate_kernel(
        np.asarray(group, np.int64), n_groups, np.asarray(zones.link, np.int64),
        as_float(zones.length_m, np.float64), as_float(corrected, np.float64),
        as_float(readings.moving, np.float64), as_float(readings.speed_sum_mps, np.float64),
        as_float(readings.tail_m, np.float64),
        _EMPTY if drain_vps is None else np.asarray(drain_vps, np.float64),
        drain_vps is not None, road.columns)


class EdgeSensing:
    """The sensors' readings and each edge node's estimates: the content of aggregates.

    Keeps, per zone that reaches its link's end, how many vehicles it saw leave while a
    queue stood there and for how long (both fading with `DRAIN_MEMORY_S`): the drain
    rate it measures (`drain_vps`).

    Args:
        zones: the sensors' zones.
        road: the map and signal timing.
        positions: every vehicle on a link now (injected from the traffic side).
        exits: the links vehicles left since the previous call (injected likewise).
        rng: the sensors' own random stream (noise), unused in deterministic mode.
        deterministic: readings at their expected values.
        interval_s: how often sensors report to their edge node (the aggregates'
            period): a snapshot asked for sooner returns the last one.
    """

    def __init__(self, zones: SensorZones, road: RoadFacts, positions: Positions,
                 exits: Exits | None, rng: np.random.Generator, *, deterministic: bool,
                 interval_s: float = 0.0) -> None:
        self.zones, self.road, self.positions, self.exits = zones, road, positions, exits
        self.rng = None if deterministic else rng
        self.interval_s = interval_s
        self._readings: ZoneReadings | None = None
        self._n_edges = int(zones.edge.max()) + 1 if len(zones) else 0
        self._estimates: tuple[ZoneReadings, FloatArray, FloatArray, BoolArray] | None = None
        self._content: tuple[ZoneReadings | None, dict[int, tuple[IntArray, FloatArray,
                                                                  FloatArray]]] = (None, {})
        n = len(zones)
        self._last_s: float | None = None
        self._queued = np.zeros(n, bool)
        self._left = np.zeros(n)
        self._queue_s = np.zeros(n)

    def snapshot(self, now_s: float) -> ZoneReadings:
        """What every zone sees at ``now_s`` (the current simulated time).

        Sensors report every ``interval_s``: within that of the last snapshot, the last
        one is returned (the edge aggregates what it has).
        """
        if (self._readings is not None and self._last_s is not None
                and now_s < self._last_s + self.interval_s - 1e-9):
            return self._readings
        link, offset, speed = self.positions()
        exit_link = self.exits() if self.exits is not None else None
        readings = read_zones(self.zones, link, offset, speed, self.rng, exit_link)
        self._learn(now_s, readings)
        self._readings = readings
        return readings

    def _learn(self, now_s: float, readings: ZoneReadings) -> None:
        queued = self.zones.at_end & (readings.stopped > 0)
        if self._last_s is not None:
            fade = math.exp(-(now_s - self._last_s) / DRAIN_MEMORY_S)
            self._left *= fade
            self._queue_s *= fade
            both = queued & self._queued  # a queue stood through the whole interval
            self._left[both] += readings.exits[both]
            self._queue_s[both] += now_s - self._last_s
        self._queued = queued
        self._last_s = now_s

    def drain_vps(self) -> FloatArray:
        """Measured discharge per zone while its queue stood (NaN: not enough seen).

        Vehicles seen leaving (misses divided out; at least half a vehicle, so a link
        that lets nobody go still drains slowly rather than never) over the time a queue
        stood, once that time reaches `MIN_QUEUE_TIME_S`.
        """
        seen = self._queue_s >= MIN_QUEUE_TIME_S
        left = np.maximum(self._left / (1.0 - self.zones.miss_probability), 0.5)
        return np.where(seen, left / np.where(seen, self._queue_s, 1.0), np.nan)

    def latest(self, edge: int) -> tuple[ZoneReadings, FloatArray] | None:
        """``edge``'s travel-time estimates from the last snapshot, with that snapshot.

        NaN where its sensors watch nothing; None before the first snapshot. Takes no
        new snapshot (the fast loop reads what the edge already has).
        """
        if self._readings is None:
            return None
        return self._readings, self.estimate(edge, self._readings).travel_time_s

    def estimate(self, edge: int, readings: ZoneReadings) -> LinkEstimates:
        """The links that ``edge``'s sensors watch, estimated from ``readings``.

        Every edge node's estimates of one snapshot are computed together, once.
        """
        cached = self._estimates
        if cached is None or cached[0] is not readings:
            travel, density, measured = estimate_grouped(
                self.zones, readings, self.road, self.zones.edge, self._n_edges,
                drain_vps=self.drain_vps())
            cached = self._estimates = (readings, travel, density, measured)
        if edge >= self._n_edges:
            n = self.road.length_m.size
            return LinkEstimates(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool))
        return LinkEstimates(travel_time_s=cached[1][edge], density_vpm=cached[2][edge],
                             measured=cached[3][edge])

    def measured(self, edge: int, readings: ZoneReadings) -> tuple[IntArray, FloatArray,
                                                                    FloatArray]:
        """What an aggregate of ``edge`` carries: (links, travel times, densities).

        The links its sensors watch and their estimates from ``readings``. Every edge
        node's content of one snapshot is cut at once (one ``nonzero`` over the edges'
        estimates, one gather per column) and kept with the snapshot, since the
        aggregates of a reading round all ask for it (read-only views, shared by the
        aggregates of that round).
        """
        held, by_edge = self._content
        if held is not readings:
            by_edge = self._contents(readings)
            self._content = (readings, by_edge)
        content = by_edge.get(edge)
        if content is None:  # an edge node no sensor reports to: it measures nothing
            estimate = self.estimate(edge, readings)
            links = estimate.links
            content = by_edge[edge] = (links, estimate.travel_time_s[links],
                                       estimate.density_vpm[links])
        return content

    def _contents(self, readings: ZoneReadings) -> dict[int, tuple[IntArray, FloatArray,
                                                                  FloatArray]]:
        """`measured` of every edge node with sensors, from one snapshot (see there)."""
        self.estimate(0, readings)  # every edge node's estimates of the snapshot, cached
        cached = self._estimates
        if cached is None or not self._n_edges:
            return {}
        _, travel, density, measured = cached
        edge, link = np.nonzero(measured)  # row by row: each edge's links ascending
        travel_of, density_of = travel[edge, link], density[edge, link]
        cuts = np.searchsorted(edge, np.arange(self._n_edges + 1)).tolist()
        return {e: (link[a:b], travel_of[a:b], density_of[a:b])
                for e, (a, b) in enumerate(pairwise(cuts))}
