"""What every importer returns, and how it lands on disk.

An importer reads a foreign network (SUMO, OpenStreetMap, GMNS) and returns an
`ImportedNetwork`: plain tables, no files touched. `write_import` writes them into a
folder as the project's own inputs, each file atomically:

- ``nodes.csv``, ``links.csv``: the network (format in `v2x_sim.road.io`), original ids
  kept, with the ``shape``, ``type`` and ``name`` columns filled where the source knows.
- ``connections.csv`` (when the source has turn movements): one row per movement,
  ``node,from_link,to_link,dir,from_lanes,to_lanes``: the junction, the approach and the
  outgoing link, the turn (SUMO's letters: ``s`` straight, ``l``/``r`` left/right,
  ``L``/``R`` partly left/right, ``t`` U-turn; empty when unknown), and the lanes used
  on each side as space-separated indices, 0 the rightmost (empty: unknown). Read with
  the network (`v2x_sim.road.connections`): unlisted movements are turn restrictions,
  listed lanes are the movements' lane groups.
- ``signals.csv`` (when the source has signal programs): the signal plan file format,
  one row per signalised approach link, ``node,link,cycle_s,green_start_s,green_s,
  amber_s,all_red_s,offset_s`` plus movement rows with ``to_link`` set.
- ``ids.csv`` (when ids were made up or changed): ``kind,id,source_id,detail``.
- ``import.json``: source, coordinate reference and offset (to map metres back to the
  source's coordinates), counts and the notes the import made.
- ``scenario.yaml``: a stub scenario that runs on the network (edit the demand).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.version import __version__
from v2x_sim.road.geometry import undirected_roads
from v2x_sim.road.importers.road_types import JAM_DENSITY_VPM
from v2x_sim.road.io import LINK_COLUMNS, METRES_PER_KM, scaled_text
from v2x_sim.road.network import Network, RoadClass, build_network
from v2x_sim.road.network_table import node_order
from v2x_sim.road.shapes import LinkShapes, format_shape

Polyline = tuple[list[float], list[float]]

CONNECTION_COLUMNS = ("node", "from_link", "to_link", "dir", "from_lanes", "to_lanes")
SIGNAL_COLUMNS = ("node", "link", "cycle_s", "green_start_s", "green_s", "amber_s",
                  "all_red_s", "offset_s", "to_link")
ID_COLUMNS = ("kind", "id", "source_id", "detail")
DEFAULT_RSU_SPACING_M = 300.0
"""The scenario default (``roadside.rsu.placement.spacing_m``)."""
DEFAULT_EDGE_NODES = 2
"""The scenario default (``edge.nodes``)."""


@dataclass
class ImportedLink:
    """One directed link as the importer found it (SI units)."""

    id: str
    from_node: str
    to_node: str
    length_m: float
    lanes: int
    free_speed_mps: float
    capacity_vph_per_lane: float
    road_class: RoadClass
    type: str = ""
    name: str = ""
    shape: Polyline | None = None


@dataclass
class ImportedNetwork:
    """The tables of an imported network.

    Attributes:
        source: format name (``sumo``, ``osm``, ``gmns``).
        source_path: what was read.
        node_ids, x_m, y_m: nodes, in the order `node_order` gives (so that a run's
            ``network.csv`` reads back to the same arrays).
        links: directed links.
        connections: movement rows (`CONNECTION_COLUMNS`).
        signals: signal plan rows (`SIGNAL_COLUMNS`).
        id_map: rows of `ID_COLUMNS` for ids the import made up.
        crs: coordinate reference of the source (e.g. ``EPSG:32635``), if known.
        offset_m: what was subtracted from projected coordinates (x, y).
        notes: what the import decided or dropped, for people.
    """

    source: str
    source_path: str
    node_ids: list[str]
    x_m: list[float]
    y_m: list[float]
    links: list[ImportedLink]
    connections: list[dict[str, str]] = field(default_factory=list)
    signals: list[dict[str, str]] = field(default_factory=list)
    id_map: list[dict[str, str]] = field(default_factory=list)
    crs: str | None = None
    offset_m: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    def network(self) -> Network:
        """The `Network` these tables describe (checks them as a run would)."""
        index = {node: i for i, node in enumerate(self.node_ids)}
        links = self.links
        shapes = [link.shape for link in links]
        return build_network(
            node_ids=self.node_ids, x_m=self.x_m, y_m=self.y_m,
            link_ids=[link.id for link in links],
            from_node=[index[link.from_node] for link in links],
            to_node=[index[link.to_node] for link in links],
            length_m=[link.length_m for link in links], lanes=[link.lanes for link in links],
            free_speed_mps=[link.free_speed_mps for link in links],
            capacity_vps_per_lane=[link.capacity_vph_per_lane / 3600.0 for link in links],
            jam_density_vpm_per_lane=[JAM_DENSITY_VPM] * len(links),
            road_class=[int(link.road_class) for link in links],
            shapes=LinkShapes.from_polylines(shapes) if any(shapes) else None)

    def counts(self) -> dict[str, Any]:
        """Sizes for people: nodes, links, km, movements, signalised approaches."""
        return {"nodes": len(self.node_ids), "links": len(self.links),
                "network_km": round(sum(link.length_m for link in self.links) / 1000.0, 3),
                "connections": len(self.connections),
                "signalised_approaches": sum(1 for row in self.signals if not row["to_link"]),
                "signal_nodes": len({row["node"] for row in self.signals})}


def ordered_nodes(used: dict[str, tuple[float, float]], links: list[ImportedLink]
                  ) -> tuple[list[str], list[float], list[float]]:
    """Nodes some link touches, by `node_order` over their first appearance in links."""
    seen: dict[str, None] = {}
    for link in links:
        seen.setdefault(link.from_node)
        seen.setdefault(link.to_node)
    order = node_order(list(seen))
    return order, [used[n][0] for n in order], [used[n][1] for n in order]


def _csv_text(header: tuple[str, ...], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _num(value: float) -> str:
    """Shortest text that reads back as the same float."""
    return repr(float(value))


def write_import(imported: ImportedNetwork, folder: str | Path, *, name: str | None = None
                 ) -> list[Path]:
    """Write the network files, movement and signal tables, id map and a stub scenario.

    The network is checked first (as a run would build it), so a folder is only
    written for a network the simulator accepts.

    Args:
        imported: what an importer returned.
        folder: destination (created if missing; files of the same names replaced).
        name: scenario name (default: the folder's name).

    Returns:
        The paths written.

    Raises:
        ScenarioError: the tables do not make a valid network.
    """
    network = imported.network()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    nodes = [[n, _num(x), _num(y)] for n, x, y in zip(imported.node_ids, imported.x_m,
                                                     imported.y_m, strict=True)]
    written.append(write_text_atomic(out / "nodes.csv", _csv_text(("id", "x_m", "y_m"), nodes)))
    header = (*LINK_COLUMNS, "shape", "type", "name")
    rows = [[link.id, link.from_node, link.to_node, _num(link.length_m), str(link.lanes),
             _num(link.free_speed_mps), _num(link.capacity_vph_per_lane),
             scaled_text(JAM_DENSITY_VPM, METRES_PER_KM), link.road_class.name.lower(),
             format_shape(*link.shape) if link.shape else "", link.type, link.name]
            for link in imported.links]
    written.append(write_text_atomic(out / "links.csv", _csv_text(header, rows)))
    for stem, columns, table in (("connections", CONNECTION_COLUMNS, imported.connections),
                                 ("signals", SIGNAL_COLUMNS, imported.signals),
                                 ("ids", ID_COLUMNS, imported.id_map)):
        path = out / f"{stem}.csv"
        if table:
            written.append(write_text_atomic(path, _csv_text(
                columns, [[row.get(c, "") for c in columns] for row in table])))
        else:
            path.unlink(missing_ok=True)  # a stale table of an earlier import would mislead
    meta = {"source": imported.source, "source_path": imported.source_path,
            "crs": imported.crs, "offset_m": list(imported.offset_m),
            "v2x_sim_version": __version__, **imported.counts(), "notes": imported.notes}
    written.append(write_text_atomic(out / "import.json", json.dumps(meta, indent=2) + "\n"))
    written.append(write_text_atomic(out / "scenario.yaml", stub_scenario(
        imported, network, name or out.resolve().name)))
    return written


def stub_scenario(imported: ImportedNetwork, network: Network, name: str) -> str:
    """A scenario that runs on the imported network: random trips, default devices."""
    km = network.total_length_m / 1000.0
    # ~20 trips per hour per directed km: light traffic to start from (edit to taste)
    rate = int(max(100, min(20_000, round(20 * km, -1))))
    counts = imported.counts()
    signals = ("\n  # the source's signal programs (signals.csv); drop for the generated plans\n"
               "  signals: {plan: file, file: signals.csv}"
               if imported.signals else "")
    largest = _largest_component_note(network)
    roads_m = float(network.length_m[undirected_roads(network)].sum())
    rsus = int(roads_m / DEFAULT_RSU_SPACING_M + 0.5)
    devices = ""
    if rsus < DEFAULT_EDGE_NODES:  # a small network: fewer edge nodes than RSUs
        devices = (f"edge: {{nodes: {max(1, rsus)}}}\n" + (
            "roadside: {rsu: {placement: {mode: count, count: 1}}}\n" if rsus == 0 else ""))
    return (
        f"# Imported from {imported.source_path} ({imported.source}) by v2x-sim "
        f"{__version__}:\n"
        f"# {counts['nodes']} nodes, {counts['links']} links, {counts['network_km']} km "
        f"of directed links.{largest}\n"
        f"name: {json.dumps(name)}\n"
        f"description: {json.dumps(f'Imported {imported.source} network, random demand')}\n"
        "simulation: {horizon_s: 3600}\n"
        "road:\n"
        "  generator: file\n"
        "  file: {nodes: nodes.csv, links: links.csv}"
        f"{signals}\n"
        "demand:\n"
        f"  random: {{rate_vph: {rate}}}\n"
        f"{devices}"
    )


def _strong_components(node_ids: list[str], links: list[ImportedLink]) -> tuple[
        int, np.ndarray]:
    index = {node: i for i, node in enumerate(node_ids)}
    n = len(node_ids)
    rows = [index[link.from_node] for link in links]
    cols = [index[link.to_node] for link in links]
    graph = csr_matrix((np.ones(len(links)), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=True, connection="strong")
    return count, labels


def keep_largest_part(imported: ImportedNetwork) -> ImportedNetwork:
    """Only the largest strongly connected part (where every node reaches every other).

    Extracts cut roads at their edge, leaving one-way stubs and islands from which no
    trip can leave: random origins and destinations there are unroutable.
    """
    count, labels = _strong_components(imported.node_ids, imported.links)
    if count <= 1:
        return imported
    largest = int(np.bincount(labels).argmax())
    keep = {node for node, label in zip(imported.node_ids, labels.tolist(), strict=True)
            if label == largest}
    links = [link for link in imported.links
             if link.from_node in keep and link.to_node in keep]
    kept_ids = {link.id for link in links}
    coords = dict(zip(imported.node_ids, zip(imported.x_m, imported.y_m, strict=True),
                      strict=True))
    node_ids, x_m, y_m = ordered_nodes(coords, links)
    dropped = len(imported.links) - len(links)
    imported.notes.append(f"kept the largest strongly connected part: {len(node_ids)} of "
                          f"{len(imported.node_ids)} nodes; {dropped} links outside it "
                          "dropped")
    return ImportedNetwork(
        source=imported.source, source_path=imported.source_path, node_ids=node_ids,
        x_m=x_m, y_m=y_m, links=links,
        connections=[r for r in imported.connections
                     if r["from_link"] in kept_ids and r["to_link"] in kept_ids],
        signals=[r for r in imported.signals if r["link"] in kept_ids
                 and (not r.get("to_link") or r["to_link"] in kept_ids)],
        id_map=[r for r in imported.id_map if r["kind"] != "link" or r["id"] in kept_ids],
        crs=imported.crs, offset_m=imported.offset_m, notes=imported.notes)


def _largest_component_note(network: Network) -> str:
    n = network.n_nodes
    graph = csr_matrix((np.ones(network.n_links), (network.from_node, network.to_node)),
                       shape=(n, n))
    count, labels = connected_components(graph, directed=True, connection="strong")
    if count <= 1:
        return ""
    share = np.bincount(labels).max() / n
    return (f"\n# {count} strongly connected parts; the largest holds {share:.0%} of the "
            "nodes: random trips between parts are unroutable.")
