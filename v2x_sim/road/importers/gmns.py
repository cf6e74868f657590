"""GMNS (General Modeling Network Specification) folder to the project's network.

Reads ``node.csv`` (``node_id, x_coord, y_coord``) and ``link.csv`` (``link_id,
from_node_id, to_node_id`` and, when present, ``directed, length, lanes, free_speed,
capacity, facility_type`` or ``link_type_name``, ``name, allowed_uses, geometry,
geometry_id, dir_flag``), ``geometry.csv`` for ``geometry_id`` references,
``movement.csv`` as turn movements and ``config.csv`` for units and coordinates. Other
columns and files are ignored.

Units: ``config.csv``'s ``long_length`` (m, km, mi, ft) and ``speed`` (km/h, mph, m/s);
without it, metres and km/h (what osm2gmns writes). Coordinates: ``crs`` in
``config.csv``; geographic ones (EPSG:4326) are projected to UTM (needs pyproj), other
ones are taken as metres; without ``crs``, coordinates that all look like longitude
and latitude are taken as such (noted). Capacities are per lane, as GMNS defines them.
An undirected link (``directed`` false) becomes two links, the second named
``-{link_id}`` (listed in ``ids.csv``). Links whose ``allowed_uses`` name no motor
vehicle, or with 0 lanes, are left out (noted).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from v2x_sim._core.csv_table import read_csv_records
from v2x_sim._core.errors import InputFileError
from v2x_sim.road.importers.common import ImportedLink, ImportedNetwork, ordered_nodes
from v2x_sim.road.importers.projection import utm_projection
from v2x_sim.road.importers.road_types import KMH, capped_capacity_vph, road_type

LENGTH_M = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
            "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0, "mi": 1609.344,
            "mile": 1609.344, "miles": 1609.344, "ft": 0.3048, "feet": 0.3048, "foot": 0.3048}
SPEED_MPS = {"kph": KMH, "km/h": KMH, "kmh": KMH, "kmph": KMH, "mph": 1609.344 / 3600.0,
             "m/s": 1.0, "mps": 1.0}
MOTOR_USES = {"auto", "car", "cars", "drive", "vehicle", "vehicles", "all", "motor_vehicle",
              "sov", "hov", "truck", "bus"}
_TURNS = {"left": "l", "right": "r", "thru": "s", "through": "s", "uturn": "t"}
_TRUE = {"1", "true", "t", "yes", "y"}

Row = tuple[int, dict[str, str]]


def _table(path: Path, required: tuple[str, ...]) -> list[Row]:
    """(line, fields) rows of a GMNS CSV; unknown columns are fine, required ones not."""
    records = read_csv_records(path)
    if not records:
        raise InputFileError(path, "file is empty; expected a header row")
    header_line, header = records[0]
    names = [h.strip() for h in header]
    for name in required:
        if name not in names:
            raise InputFileError(path, f"required column {name!r} is missing",
                                 line=header_line, column=name)
    rows = []
    for line, record in records[1:]:
        if len(record) != len(names):
            raise InputFileError(path, f"row has {len(record)} fields; expected {len(names)}",
                                 line=line)
        rows.append((line, {n: v.strip() for n, v in zip(names, record, strict=True)}))
    return rows


def _number(path: Path, line: int, fields: dict[str, str], column: str) -> float | None:
    text = fields.get(column, "")
    if text == "" or text.lower() == "nan":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(path, f"{text!r} is not a number", line=line,
                             column=column) from None
    if not math.isfinite(value) or value < 0:
        raise InputFileError(path, f"{text!r} is not a finite number >= 0", line=line,
                             column=column)
    return value


def _wkt_line(path: Path, line: int, column: str, text: str) -> tuple[list[float], list[float]]:
    match = re.fullmatch(r"\s*LINESTRING\s*\((.*)\)\s*", text, flags=re.IGNORECASE)
    if match is None:
        raise InputFileError(path, f"{text[:40]!r} is not a WKT LINESTRING", line=line,
                             column=column)
    xs, ys = [], []
    for point in match.group(1).split(","):
        parts = point.split()
        try:
            xs.append(float(parts[0]))
            ys.append(float(parts[1]))
        except (IndexError, ValueError):
            raise InputFileError(path, f"point {point.strip()!r} is not 'x y'", line=line,
                                 column=column) from None
    return xs, ys


def _config(folder: Path) -> dict[str, str]:
    path = folder / "config.csv"
    if not path.exists():
        return {}
    rows = _table(path, ())
    return rows[0][1] if rows else {}


def _unit(table: dict[str, float], text: str | None, default: float, path: Path,
          column: str) -> float:
    if not text:
        return default
    factor = table.get(text.strip().lower())
    if factor is None:
        raise InputFileError(path, f"unknown unit {text!r}; expected one of "
                                   f"{', '.join(sorted(table))}", column=column)
    return factor


def import_gmns(folder: str | Path) -> ImportedNetwork:
    """Read a GMNS network folder (format in the module docstring).

    Raises:
        InputFileError: a missing file or column, a malformed value (file, line, column),
            or an unknown unit.
        MissingExtraError: geographic coordinates and pyproj is not installed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder; expected a GMNS folder with node.csv and "
                                     "link.csv")
    config = _config(folder)
    config_path = folder / "config.csv"
    to_m = _unit(LENGTH_M, config.get("long_length"), 1.0, config_path, "long_length")
    to_mps = _unit(SPEED_MPS, config.get("speed"), KMH, config_path, "speed")
    notes = [] if config else ["no config.csv: lengths taken in metres, speeds in km/h"]

    node_path = folder / "node.csv"
    raw_nodes: dict[str, tuple[float, float]] = {}
    for line, fields in _table(node_path, ("node_id", "x_coord", "y_coord")):
        x = _coordinate(node_path, line, fields, "x_coord")
        y = _coordinate(node_path, line, fields, "y_coord")
        if fields["node_id"] in raw_nodes:
            raise InputFileError(node_path, f"duplicate node_id {fields['node_id']!r}",
                                 line=line, column="node_id")
        raw_nodes[fields["node_id"]] = (x, y)
    if not raw_nodes:
        raise InputFileError(node_path, "no nodes: the file has a header but no rows")
    project = _projector(config.get("crs", ""), raw_nodes, notes)
    px, py = project([p[0] for p in raw_nodes.values()], [p[1] for p in raw_nodes.values()])
    nodes = dict(zip(raw_nodes, zip(px, py, strict=True), strict=True))
    geometries = _geometries(folder)
    links, id_map, skipped = _links(folder / "link.csv", nodes, geometries, project,
                                    to_m, to_mps)
    if skipped:
        notes.append(f"{skipped} links without motor vehicles (allowed_uses, 0 lanes) left out")
    if not links:
        raise InputFileError(folder / "link.csv", "no link that cars may use")
    node_ids, x_m, y_m = ordered_nodes(nodes, links)
    known = {link.id for link in links}
    crs = getattr(project, "crs", None) or config.get("crs") or None
    return ImportedNetwork(
        source="gmns", source_path=str(folder), node_ids=node_ids, x_m=x_m, y_m=y_m,
        links=links, connections=_movements(folder, known, links), id_map=id_map, crs=crs,
        offset_m=getattr(project, "offset_m", (0.0, 0.0)), notes=notes)


