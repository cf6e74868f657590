"""Read and write a road network as two CSV files, ``nodes.csv`` and ``links.csv``.

Both files are UTF-8 (a byte-order mark is allowed), comma separated, and start with a
header row naming the columns; columns may come in any order, unknown columns are an
error, and blank lines are ignored. Units are the ones traffic engineers quote; they are
converted to SI on reading and back on writing.

``nodes.csv``, one row per node:

- ``id`` (text): external node id, unique (any text without surrounding spaces:
  ``17``, ``n0_0``, ``cluster_12_34``; ``7`` and ``007`` are different ids).
- ``x_m``, ``y_m`` (numbers): coordinates in metres.

``links.csv``, one row per *directed* link (a two-way road is two rows):

- ``id`` (text): external link id, unique.
- ``from``, ``to`` (text): upstream and downstream node ids, listed in ``nodes.csv``
  and different from each other.
- ``length_m`` (number > 0): length in metres.
- ``lanes`` (integer >= 1): number of lanes.
- ``free_speed_mps`` (number > 0): free-flow speed in m/s.
- ``capacity_vph_per_lane`` (number > 0): saturation flow, veh/h per lane.
- ``jam_density_vpkm_per_lane`` (optional, default 140): veh/km per lane, above the
  critical density capacity / free speed.
- ``road_class`` (optional, default ``arterial``): ``arterial``, ``expressway`` or
  ``ramp`` (case-insensitive).
- ``shape`` (optional): the polyline the road follows, ``"x,y x,y ..."`` in metres
  (SUMO's notation; at least two points); empty means straight between the end nodes.
  Used for maps and for placing roadside devices; the length is ``length_m``.
- ``type``, ``name`` (optional): the source's road type (``highway.primary``) and the
  street name, kept for people; the model does not read them.

An empty value in an optional column means the default. Every problem is reported as an
`InputFileError` carrying the file, the 1-based physical line (the header is line 1) and
the column name, e.g. ``links.csv, line 7, column 'lanes': 0 is below 1; ...``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim._core.csv_table import check_header, read_csv_records
from v2x_sim._core.errors import InputFileError
from v2x_sim.road.network import Network, RoadClass, build_network
from v2x_sim.road.shapes import LinkShapes, parse_shape

NODE_COLUMNS = ("id", "x_m", "y_m")
LINK_COLUMNS = ("id", "from", "to", "length_m", "lanes", "free_speed_mps",
                "capacity_vph_per_lane", "jam_density_vpkm_per_lane", "road_class")
LINK_OPTIONAL = {"jam_density_vpkm_per_lane": "140", "road_class": "arterial", "shape": "",
                 "type": "", "name": ""}
SECONDS_PER_HOUR = 3600.0
METRES_PER_KM = 1000.0
_CLASSES = {c.name.lower(): c for c in RoadClass}

T = TypeVar("T")


class Row:
    """One data row: its fields by column name plus where it came from."""

    def __init__(self, path: Path, line: int, fields: dict[str, str]) -> None:
        self.path, self.line, self.fields = path, line, fields

    def error(self, column: str | None, reason: str) -> InputFileError:
        """An error naming this row's file, line and ``column``."""
        return InputFileError(self.path, reason, line=self.line, column=column)

    def _parse(self, column: str, convert: Callable[[str], T], expected: str) -> T:
        text = self.fields[column]
        try:
            return convert(text)
        except ValueError:
            shown = repr(text) if text else "empty value"
            raise self.error(column, f"{shown} is not {expected}") from None

    def identifier(self, column: str) -> str:
        """An external id: any non-empty text."""
        text = self.fields[column]
        if not text:
            raise self.error(column, "empty value; expected an id (any non-empty text)")
        return text

    def integer(self, column: str, *, minimum: int | None = None) -> int:
        """An integer, at least ``minimum``."""
        value = self._parse(column, int, "an integer")
        if minimum is not None and value < minimum:
            raise self.error(column, f"{value} is below {minimum}; expected an integer >= "
                                     f"{minimum}")
        return value

    def number(self, column: str, *, positive: bool = False, unit: str = "") -> float:
        """A finite number (``positive``: above 0); ``unit`` is named in errors."""
        value = self._parse(column, _finite, f"a finite number{unit}")
        if positive and value <= 0:
            raise self.error(column, f"{self.fields[column]!r} is not positive; expected a "
                                     f"number{unit} > 0")
        return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def read_rows(path: Path, required: tuple[str, ...], optional: dict[str, str],
                what: str) -> list[Row]:
    """Rows of a CSV file with a checked header; optional columns filled with defaults."""
    records = read_csv_records(path)
    if not records:
        raise InputFileError(path, f"file is empty; expected a header row and {what}")
    header_line, header = records[0]
    names = [name.strip() for name in header]
    check_header(path, header_line, names, required, optional)
    rows = []
    for line, record in records[1:]:
        if len(record) != len(names):
            raise InputFileError(path, f"row has {len(record)} fields; expected "
                                       f"{len(names)} ({', '.join(names)})", line=line)
        fields = {name: text.strip() for name, text in zip(names, record, strict=True)}
        for name, default in optional.items():
            if not fields.get(name):
                fields[name] = default
        rows.append(Row(path, line, fields))
    if not rows:
        raise InputFileError(path, f"no {what}: the file has a header but no data rows")
    return rows


