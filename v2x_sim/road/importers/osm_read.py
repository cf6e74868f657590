"""Reading OpenStreetMap data: XML (``.osm``, ``.osm.gz``, ``.osm.bz2``) and PBF.

OSM XML is plain XML, read here with the standard library's streaming parser (no extra
needed); the binary PBF format needs pyosmium (``pip install 'v2x-sim[osm]'``). Both
give the same `OsmData`: the ways tagged ``highway``, the coordinates of their nodes,
the nodes tagged as traffic signals, and turn restrictions.
"""

from __future__ import annotations

import bz2
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import InputFileError
from v2x_sim.road.importers.projection import require
from v2x_sim.road.importers.xml_stream import xml_children


@dataclass(frozen=True, slots=True)
class Way:
    """An OSM way: id, node ids in order, tags."""

    id: int
    nodes: list[int]
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class Restriction:
    """A turn restriction (``type=restriction``) whose via member is a node."""

    id: int
    kind: str
    from_way: int
    via_node: int
    to_way: int


@dataclass
class OsmData:
    """What the importer needs from an OSM file."""

    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: list[Way] = field(default_factory=list)
    signals: set[int] = field(default_factory=set)
    restrictions: list[Restriction] = field(default_factory=list)
    skipped_restrictions: int = 0


def read_osm(path: Path) -> OsmData:
    """Read an OSM file; the format follows the name (``.pbf`` is binary, else XML).

    Raises:
        InputFileError: the file is missing or is not OSM data (naming the line for XML).
        MissingExtraError: a PBF file and pyosmium is not installed.
    """
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.name.lower().endswith(".pbf"):
        return _read_pbf(path)
    return _read_xml(path)


def _open(path: Path) -> Any:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return path.open("rb")


def _read_xml(path: Path) -> OsmData:
    data = OsmData()
    with _open(path) as handle:
        for elem in xml_children(handle, path, "osm", "an OpenStreetMap XML file"):
            _take(elem, data, path)
    return data


def _take(elem: Any, data: OsmData, path: Path) -> None:
    tag = elem.tag
    if tag not in ("node", "way", "relation"):
        return
    try:
        ident = int(elem.get("id"))
        tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
        if tag == "node":
            data.coords[ident] = (float(elem.get("lon")), float(elem.get("lat")))
            if tags.get("highway") == "traffic_signals":
                data.signals.add(ident)
        elif tag == "way":
            if "highway" in tags:
                data.ways.append(Way(ident, [int(nd.get("ref")) for nd in elem.iter("nd")],
                                     tags))
        elif tags.get("type") == "restriction":
            members = [(m.get("type"), m.get("role"), int(m.get("ref")))
                       for m in elem.iter("member")]
            _restriction(ident, tags, members, data)
    except (TypeError, ValueError):
        raise InputFileError(path, f"<{tag} id={elem.get('id')!r}> has a missing or "
                                   "malformed id, coordinate or reference") from None


def _restriction(ident: int, tags: dict[str, str], members: list[tuple[str, str, int]],
                 data: OsmData) -> None:
    kind = tags.get("restriction", "")
    by_role = {role: (kind_, ref) for kind_, role, ref in members}
    if not kind or not all(r in by_role for r in ("from", "via", "to")):
        return
    if by_role["via"][0] != "node" or by_role["from"][0] != "way" or by_role["to"][0] != "way":
        data.skipped_restrictions += 1  # via a way: rare, left out
        return
    data.restrictions.append(Restriction(ident, kind, by_role["from"][1], by_role["via"][1],
                                         by_role["to"][1]))


def _read_pbf(path: Path) -> OsmData:
    osmium = require("osmium", "osmium", "osm", "reading OpenStreetMap PBF files")
    data = OsmData()

    class Handler(osmium.SimpleHandler):  # type: ignore[misc, name-defined]
        def node(self, n: Any) -> None:
            data.coords[n.id] = (n.location.lon, n.location.lat)
            if n.tags.get("highway") == "traffic_signals":
                data.signals.add(n.id)

        def way(self, w: Any) -> None:
            if "highway" in w.tags:
                data.ways.append(Way(w.id, [nd.ref for nd in w.nodes],
                                     {t.k: t.v for t in w.tags}))

        def relation(self, r: Any) -> None:
            if r.tags.get("type") == "restriction":
                members = [(m.type, m.role, m.ref) for m in r.members]
                kinds = {"n": "node", "w": "way", "r": "relation"}
                _restriction(r.id, {t.k: t.v for t in r.tags},
                             [(kinds.get(t, t), role, ref) for t, role, ref in members], data)

    try:
        Handler().apply_file(str(path))
    except RuntimeError as exc:
        raise InputFileError(path, f"not a readable OSM PBF file: {exc}") from None
    return data
