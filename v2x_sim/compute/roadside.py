"""Roadside devices: placement along the roads, radio coverage, edge regions.

Devices sit beside roads (one set per two-way road, not per direction). Vehicles are
located by a coverage table: every directed link is cut into `CELL_M` cells, and each
cell knows its nearest RSU in range (the one that receives its BSMs) and up to
`MAX_HEARD` RSUs in range (whose channels its transmissions load). A vehicle's cell is
an integer lookup, so thousands of senders are placed per tick in a few numpy calls.

Every spatial query (coverage, snapping positions to roads, sensor to nearest RSU) goes
through k-d trees (`v2x_sim.road.geometry`): building the devices of a network is
linear in its size, with the same answers a full distance matrix would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim.road.geometry import (
    k_nearest,
    link_segments,
    nearest_on_segments,
    point_on_link,
    undirected_roads,
)
from v2x_sim.road.network import Network, RoadClass
from v2x_sim.scenario.v2x_sections import EdgeSection, Placement, RoadsideSection, SensorKind

CELL_M = 25.0
MAX_HEARD = 4
RSU = 0
SENSOR_CODES = {SensorKind.CAMERA: 1, SensorKind.RADAR: 2, SensorKind.LIDAR: 3}
DEVICE_NAMES = ("rsu", "camera", "radar", "lidar")
_NOISE = ("speed_sigma_mps", "miss_probability", "false_per_hour")

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def place_along_roads(network: Network, placement: Placement, path: str) -> tuple[
        IntArray, FloatArray]:
    """(link, offset) of devices every ``spacing`` metres, or ``count`` evenly spread.

    The roads (of ``placement.road_classes`` only, when given) are taken end to end, so
    a road shorter than the spacing may get none.
    """
    roads = undirected_roads(network)
    if placement.road_classes:
        wanted = [int(RoadClass[name.upper()]) for name in placement.road_classes]
        roads = roads[np.isin(network.road_class[roads], wanted)]
        if roads.size == 0:
            raise ScenarioError(f"{path}.placement.road_classes", placement.road_classes,
                                "the network has no road of these classes")
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
    """Nearest road and offset along it for each point (orthogonal projection).

    Roads follow their shapes where they have one; on equal distances the first road
    (in `undirected_roads` order) wins.
    """
    roads = undirected_roads(network)
    owner, ax, ay, bx, by, start_m, scale = link_segments(network, roads)
    seg, t, _ = nearest_on_segments(np.asarray(x_m, np.float64), np.asarray(y_m, np.float64),
                                    ax, ay, bx, by)
    piece_m = np.hypot(bx[seg] - ax[seg], by[seg] - ay[seg]) * scale[seg]
    road = roads[owner[seg]]
    return road, np.minimum(start_m[seg] + t * piece_m, network.length_m[road])


def _place(network: Network, placement: Placement, path: str,
           signalised: NDArray[np.bool_] | None) -> tuple[IntArray, FloatArray]:
    if placement.mode == "list":
        return _listed(network, placement, path)
    if placement.mode == "signalised_approaches":
        links = np.flatnonzero(signalised) if signalised is not None else np.zeros(0, np.int64)
        return links.astype(np.int64), network.length_m[links].astype(np.float64)
    return place_along_roads(network, placement, path)


def _listed(network: Network, placement: Placement, path: str) -> tuple[IntArray, FloatArray]:
    """(link, offset) of listed positions: points snapped to roads, or named links."""
    positions = placement.positions
    link = np.zeros(len(positions), np.int64)
    offset = np.zeros(len(positions))
    points = [i for i, p in enumerate(positions) if p.link is None]
    if points:
        x = np.array([positions[i].x_m for i in points], np.float64)
        y = np.array([positions[i].y_m for i in points], np.float64)
        link[points], offset[points] = snap_to_links(network, x, y)
    for i, p in enumerate(positions):
        if p.link is None:
            continue
        where = f"{path}.placement.positions[{i}]"
        link[i] = network.link_index(p.link, field_path=f"{where}.link")
        length = float(network.length_m[link[i]])
        offset[i] = length / 2 if p.offset_m is None else p.offset_m
        if offset[i] > length:
            raise ScenarioError(f"{where}.offset_m", p.offset_m,
                                f"link {p.link} is only {length:g} m long")
    return link, offset


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
        speed_sigma_mps, miss_probability, false_per_hour: sensors' measurement noise
            (0 for RSUs; see `sensors`).
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
    speed_sigma_mps: FloatArray
    miss_probability: FloatArray
    false_per_hour: FloatArray

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


def build_devices(network: Network, roadside: RoadsideSection, edge: EdgeSection,
                  signalised: NDArray[np.bool_] | None = None) -> Devices:
    """Place RSUs and sensors, wire sensors to their nearest RSU, split RSUs into regions.

    ``signalised`` marks the links that end at a signal (for ``signalised_approaches``).
    """
    rsu_link, rsu_offset = _place(network, roadside.rsu.placement, "roadside.rsu", signalised)
    if rsu_link.size == 0:
        raise ScenarioError("roadside.rsu.placement", roadside.rsu.placement.model_dump(),
                            "places no RSU; the communication model needs at least one")
    kinds, links, offsets = [np.zeros(rsu_link.size, np.int64)], [rsu_link], [rsu_offset]
    ranges = [np.full(rsu_link.size, roadside.rsu.range_m)]
    probability, rate = [np.ones(rsu_link.size)], [np.zeros(rsu_link.size)]
    noise = {name: [np.zeros(rsu_link.size)] for name in _NOISE}
    for i, group in enumerate(roadside.sensors):
        link, offset = _place(network, group.placement, f"roadside.sensors[{i}]",
                              signalised)
        kinds.append(np.full(link.size, SENSOR_CODES[group.kind], np.int64))
        links.append(link)
        offsets.append(offset)
        ranges.append(np.full(link.size, group.range_m))
        probability.append(np.full(link.size, group.detection_probability))
        rate.append(np.full(link.size, group.frame_rate_hz))
        for name, values in noise.items():
            values.append(np.full(link.size, getattr(group, name)))
    kind, link, offset = np.concatenate(kinds), np.concatenate(links), np.concatenate(offsets)
    x, y = point_on_link(network, link, offset)
    n_rsu = rsu_link.size
    rsu = np.arange(len(kind))
    sensors = np.flatnonzero(kind != RSU)
    rsu[sensors] = k_nearest(x[sensors], y[sensors], x[:n_rsu], y[:n_rsu], 1)[0][:, 0]
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
                   edge=rsu_edge[rsu], edge_x_m=ex, edge_y_m=ey,
                   **{name: np.concatenate(values) for name, values in noise.items()})


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
    heard = np.full((len(link), MAX_HEARD), -1, np.int64)
    k = min(MAX_HEARD, n_rsu)
    index, dist = k_nearest(cx, cy, devices.x_m[:n_rsu], devices.y_m[:n_rsu], k,
                            reach_m=devices.range_m[:n_rsu])
    heard[:, :k] = index
    return Coverage(first_cell=first, n_cells=n_cells, nearest=index[:, 0].copy(),
                    distance_m=dist[:, 0].copy(), heard_by=heard)
