"""A run's ``network.csv``: one row per link with its geometry, readable back as input.

The table a run writes for maps (end-node coordinates, length, lanes, speed, class,
capacity, shape) carries everything the simulator needs, so a results folder can seed
another study on the same network: ``road: {generator: file, file: {network:
results/x/network.csv}}``.

Columns: ``link, from, to`` (ids), ``x0_m, y0_m, x1_m, y1_m`` (end-node coordinates),
``length_m, lanes, free_speed_mps, road_class, capacity_vph_per_lane,
jam_density_vpkm_per_lane, shape`` (as in ``links.csv``, see `v2x_sim.road.io`).

What a link table cannot hold: nodes no link touches are gone, and the order of the
nodes (which decides where random origins and destinations fall) is rebuilt by
`node_order`: numeric order when every id is an integer (generated networks, whose ids
are their positions, come back identical), else the order of first appearance (which
is the order the importers write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.io import (
    METRES_PER_KM,
    SECONDS_PER_HOUR,
    LinkColumns,
    Row,
    read_rows,
    scaled_float,
)
from v2x_sim.road.network import Network, RoadClass

REQUIRED = ("link", "from", "to", "x0_m", "y0_m", "x1_m", "y1_m", "length_m", "lanes",
            "free_speed_mps", "capacity_vph_per_lane")
OPTIONAL = {"road_class": "arterial", "jam_density_vpkm_per_lane": "140", "shape": ""}

Table = dict[str, NDArray[Any]]


def network_table(network: Network) -> Table:
    """The ``network.csv`` table of a network (read back exactly at full precision)."""
    net = network
    names = np.array([c.name.lower() for c in RoadClass])
    shapes = net.shapes
    shape = np.array([shapes.text(i) if shapes is not None else ""
                      for i in range(net.n_links)], dtype=str)
    return {
        "link": net.link_ids, "from": net.node_ids[net.from_node],
        "to": net.node_ids[net.to_node],
        "x0_m": net.x_m[net.from_node], "y0_m": net.y_m[net.from_node],
        "x1_m": net.x_m[net.to_node], "y1_m": net.y_m[net.to_node], "length_m": net.length_m,
        "lanes": net.lanes, "free_speed_mps": net.free_speed_mps,
        "road_class": names[net.road_class],
        "capacity_vph_per_lane": np.array([scaled_float(v, SECONDS_PER_HOUR)
                                           for v in net.capacity_vps_per_lane.tolist()]),
        "jam_density_vpkm_per_lane": np.array([scaled_float(v, METRES_PER_KM)
                                               for v in net.jam_density_vpm_per_lane.tolist()]),
        "shape": shape,
    }


def node_order(ids: list[str]) -> list[str]:
    """Nodes in numeric order when every id is a plain integer, else as given."""
    if ids and all(_is_plain_integer(i) for i in ids):
        return sorted(ids, key=int)
    return list(ids)


def _is_plain_integer(text: str) -> bool:
    """``"12"`` or ``"-3"``, written the way ``str(int)`` writes it (not ``"012"``)."""
    try:
        return str(int(text)) == text
    except ValueError:
        return False


def read_network_table(path: str | Path) -> Network:
    """The network of a run's ``network.csv`` (format in the module docstring).

    Raises:
        InputFileError: the file is missing or malformed, a node appears with two
            different coordinates, or a link id repeats; the error names line and column.
    """
    path = Path(path)
    rows = read_rows(path, REQUIRED, OPTIONAL, "links")
    coords: dict[str, tuple[float, float, int]] = {}
    seen: dict[str, int] = {}
    for row in rows:
        link = row.identifier("link")
        if link in seen:
            raise row.error("link", f"duplicate link id {link!r} (first used on line "
                                    f"{seen[link]})")
        seen[link] = row.line
        for end, x_col, y_col in (("from", "x0_m", "y0_m"), ("to", "x1_m", "y1_m")):
            _node(row, end, x_col, y_col, coords)
    order = node_order(list(coords))
    index = {node: i for i, node in enumerate(order)}
    links = LinkColumns()
    for row in rows:
        links.add(row, index[row.fields["from"]], index[row.fields["to"]])
    return links.build(node_ids=order, x_m=[coords[n][0] for n in order],
                       y_m=[coords[n][1] for n in order], link_ids=list(seen))


def _node(row: Row, end: str, x_col: str, y_col: str,
          coords: dict[str, tuple[float, float, int]]) -> None:
    """Record a link end's node and coordinates; the same node must sit at one place."""
    node = row.identifier(end)
    x, y = row.number(x_col, unit=" (metres)"), row.number(y_col, unit=" (metres)")
    known = coords.setdefault(node, (x, y, row.line))
    if (known[0], known[1]) != (x, y):
        raise row.error(x_col if known[0] != x else y_col,
                        f"node {node!r} is at ({x!r}, {y!r}) here but at ({known[0]!r}, "
                        f"{known[1]!r}) on line {known[2]}")
