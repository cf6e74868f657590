"""Roadside sensors: the zone each one watches and what it measures there, with noise.

A sensor stands at a place on a road and watches that road, both directions, up to its
range either side of where it stands (clipped to the link): each (sensor, directed
link) pair is a *zone*. It does not see the rest of the link, nor other roads. A
reading of a zone is a snapshot of the vehicles in it:

* ``count``: vehicles detected (each missed with the sensor's ``miss_probability``)
  plus ghost tracks (false detections: they appear at ``false_per_hour``; each lasts
  as long as a free-flowing vehicle needs to cross the zone, so by Little's law a
  snapshot holds a Poisson number with mean rate x zone length / free speed);
* ``moving`` and ``speed_sum_mps``: the detected vehicles that move and the sum of
  their spot speeds, each off by a normal error of ``speed_sigma_mps`` (ghosts move at
  the free speed, with the same error);
* ``stopped`` and ``tail_m``: detected vehicles standing (a track that does not move;
  no speed error) and the position of the one farthest upstream (NaN when none);
* ``occupancy``: share of the zone's lane length that detected vehicles cover;
* ``exits``: for a zone reaching the link's end (a stop-line view), the vehicles seen
  leaving the link since the previous reading (each missed likewise).

No sensor reports a link's travel time: the edge estimates it (`estimator`). In
deterministic mode every reading is its expected value (counts become fractional).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from v2x_sim.compute.roadside import Devices
from v2x_sim.compute.sensor_kernel import extras_kernel, read_kernel
from v2x_sim.road.network import Network

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Positions = Callable[[], tuple[IntArray, FloatArray, FloatArray]]
"""Every vehicle on a link now: (link, offset along it in m, speed in m/s; 0 standing)."""
Exits = Callable[[], IntArray]
"""The link of every traversal completed since the previous call (who left which link)."""

ZONE_CELL_M = 50.0
"""Cell length of the index from positions along a link to the zones covering them."""
MIN_SPOT_SPEED_MPS = 0.5
"""A moving vehicle's measured speed is never reported below this (noise can't reverse it)."""


@dataclass(frozen=True, eq=False)
class SensorZones:
    """Every zone as arrays, sorted by link.

    Attributes:
        sensor: device index of the sensor watching the zone.
        link: the directed link the zone lies on.
        lo_m, hi_m: the watched stretch, metres from the link's start.
        edge: edge node that receives the sensor's frames.
        speed_sigma_mps, miss_probability, false_per_hour: the sensor's noise.
        free_speed_mps, lanes, vehicle_length_m: of the zone's link (for ghosts, occupancy).
        at_end: whether the zone reaches the link's end (it sees vehicles leave).
        first: CSR offsets: zones of link ``l`` are rows ``first[l]:first[l+1]``.
        cell_first: first `ZONE_CELL_M` cell of each link (and the total at the end).
        cell_ptr, cell_zone: CSR from each cell to the zones that overlap it, so a
            vehicle is checked against a few zones, not every zone of its link.
    """

    sensor: IntArray
    link: IntArray
    lo_m: FloatArray
    hi_m: FloatArray
    edge: IntArray
    speed_sigma_mps: FloatArray
    miss_probability: FloatArray
    false_per_hour: FloatArray
    free_speed_mps: FloatArray
    lanes: FloatArray
    vehicle_length_m: FloatArray
    at_end: BoolArray
    first: IntArray
    cell_first: IntArray
    cell_ptr: IntArray
    cell_zone: IntArray

    @property
    def length_m(self) -> FloatArray:
        """Length of road each zone watches."""
        return self.hi_m - self.lo_m

    def __len__(self) -> int:
        return int(self.link.size)

    @cached_property
    def cell_span(self) -> IntArray:
        """Cells per link (the zones never move: computed once, not per reading)."""
        return np.diff(self.cell_first)

    @cached_property
    def ghost_mean(self) -> FloatArray:
        """Expected ghost tracks per snapshot per zone: rate x length / free speed."""
        return self.false_per_hour / 3600.0 * self.length_m / self.free_speed_mps

    @cached_property
    def ghost_cum(self) -> FloatArray:
        """Running sum of `ghost_mean` over the zones (to place a snapshot's ghosts)."""
        return np.cumsum(self.ghost_mean)

    @cached_property
    def lane_length_m(self) -> FloatArray:
        """Lane length each zone watches (length x lanes), occupancy's denominator."""
        return self.length_m * self.lanes


def reverse_links(network: Network) -> IntArray:
    """The opposite direction of each link (to -> from), or -1 where there is none."""
    n = network.n_nodes
    key = network.from_node.astype(np.int64) * n + network.to_node
    back = network.to_node.astype(np.int64) * n + network.from_node
    order = np.argsort(key, kind="stable")
    at = np.minimum(np.searchsorted(key[order], back), key.size - 1)
    found = key[order][at] == back
    return np.where(found, order[at], -1)


def build_zones(network: Network, devices: Devices) -> SensorZones:
    """The zones of every sensor: its range either side of it, on both directions."""
    sensors = devices.sensors
    link = devices.link[sensors]
    at = devices.offset_m[sensors]
    reach = devices.range_m[sensors]
    rev = reverse_links(network)[link]
    has_rev = rev >= 0
    rev_at = network.length_m[np.maximum(rev, 0)] - at
    zone_sensor = np.concatenate([sensors, sensors[has_rev]])
    zone_link = np.concatenate([link, rev[has_rev]])
    centre = np.concatenate([at, rev_at[has_rev]])
    radius = np.concatenate([reach, reach[has_rev]])
    length = network.length_m[zone_link]
    lo = np.clip(centre - radius, 0.0, length)
    hi = np.clip(centre + radius, 0.0, length)
    keep = hi > lo
    order = np.argsort(zone_link[keep], kind="stable")
    zone_sensor, zone_link = zone_sensor[keep][order], zone_link[keep][order]
    lo, hi = lo[keep][order], hi[keep][order]
    first = np.concatenate(([0], np.cumsum(np.bincount(zone_link, minlength=network.n_links))))
    jam = network.jam_density_vpm_per_lane[zone_link]
    n_cells = np.maximum(1, np.ceil(network.length_m / ZONE_CELL_M).astype(np.int64))
    cell_first = np.concatenate(([0], np.cumsum(n_cells))).astype(np.int64)
    top = n_cells[zone_link] - 1
    c_lo = np.minimum((lo / ZONE_CELL_M).astype(np.int64), top)
    c_hi = np.minimum((hi / ZONE_CELL_M).astype(np.int64), top)
    span = c_hi - c_lo + 1
    owner = np.repeat(np.arange(zone_link.size), span)
    step = np.arange(owner.size) - np.repeat(np.cumsum(span) - span, span)
    cell = cell_first[zone_link][owner] + c_lo[owner] + step
    order_c = np.argsort(cell, kind="stable")
    cell_ptr = np.concatenate(([0], np.cumsum(np.bincount(cell, minlength=cell_first[-1]))))
    return SensorZones(
        sensor=zone_sensor, link=zone_link, lo_m=lo, hi_m=hi, edge=devices.edge[zone_sensor],
        speed_sigma_mps=devices.speed_sigma_mps[zone_sensor],
        miss_probability=devices.miss_probability[zone_sensor],
        false_per_hour=devices.false_per_hour[zone_sensor],
        free_speed_mps=network.free_speed_mps[zone_link],
        lanes=network.lanes[zone_link].astype(np.float64), vehicle_length_m=1.0 / jam,
        at_end=hi >= network.length_m[zone_link] - 1e-6, first=first.astype(np.int64),
        cell_first=cell_first, cell_ptr=cell_ptr.astype(np.int64),
        cell_zone=owner[order_c].astype(np.int64))


def watched_links(zones: SensorZones, n_links: int) -> tuple[IntArray, IntArray]:
    """Links some zone lies on, and the edge node of the first zone on each."""
    links = np.flatnonzero(np.diff(zones.first) > 0)
    return links, zones.edge[zones.first[links]]


def watched_length_m(zones: SensorZones, length_m: FloatArray) -> FloatArray:
    """Road length each link has inside at least one zone (overlaps counted once)."""
    watched = np.zeros(length_m.size)
    for lk in np.flatnonzero(np.diff(zones.first) > 0).tolist():
        rows = slice(zones.first[lk], zones.first[lk + 1])
        lo, hi = zones.lo_m[rows], zones.hi_m[rows]
        order = np.argsort(lo)
        end = -np.inf
        for a, b in zip(lo[order].tolist(), hi[order].tolist(), strict=True):
            start = max(a, end)
            if b > start:
                watched[lk] += b - start
            end = max(end, b)
    return watched


@dataclass(frozen=True, eq=False)
class ZoneReadings:
    """One snapshot of every zone (see the module docstring); arrays over zones."""

    count: FloatArray
    moving: FloatArray
    speed_sum_mps: FloatArray
    stopped: FloatArray
    tail_m: FloatArray
    occupancy: FloatArray
    exits: FloatArray


def read_zones(zones: SensorZones, link: IntArray, offset_m: FloatArray, speed_mps: FloatArray,
               rng: np.random.Generator | None,
               exit_link: IntArray | None = None) -> ZoneReadings:
    """What every zone sees of the vehicles given; ``rng=None`` gives expected values.

    Args:
        zones: the sensors' zones.
        link: the link of every vehicle on a link.
        offset_m: its position, metres from the link's start.
        speed_mps: its speed (0: standing in the exit queue).
        rng: the sensors' random stream, or None for the deterministic mode.
        exit_link: the link of each vehicle that left one since the previous reading.
    """
    n = len(zones)
    link = np.asarray(link, np.int64)
    span = zones.cell_span[link]
    cell = zones.cell_first[link] + np.clip((offset_m / ZONE_CELL_M).astype(np.int64), 0,
                                            span - 1)
    pairs = int((zones.cell_ptr[cell + 1] - zones.cell_ptr[cell]).sum())
    uniform = rng.random(pairs) if rng is not None else np.zeros(0)
    normal = rng.standard_normal(pairs) if rng is not None else np.zeros(0)
    count, moving, speed_sum, stopped, tail = read_kernel(
        rng is not None, MIN_SPOT_SPEED_MPS, cell, zones.cell_ptr, zones.cell_zone,
        zones.lo_m, zones.hi_m, zones.miss_probability, zones.speed_sigma_mps,
        np.asarray(offset_m, np.float64), np.asarray(speed_mps, np.float64), uniform, normal)
    left = (np.bincount(exit_link, minlength=zones.first.size - 1)[zones.link]
            if exit_link is not None and exit_link.size else None)
    kept = 1.0 - zones.miss_probability
    if rng is None:
        ghost_mean = zones.ghost_mean
        count += ghost_mean
        moving += ghost_mean
        speed_sum += ghost_mean * zones.free_speed_mps
        exits = np.where(zones.at_end, left * kept, 0.0) if left is not None else np.zeros(n)
        occupancy = count * zones.vehicle_length_m / zones.lane_length_m
        return ZoneReadings(count=count, moving=moving, speed_sum_mps=speed_sum,
                            stopped=stopped, tail_m=tail, occupancy=occupancy, exits=exits)
    # ghosts: one Poisson total over the zones, each placed with probability proportional
    # to its zone's rate (the same law as an independent Poisson count per zone)
    cum = zones.ghost_cum
    total = float(cum[-1]) if n else 0.0
    ghost_u = rng.random(rng.poisson(total) if total > 0 else 0) * total
    ghost_normal = rng.standard_normal(ghost_u.size)
    # each zone reaching its link's end sees the link's leavers, each missed alike; a
    # zone that nobody passed draws nothing (numpy's binomial of 0 takes no random
    # number), so drawing for the others only leaves the stream as one call over all
    exit_zone, exit_seen = np.zeros(0, np.int64), np.zeros(0)
    if left is not None:
        passed = np.flatnonzero(left > 0)
        seen = rng.binomial(left[passed], kept[passed]).astype(np.float64)
        at_end = zones.at_end[passed]
        exit_zone, exit_seen = passed[at_end], seen[at_end]
    occupancy, exits = extras_kernel(count, moving, speed_sum, cum, ghost_u, ghost_normal,
                                     zones.free_speed_mps, zones.speed_sigma_mps, exit_zone,
                                     exit_seen, zones.vehicle_length_m, zones.lane_length_m)
    return ZoneReadings(count=count, moving=moving, speed_sum_mps=speed_sum, stopped=stopped,
                        tail_m=tail, occupancy=occupancy, exits=exits)
