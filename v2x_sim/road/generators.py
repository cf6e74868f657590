"""Synthetic networks: an arterial grid, an expressway corridor, the demonstration zone.

All generators make two-way roads (one directed link per direction) with straight-line
lengths between node coordinates.
"""

from __future__ import annotations

import math

import numpy as np

from v2x_sim.road.network import Network, RoadClass, build_network
from v2x_sim.scenario.road_sections import (
    CorridorParams,
    DemoZoneParams,
    GridParams,
    RoadClassParams,
)

KMH = 1.0 / 3.6


class _Builder:
    """Collects nodes and two-way roads, then makes a `Network`."""

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []
        self.links: list[tuple[int, int, RoadClassParams, RoadClass]] = []

    def node(self, x_m: float, y_m: float) -> int:
        self.x.append(x_m)
        self.y.append(y_m)
        return len(self.x) - 1

    def road(self, a: int, b: int, params: RoadClassParams, road_class: RoadClass) -> None:
        self.links.append((a, b, params, road_class))
        self.links.append((b, a, params, road_class))

    def build(self) -> Network:
        x, y = np.array(self.x), np.array(self.y)
        frm = np.array([a for a, _, _, _ in self.links], dtype=np.int64)
        to = np.array([b for _, b, _, _ in self.links], dtype=np.int64)
        params = [p for _, _, p, _ in self.links]
        return build_network(
            x_m=x,
            y_m=y,
            from_node=frm,
            to_node=to,
            length_m=np.hypot(x[to] - x[frm], y[to] - y[frm]),
            lanes=[p.lanes for p in params],
            free_speed_mps=[p.free_speed_kmh * KMH for p in params],
            capacity_vps_per_lane=[p.capacity_vph_per_lane / 3600.0 for p in params],
            jam_density_vpm_per_lane=[p.jam_density_vpkm_per_lane / 1000.0 for p in params],
            road_class=[int(c) for _, _, _, c in self.links],
        )


def _grid_nodes(b: _Builder, rows: int, cols: int, spacing_m: float) -> list[list[int]]:
    return [[b.node(c * spacing_m, r * spacing_m) for c in range(cols)] for r in range(rows)]


def _grid_roads(b: _Builder, ids: list[list[int]], params: RoadClassParams) -> None:
    rows, cols = len(ids), len(ids[0])
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:
                b.road(ids[r][c], ids[r][c + 1], params, RoadClass.ARTERIAL)
            if r + 1 < rows:
                b.road(ids[r][c], ids[r + 1][c], params, RoadClass.ARTERIAL)


def grid(params: GridParams) -> Network:
    """A rows x cols arterial grid; node id ``row * cols + col`` at (col, row) x spacing."""
    b = _Builder()
    ids = _grid_nodes(b, params.rows, params.cols, params.spacing_m)
    _grid_roads(b, ids, params.arterial)
    return b.build()


def corridor(params: CorridorParams) -> Network:
    """An expressway (nodes 0..S along y = 0) beside an arterial (nodes S+1..2S+1 at y = offset).

    Connectors join each expressway node to the arterial node beside it, so every
    expressway segment has a parallel arterial alternative: the classic rerouting bed.
    """
    b = _Builder()
    s, seg = params.segments, params.segment_length_m
    expressway = [b.node(i * seg, 0.0) for i in range(s + 1)]
    arterial = [b.node(i * seg, params.offset_m) for i in range(s + 1)]
    for i in range(s):
        b.road(expressway[i], expressway[i + 1], params.expressway, RoadClass.EXPRESSWAY)
        b.road(arterial[i], arterial[i + 1], params.arterial, RoadClass.ARTERIAL)
    for i in range(s + 1):
        b.road(expressway[i], arterial[i], params.connector, RoadClass.RAMP)
    return b.build()


def demo_zone(params: DemoZoneParams) -> Network:
    """The demonstration zone: an arterial grid with an expressway spine and interchanges.

    Grid node ``r * cols + c`` sits at (c, r) x spacing; the spine runs east-west halfway
    between the two middle rows (nodes ``rows * cols + c``), with ramps to the grid row
    below it every ``interchange_every`` columns. Defaults give ~207 km counting both
    directions (the real zone has "over 200 km"); ``scale`` multiplies the area.
    """
    factor = math.sqrt(params.scale)
    rows = max(2, round(params.rows * factor))
    cols = max(2, round(params.cols * factor))
    b = _Builder()
    ids = _grid_nodes(b, rows, cols, params.spacing_m)
    _grid_roads(b, ids, params.arterial)
    spine_y = (rows // 2 - 0.5) * params.spacing_m
    spine = [b.node(c * params.spacing_m, spine_y) for c in range(cols)]
    for c in range(cols - 1):
        b.road(spine[c], spine[c + 1], params.expressway, RoadClass.EXPRESSWAY)
    for c in range(0, cols, params.interchange_every):
        b.road(spine[c], ids[rows // 2 - 1][c], params.ramp, RoadClass.RAMP)
        b.road(spine[c], ids[rows // 2][c], params.ramp, RoadClass.RAMP)
    return b.build()