def _coordinate(path: Path, line: int, fields: dict[str, str], column: str) -> float:
    value = _number_signed(path, line, fields, column)
    if value is None:
        raise InputFileError(path, "empty value; expected a coordinate", line=line,
                             column=column)
    return value


def _number_signed(path: Path, line: int, fields: dict[str, str], column: str) -> float | None:
    text = fields.get(column, "")
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputFileError(path, f"{text!r} is not a finite number", line=line,
                             column=column)
    return value


class _Planar:
    """Coordinates already in metres: kept as they are."""

    crs = None
    offset_m = (0.0, 0.0)

    def __call__(self, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
        return list(xs), list(ys)

    def length_m(self, xs: list[float], ys: list[float]) -> float:
        return sum(math.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) for i in range(len(xs) - 1))


class _Geographic:
    """Longitude/latitude projected to UTM; lengths geodesic."""

    def __init__(self, lon: list[float], lat: list[float]) -> None:
        self.projection = utm_projection(lon, lat, "importing GMNS in longitude/latitude")
        self.crs = self.projection.crs
        self.offset_m = self.projection.offset_m

    def __call__(self, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
        return self.projection.xy(xs, ys)

    def length_m(self, xs: list[float], ys: list[float]) -> float:
        return self.projection.length_m(xs, ys)


def _projector(crs: str, nodes: dict[str, tuple[float, float]], notes: list[str]
               ) -> _Planar | _Geographic:
    xs = [p[0] for p in nodes.values()]
    ys = [p[1] for p in nodes.values()]
    geographic = crs.strip().upper() in ("EPSG:4326", "4326", "WGS84", "WGS 84", "CRS84",
                                         "OGC:CRS84")
    if not crs:
        geographic = max(map(abs, xs)) <= 180 and max(map(abs, ys)) <= 90
        notes.append("no crs in config.csv: coordinates taken as "
                     + ("longitude/latitude" if geographic else "metres"))
    elif not geographic:
        notes.append(f"crs {crs}: coordinates taken as metres")
    return _Geographic(xs, ys) if geographic else _Planar()


def _geometries(folder: Path) -> dict[str, tuple[int, str]]:
    path = folder / "geometry.csv"
    if not path.exists():
        return {}
    return {f["geometry_id"]: (line, f.get("geometry", ""))
            for line, f in _table(path, ("geometry_id", "geometry"))}


def _links(path: Path, nodes: dict[str, tuple[float, float]],
           geometries: dict[str, tuple[int, str]], project: _Planar | _Geographic,
           to_m: float, to_mps: float) -> tuple[list[ImportedLink], list[dict[str, str]], int]:
    links: list[ImportedLink] = []
    id_map: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    skipped = 0
    rows = _table(path, ("link_id", "from_node_id", "to_node_id"))
    for line, f in rows:
        ident = f["link_id"]
        if ident in seen:
            raise InputFileError(path, f"duplicate link_id {ident!r} (first on line "
                                       f"{seen[ident]})", line=line, column="link_id")
        seen[ident] = line
        for column in ("from_node_id", "to_node_id"):
            if f[column] not in nodes:
                raise InputFileError(path, f"unknown node {f[column]!r}; expected a node_id "
                                           "of node.csv", line=line, column=column)
        uses = {u.strip().lower() for u in f.get("allowed_uses", "").replace(";", ",").split(",")
                if u.strip()}
        lanes_given = _number(path, line, f, "lanes")
        if (uses and not uses & MOTOR_USES) or lanes_given == 0:
            skipped += 1
            continue
        kind = f.get("facility_type") or f.get("link_type_name") or ""
        defaults = road_type(kind)
        shape_raw = None
        text = f.get("geometry", "")
        column = "geometry"
        if not text and f.get("geometry_id") in geometries:
            text = geometries[f["geometry_id"]][1]
            column = "geometry_id"
        if text:
            shape_raw = _wkt_line(path, line, column, text)
            if f.get("dir_flag", "1").strip() == "-1":
                shape_raw = (shape_raw[0][::-1], shape_raw[1][::-1])
        length = _number(path, line, f, "length")
        if length is not None and length > 0:
            length_m = length * to_m
        elif shape_raw is not None:
            length_m = project.length_m(*shape_raw)
        else:
            (x0, y0), (x1, y1) = nodes[f["from_node_id"]], nodes[f["to_node_id"]]
            length_m = math.hypot(x1 - x0, y1 - y0)
        speed = _number(path, line, f, "free_speed")
        speed_mps = speed * to_mps if speed else defaults.speed_kmh * KMH
        capacity = _number(path, line, f, "capacity") or defaults.capacity_vph_per_lane
        shape = project(*shape_raw) if shape_raw is not None and len(shape_raw[0]) > 2 else None
        base = ImportedLink(
            id=ident, from_node=f["from_node_id"], to_node=f["to_node_id"],
            length_m=max(length_m, 0.1),
            lanes=int(lanes_given) if lanes_given else defaults.lanes,
            free_speed_mps=speed_mps,
            capacity_vph_per_lane=capped_capacity_vph(capacity, speed_mps),
            road_class=defaults.road_class, type=kind, name=f.get("name", ""), shape=shape)
        links.append(base)
        if f.get("directed", "true").strip().lower() not in _TRUE:
            reverse = f"-{ident}"
            while reverse in seen:
                reverse = f"-{reverse}"
            seen[reverse] = line
            links.append(ImportedLink(
                id=reverse, from_node=base.to_node, to_node=base.from_node,
                length_m=base.length_m, lanes=base.lanes, free_speed_mps=base.free_speed_mps,
                capacity_vph_per_lane=base.capacity_vph_per_lane, road_class=base.road_class,
                type=base.type, name=base.name,
                shape=(shape[0][::-1], shape[1][::-1]) if shape else None))
            id_map.append({"kind": "link", "id": reverse, "source_id": ident,
                           "detail": f"undirected link {ident}, travelled from its to_node"})
    return links, id_map, skipped


def _movements(folder: Path, known: set[str], links: list[ImportedLink]
               ) -> list[dict[str, str]]:
    path = folder / "movement.csv"
    if not path.exists():
        return []
    lanes = {link.id: link.lanes for link in links}
    rows = []
    for _, f in _table(path, ("node_id", "ib_link_id", "ob_link_id")):
        a, b = f["ib_link_id"], f["ob_link_id"]
        if a not in known or b not in known:
            continue
        rows.append({"node": f["node_id"], "from_link": a, "to_link": b,
                     "dir": _TURNS.get(f.get("type", "").lower(), ""),
                     "from_lanes": _lane_range(f, "ib", lanes[a]),
                     "to_lanes": _lane_range(f, "ob", lanes[b])})
    return rows


def _lane_range(f: dict[str, str], side: str, lanes: int) -> str:
    """GMNS numbers lanes from the inside (1 = leftmost); ours count from the right."""
    try:
        start = int(f.get(f"start_{side}_lane", ""))
    except ValueError:
        return ""
    end_text = f.get(f"end_{side}_lane", "")
    end = int(end_text) if end_text.lstrip("-").isdigit() else start
    numbers = [k for k in range(min(start, end), max(start, end) + 1) if 1 <= k <= lanes]
    return " ".join(str(lanes - k) for k in sorted(numbers, reverse=True))