def _unique_id(row: Row, seen: dict[str, int]) -> str:
    value = row.identifier("id")
    if value in seen:
        raise row.error("id", f"duplicate id {value!r} (first used on line {seen[value]})")
    seen[value] = row.line
    return value


def read_network_csv(nodes_path: Path, links_path: Path) -> Network:
    """Read a network from a nodes file and a links file (format in the module docstring).

    Args:
        nodes_path: the ``nodes.csv`` file.
        links_path: the ``links.csv`` file.

    Returns:
        The network in SI units, keeping the files' ids as ``node_ids`` and ``link_ids``.

    Raises:
        InputFileError: a file is missing, empty or has a bad header or row; the error
            names the file, line and column.
    """
    nodes_path, links_path = Path(nodes_path), Path(links_path)
    node_lines: dict[str, int] = {}
    x_m, y_m = [], []
    for row in read_rows(nodes_path, NODE_COLUMNS, {}, "nodes"):
        _unique_id(row, node_lines)
        x_m.append(row.number("x_m", unit=" (metres)"))
        y_m.append(row.number("y_m", unit=" (metres)"))
    node_index = {node: i for i, node in enumerate(node_lines)}

    required = tuple(c for c in LINK_COLUMNS if c not in LINK_OPTIONAL)
    link_lines: dict[str, int] = {}
    links = LinkColumns()
    for row in read_rows(links_path, required, LINK_OPTIONAL, "links"):
        _unique_id(row, link_lines)
        ends = []
        for end in ("from", "to"):
            node = row.identifier(end)
            if node not in node_index:
                raise row.error(end, f"unknown node id {node!r}; expected an id listed in "
                                     f"{nodes_path.name}")
            ends.append(node_index[node])
        links.add(row, ends[0], ends[1])
    return links.build(node_ids=list(node_lines), x_m=x_m, y_m=y_m, link_ids=list(link_lines))


