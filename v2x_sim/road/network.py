"""The road network as a struct of arrays plus a CSR adjacency.

Nodes and links carry external ids (what users write in YAML and CSV files: opaque
strings, see `v2x_sim._core.ids`) and are addressed internally by their index 0..n-1.
All quantities are SI: metres, metres per second, vehicles per second per lane,
vehicles per metre per lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.errors import ScenarioError
from v2x_sim._core.ids import id_array, normalise_id
from v2x_sim.road.shapes import LinkShapes
from v2x_sim.road.turn_table import TurnTable

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
StrArray = NDArray[np.str_]


class RoadClass(IntEnum):
    """Functional class of a link; signals sit only on arterial junctions."""

    ARTERIAL = 0
    EXPRESSWAY = 1
    RAMP = 2


@dataclass(frozen=True, eq=False)
class Network:
    """Nodes and directed links as parallel numpy arrays.

    Attributes:
        node_ids: external node ids (strings, unique).
        x_m, y_m: node coordinates in metres.
        link_ids: external link ids (strings, unique).
        from_node, to_node: link end points as node indices.
        length_m: link length.
        lanes: number of lanes.
        free_speed_mps: free-flow speed.
        capacity_vps_per_lane: saturation flow per lane, veh/s.
        jam_density_vpm_per_lane: jam density per lane, veh/m.
        road_class: `RoadClass` value per link.
        shapes: polylines of links that are not straight between their end nodes (for
            maps and device placement), or None when every link is straight.
        turns: the movements allowed at nodes (a connections file), or None when every
            movement is allowed (see `turn_table`).
    """

    node_ids: StrArray
    x_m: FloatArray
    y_m: FloatArray
    link_ids: StrArray
    from_node: IntArray
    to_node: IntArray
    length_m: FloatArray
    lanes: IntArray
    free_speed_mps: FloatArray
    capacity_vps_per_lane: FloatArray
    jam_density_vpm_per_lane: FloatArray
    road_class: IntArray
    shapes: LinkShapes | None = None
    turns: TurnTable | None = None
    out_offsets: IntArray = field(init=False)
    out_links: IntArray = field(init=False)
    in_offsets: IntArray = field(init=False)
    in_links: IntArray = field(init=False)
    _node_index: dict[str, int] = field(init=False, repr=False)
    _link_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_nodes == 0 or self.n_links == 0:
            raise ScenarioError("road", f"{self.n_nodes} nodes, {self.n_links} links",
                                "the network is empty: it needs at least one link")
        critical = self.capacity_vps_per_lane / self.free_speed_mps
        bad = np.flatnonzero(self.jam_density_vpm_per_lane <= critical)
        if bad.size:
            raise ScenarioError(
                "road", f"link {self.link_ids[bad[0]]}",
                "jam density must exceed capacity / free speed (the critical density)",
            )
        out_order = np.argsort(self.from_node, kind="stable")
        in_order = np.argsort(self.to_node, kind="stable")
        counts_out = np.bincount(self.from_node, minlength=self.n_nodes)
        counts_in = np.bincount(self.to_node, minlength=self.n_nodes)
        set_ = object.__setattr__
        set_(self, "out_links", out_order.astype(np.int64))
        set_(self, "out_offsets", np.concatenate(([0], np.cumsum(counts_out))).astype(np.int64))
        set_(self, "in_links", in_order.astype(np.int64))
        set_(self, "in_offsets", np.concatenate(([0], np.cumsum(counts_in))).astype(np.int64))
        set_(self, "_node_index", _unique_index(self.node_ids.tolist(), "node"))
        set_(self, "_link_index", _unique_index(self.link_ids.tolist(), "link"))
        for array in (self.x_m, self.y_m, self.length_m, self.free_speed_mps):
            array.setflags(write=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        """Number of directed links."""
        return len(self.link_ids)

    @property
    def total_length_m(self) -> float:
        """Sum of directed link lengths (both directions of a road count)."""
        return float(self.length_m.sum())

    @property
    def free_flow_time_s(self) -> FloatArray:
        """Free-flow traversal time per link, L / v_f."""
        return self.length_m / self.free_speed_mps

    @property
    def storage_veh(self) -> FloatArray:
        """How many vehicles fit on each link: L * lanes * k_jam (at least one)."""
        return np.maximum(1.0, self.length_m * self.lanes * self.jam_density_vpm_per_lane)

    def node_index(self, node_id: int | str, *, field_path: str = "node") -> int:
        """Index of an external node id (``7`` and ``"7"`` are one id).

        Raises:
            ScenarioError: naming ``field_path`` and the id, if no node has it.
        """
        index = self._node_index.get(_key(node_id, field_path))
        if index is None:
            raise ScenarioError(field_path, node_id, "no node with this id in the network")
        return index

    def link_index(self, link_id: int | str, *, field_path: str = "link") -> int:
        """Index of an external link id (``7`` and ``"7"`` are one id).

        Raises:
            ScenarioError: naming ``field_path`` and the id, if no link has it.
        """
        index = self._link_index.get(_key(link_id, field_path))
        if index is None:
            raise ScenarioError(field_path, link_id,
                                f"no link with this id in the network (it has {self.n_links} "
                                "links)")
        return index

    def outgoing(self, node: int) -> IntArray:
        """Indices of links leaving node index ``node``."""
        return self.out_links[self.out_offsets[node] : self.out_offsets[node + 1]]

    def incoming(self, node: int) -> IntArray:
        """Indices of links entering node index ``node``."""
        return self.in_links[self.in_offsets[node] : self.in_offsets[node + 1]]

    def heading_rad(self) -> FloatArray:
        """Direction of travel of each link (from its end-node coordinates)."""
        dx = self.x_m[self.to_node] - self.x_m[self.from_node]
        dy = self.y_m[self.to_node] - self.y_m[self.from_node]
        return np.arctan2(dy, dx)


def _key(value: int | str, field_path: str) -> str:
    try:
        return normalise_id(value)
    except TypeError as exc:
        raise ScenarioError(field_path, value, str(exc)) from None


def _unique_index(ids: list[str], what: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(ids):
        if index.setdefault(name, i) != i:
            raise ScenarioError("road", name, f"{what} id used more than once")
    return index


def build_network(
    *,
    x_m: list[float] | FloatArray,
    y_m: list[float] | FloatArray,
    from_node: list[int] | IntArray,
    to_node: list[int] | IntArray,
    length_m: list[float] | FloatArray,
    lanes: list[int] | IntArray,
    free_speed_mps: list[float] | FloatArray,
    capacity_vps_per_lane: list[float] | FloatArray,
    jam_density_vpm_per_lane: list[float] | FloatArray,
    road_class: list[int] | IntArray,
    node_ids: list[int] | list[str] | NDArray[np.generic] | None = None,
    link_ids: list[int] | list[str] | NDArray[np.generic] | None = None,
    shapes: LinkShapes | None = None,
) -> Network:
    """A `Network` from plain sequences.

    Node and link ids default to their index as text (``"0"``, ``"1"``, ...); integer
    ids are kept as their decimal text.
    """
    n_nodes, n_links = len(x_m), len(from_node)
    return Network(
        node_ids=id_array(node_ids, n_nodes),
        x_m=np.asarray(x_m, np.float64),
        y_m=np.asarray(y_m, np.float64),
        link_ids=id_array(link_ids, n_links),
        from_node=np.asarray(from_node, np.int64),
        to_node=np.asarray(to_node, np.int64),
        length_m=np.asarray(length_m, np.float64),
        lanes=np.asarray(lanes, np.int64),
        free_speed_mps=np.asarray(free_speed_mps, np.float64),
        capacity_vps_per_lane=np.asarray(capacity_vps_per_lane, np.float64),
        jam_density_vpm_per_lane=np.asarray(jam_density_vpm_per_lane, np.float64),
        road_class=np.asarray(road_class, np.int64),
        shapes=shapes,
    )


NO_LINK = -1
"""No link: a node with no way on, or a vehicle at its destination."""


def cheapest_out_link(network: Network, via: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per node, the leaving link with the least ``via`` (one cost per link).

    `NO_LINK` where no link leaves; ties go to the lower link index. Shared by the
    node-based next-hop tables (`routing`) and the first link of a turn-aware search.
    """
    from v2x_sim.road.route_kernels import cheapest_per_group  # compiled: numba on use

    return cheapest_per_group(network.out_links, network.out_offsets,  # type: ignore[no-any-return]
                              np.ascontiguousarray(via, dtype=np.float64))
