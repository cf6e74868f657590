"""Roadside devices: placement along the roads, radio coverage, edge regions.

Devices sit beside roads (one set per two-way road, not per direction). Vehicles are
located by a coverage table: every directed link is cut into `CELL_M` cells, and each
cell knows its nearest RSU in range (the one that receives its BSMs) and up to
`MAX_HEARD` RSUs in range (whose channels its transmissions load). A vehicle's cell is
an integer lookup, so thousands of senders are placed per tick in a few numpy calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.network import Network
from v2x_sim.scenario.v2x_sections import EdgeSection, Placement, RoadsideSection, SensorKind

CELL_M = 25.0
MAX_HEARD = 4
RSU = 0
SENSOR_CODES = {SensorKind.CAMERA: 1, SensorKind.RADAR: 2, SensorKind.LIDAR: 3}
DEVICE_NAMES = ("rsu", "camera", "radar", "lidar")

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def undirected_roads(network: Network) -> IntArray:
    """One link per two-way road (the one with from < to, or the only direction)."""
    n = network.n_nodes
    forward = network.from_node * n + network.to_node
    backward = network.to_node * n + network.from_node
    has_reverse = np.isin(forward, backward)
    return np.flatnonzero(~has_reverse | (network.from_node < network.to_node))


def point_on_link(network: Network, link: IntArray, offset_m: FloatArray) -> tuple[
        FloatArray, FloatArray]:
    """Coordinates of points ``offset_m`` along links (straight between end nodes)."""
    share = offset_m / network.length_m[link]
    x0, y0 = network.x_m[network.from_node[link]], network.y_m[network.from_node[link]]
    x1, y1 = network.x_m[network.to_node[link]], network.y_m[network.to_node[link]]
    return x0 + share * (x1 - x0), y0 + share * (y1 - y0)


def place_along_roads(network: Network, placement: Placement, path: str) -> tuple[
        IntArray, FloatArray]:
    """(link, offset) of devices every ``spacing`` metres, or ``count`` evenly spread.

    The roads are taken end to end, so a road shorter than the spacing may get none.
    """
    roads = undirected_roads(network)
    lengths = network.length_m[roads]
    total = float(lengths.sum())
    if placement.mode == "count":
        count = placement.count
        if count == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        spacing = total / count
    else:
        spacing = placement.spacing_m
        count = int(total / spacing + 0.5)
    if count > 2_000_000:
        raise ScenarioError(f"{path}.placement", placement.spacing_m,
                            f"would place {count:,} devices; use a larger spacing")
    at = (np.arange(count) + 0.5) * spacing
    ends = np.cumsum(lengths)
    road = np.minimum(np.searchsorted(ends, at, side="right"), len(roads) - 1)
    offset = np.clip(at - (ends[road] - lengths[road]), 0.0, lengths[road])
    return roads[road], offset


def snap_to_links(network: Network, x_m: FloatArray, y_m: FloatArray) -> tuple[
        IntArray, FloatArray]:
    """Nearest link and offset along it for each point (orthogonal projection)."""
    roads = undirected_roads(network)
    ax, ay = network.x_m[network.from_node[roads]], network.y_m[network.from_node[roads]]
    bx, by = network.x_m[network.to_node[roads]], network.y_m[network.to_node[roads]]
    dx, dy = bx - ax, by - ay
    norm = np.maximum(dx * dx + dy * dy, 1e-12)
    t = np.clip(((x_m[:, None] - ax) * dx + (y_m[:, None] - ay) * dy) / norm, 0.0, 1.0)
    dist = np.hypot(ax + t * dx - x_m[:, None], ay + t * dy - y_m[:, None])
    best = dist.argmin(axis=1)
    rows = np.arange(len(x_m))
    return roads[best], t[rows, best] * network.length_m[roads[best]]


def _place(network: Network, placement: Placement, path: str) -> tuple[IntArray, FloatArray]:
    if placement.mode == "list":
        x = np.array([p.x_m for p in placement.positions])
        y = np.array([p.y_m for p in placement.positions])
        return snap_to_links(network, x, y)
    return place_along_roads(network, placement, path)


@dataclass(frozen=True, eq=False)
class Devices:
    """All roadside devices as arrays; RSUs come first (indices 0..n_rsu-1).

    Attributes:
        kind: 0 RSU, 1 camera, 2 radar, 3 lidar (see `DEVICE_NAMES`).
        link, offset_m: where along which link the device stands.
        x_m, y_m: its coordinates.
        range_m: radio range (RSU) or detection range (sensor).
        detection_probability: per frame, sensors only (1 for RSUs).
        frame_rate_hz: sensors only (0 for RSUs).
        rsu: the RSU a device sends through (an RSU's own index for RSUs).
        edge: the edge node serving the device.
    """

    kind: IntArray
    link: IntArray
    offset_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    range_m: FloatArray
    detection_probability: FloatArray
    frame_rate_hz: FloatArray
    rsu: IntArray
    edge: IntArray
    edge_x_m: FloatArray
    edge_y_m: FloatArray

    @property
    def n_rsu(self) -> int:
        """Number of RSUs."""
        return int((self.kind == RSU).sum())

    @property
    def sensors(self) -> IntArray:
        """Indices of the sensors."""
        return np.flatnonzero(self.kind != RSU)

    @property
    def n_edges(self) -> int:
        """Number of edge nodes."""
        return len(self.edge_x_m)

    def counts(self) -> dict[str, int]:
        """Devices per kind name."""
        return {name: int((self.kind == code).sum()) for code, name in enumerate(DEVICE_NAMES)}


def _kmeans(x: FloatArray, y: FloatArray, k: int, rounds: int = 20) -> tuple[
        FloatArray, FloatArray]:
    """Deterministic Lloyd iterations from evenly spaced points along the x+y order."""
    order = np.argsort(x + y, kind="stable")
    seeds = order[((np.arange(k) + 0.5) * len(x) / k).astype(np.int64)]
    cx, cy = x[seeds].copy(), y[seeds].copy()
    for _ in range(rounds):
        label = np.hypot(x[:, None] - cx, y[:, None] - cy).argmin(axis=1)
        for j in range(k):
            members = label == j
            if members.any():
                cx[j], cy[j] = x[members].mean(), y[members].mean()
    return cx, cy


def build_devices(network: Network, roadside: RoadsideSection, edge: EdgeSection) -> Devices:
    """Place RSUs and sensors, wire sensors to their nearest RSU, split RSUs into regions."""
    rsu_link, rsu_offset = _place(network, roadside.rsu.placement, "roadside.rsu")
    if rsu_link.size == 0:
        raise ScenarioError("roadside.rsu.placement", roadside.rsu.placement.model_dump(),
                            "places no RSU; the communication model needs at least one")
    kinds, links, offsets = [np.zeros(rsu_link.size, np.int64)], [rsu_link], [rsu_offset]
    ranges = [np.full(rsu_link.size, roadside.rsu.range_m)]
    probability, rate = [np.ones(rsu_link.size)], [np.zeros(rsu_link.size)]
    for i, group in enumerate(roadside.sensors):
        link, offset = _place(network, group.placement, f"roadside.sensors[{i}]")
        kinds.append(np.full(link.size, SENSOR_CODES[group.kind], np.int64))
        links.append(link)
        offsets.append(offset)
        ranges.append(np.full(link.size, group.range_m))
        probability.append(np.full(link.size, group.detection_probability))
        rate.append(np.full(link.size, group.frame_rate_hz))
    kind, link, offset = np.concatenate(kinds), np.concatenate(links), np.concatenate(offsets)
    x, y = point_on_link(network, link, offset)
    n_rsu = rsu_link.size
    rsu = np.arange(len(kind))
    sensors = np.flatnonzero(kind != RSU)
    for chunk in np.array_split(sensors, max(1, len(sensors) // 2000)):
        if chunk.size:
            rsu[chunk] = np.hypot(x[chunk, None] - x[:n_rsu], y[chunk, None] - y[:n_rsu]
                                  ).argmin(axis=1)
    if edge.positions:
        ex = np.array([p.x_m for p in edge.positions])
        ey = np.array([p.y_m for p in edge.positions])
    else:
        ex, ey = _kmeans(x[:n_rsu], y[:n_rsu], min(edge.nodes, n_rsu))
        if len(ex) < edge.nodes:
            raise ScenarioError("edge.nodes", edge.nodes,
                                f"more edge nodes than RSUs ({n_rsu}); add RSUs or fewer nodes")
    rsu_edge = np.hypot(x[:n_rsu, None] - ex, y[:n_rsu, None] - ey).argmin(axis=1)
    return Devices(kind=kind, link=link, offset_m=offset, x_m=x, y_m=y,
                   range_m=np.concatenate(ranges), detection_probability=np.concatenate(
                       probability), frame_rate_hz=np.concatenate(rate), rsu=rsu,
                   edge=rsu_edge[rsu], edge_x_m=ex, edge_y_m=ey)


@dataclass(frozen=True, eq=False)
class Coverage:
    """Which RSUs hear each cell of each directed link.

    Attributes:
        first_cell: index of each link's first cell in the flat cell arrays.
        n_cells: cells per link.
        nearest: nearest RSU in range per cell, or -1.
        distance_m: distance from the cell centre to that RSU (inf when none).
        heard_by: (n_cells_total, MAX_HEARD) RSUs in range, -1 padded.
    """

    first_cell: IntArray
    n_cells: IntArray
    nearest: IntArray
    distance_m: FloatArray
    heard_by: IntArray

    def cell_of(self, link: IntArray, offset_m: FloatArray) -> IntArray:
        """Flat cell index of positions along links."""
        within = np.minimum((offset_m / CELL_M).astype(np.int64), self.n_cells[link] - 1)
        return self.first_cell[link] + np.maximum(within, 0)


def build_coverage(network: Network, devices: Devices) -> Coverage:
    """The coverage table: nearest RSU and the RSUs in range for every 25 m cell."""
    n_cells = np.maximum(1, np.ceil(network.length_m / CELL_M).astype(np.int64))
    first = np.concatenate(([0], np.cumsum(n_cells)[:-1]))
    link = np.repeat(np.arange(network.n_links), n_cells)
    offset = (np.arange(len(link)) - first[link] + 0.5) * CELL_M
    offset = np.minimum(offset, network.length_m[link])
    cx, cy = point_on_link(network, link, offset)
    n_rsu = devices.n_rsu
    rx, ry, reach = devices.x_m[:n_rsu], devices.y_m[:n_rsu], devices.range_m[:n_rsu]
    nearest = np.full(len(link), -1, np.int64)
    distance = np.full(len(link), np.inf)
    heard = np.full((len(link), MAX_HEARD), -1, np.int64)
    for chunk in np.array_split(np.arange(len(link)), max(1, len(link) * n_rsu // 4_000_000)):
        d = np.hypot(cx[chunk, None] - rx, cy[chunk, None] - ry)
        in_range = d <= reach
        d_masked = np.where(in_range, d, np.inf)
        k = min(MAX_HEARD, n_rsu)
        order = np.argsort(d_masked, axis=1)[:, :k]
        closest = np.take_along_axis(d_masked, order, axis=1)
        heard[chunk, :k] = np.where(np.isfinite(closest), order, -1)
        nearest[chunk] = np.where(np.isfinite(closest[:, 0]), order[:, 0], -1)
        distance[chunk] = closest[:, 0]
    return Coverage(first_cell=first, n_cells=n_cells, nearest=nearest, distance_m=distance,
                    heard_by=heard)