class LinkColumns:
    """Link attributes gathered row by row from a file, checked and converted to SI.

    Shared by the readers of ``links.csv`` and of a run's ``network.csv``, which hold the
    same attribute columns under the same names.
    """

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {c: [] for c in (
            "from_node", "to_node", "length_m", "lanes", "free_speed_mps",
            "capacity_vps_per_lane", "jam_density_vpm_per_lane", "road_class")}
        self.polylines: list[tuple[list[float], list[float]] | None] = []

    def add(self, row: Row, from_node: int, to_node: int) -> None:
        """Check and keep one row's link (end points given as node indices)."""
        cols = self.cols
        if from_node == to_node:
            raise row.error("to", f"from == to ({row.fields['to']}); a link must join two "
                                  "different nodes")
        cols["from_node"].append(from_node)
        cols["to_node"].append(to_node)
        cols["length_m"].append(row.number("length_m", positive=True, unit=" (metres)"))
        cols["lanes"].append(row.integer("lanes", minimum=1))
        speed = row.number("free_speed_mps", positive=True, unit=" (m/s)")
        capacity = row.number("capacity_vph_per_lane", positive=True, unit=" (veh/h/lane)")
        jam = row.number("jam_density_vpkm_per_lane", positive=True, unit=" (veh/km/lane)")
        critical = capacity / SECONDS_PER_HOUR / speed * METRES_PER_KM
        if jam <= critical:
            raise row.error("jam_density_vpkm_per_lane",
                            f"{row.fields['jam_density_vpkm_per_lane']!r} veh/km/lane must "
                            f"exceed the critical density capacity / free speed = "
                            f"{critical:.4g} veh/km/lane")
        name = row.fields["road_class"].lower()
        if name not in _CLASSES:
            raise row.error("road_class", f"{row.fields['road_class']!r} is not a road class; "
                                          f"expected one of {', '.join(_CLASSES)}")
        cols["free_speed_mps"].append(speed)
        cols["capacity_vps_per_lane"].append(capacity / SECONDS_PER_HOUR)
        cols["jam_density_vpm_per_lane"].append(jam / METRES_PER_KM)
        cols["road_class"].append(int(_CLASSES[name]))
        self.polylines.append(_shape(row))

    def build(self, *, node_ids: list[str], x_m: list[float], y_m: list[float],
              link_ids: list[str]) -> Network:
        """The network of the gathered links."""
        shapes = LinkShapes.from_polylines(self.polylines) if any(self.polylines) else None
        return build_network(node_ids=node_ids, x_m=x_m, y_m=y_m, link_ids=link_ids,
                             shapes=shapes, **self.cols)


def _shape(row: Row) -> tuple[list[float], list[float]] | None:
    text = row.fields.get("shape", "")
    if not text:
        return None
    try:
        return parse_shape(text)
    except ValueError as exc:
        raise row.error("shape", str(exc)) from None


def scaled_float(value: float, factor: float) -> float:
    """``value * factor``, chosen so that dividing it by ``factor`` gives back ``value``.

    The product is rounded, so its neighbours are tried too. Values produced from round
    engineering numbers come back exactly; for arbitrary floats (about one in ten for
    a factor of 3600) none does, and the result is one ulp off after reading.
    """
    guess = float(value) * factor
    for candidate in (guess, math.nextafter(guess, math.inf), math.nextafter(guess, -math.inf)):
        if candidate / factor == value:
            return candidate
    return guess


def scaled_text(value: float, factor: float) -> str:
    """`scaled_float` as text that reads back exactly."""
    return repr(scaled_float(value, factor))


def _write_atomic(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    """Write a CSV to a temporary file beside ``path``, then rename it over ``path``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def write_network_csv(network: Network, folder: Path) -> tuple[Path, Path]:
    """Write ``nodes.csv`` and ``links.csv`` into ``folder`` (created if missing).

    Each file is written under a temporary name and renamed into place, so a reader never
    sees a half-written file. `read_network_csv` gives back an equal network.

    Args:
        network: the network to write.
        folder: destination folder.

    Returns:
        The paths of the nodes file and the links file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nodes_path, links_path = folder / "nodes.csv", folder / "links.csv"
    n = network
    _write_atomic(nodes_path, NODE_COLUMNS, [
        [str(n.node_ids[i]), repr(float(n.x_m[i])), repr(float(n.y_m[i]))]
        for i in range(n.n_nodes)
    ])
    ids, shapes = n.node_ids, n.shapes
    header = LINK_COLUMNS + (("shape",) if shapes is not None else ())
    _write_atomic(links_path, header, [
        [str(n.link_ids[i]), str(ids[n.from_node[i]]), str(ids[n.to_node[i]]),
         repr(float(n.length_m[i])), str(int(n.lanes[i])), repr(float(n.free_speed_mps[i])),
         scaled_text(float(n.capacity_vps_per_lane[i]), SECONDS_PER_HOUR),
         scaled_text(float(n.jam_density_vpm_per_lane[i]), METRES_PER_KM),
         RoadClass(int(n.road_class[i])).name.lower()]
        + ([shapes.text(i)] if shapes is not None else [])
        for i in range(n.n_links)
    ])
    return nodes_path, links_path
