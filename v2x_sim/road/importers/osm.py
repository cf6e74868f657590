"""OpenStreetMap to the project's network: ways split into links at junctions.

Roads for cars are the ways tagged ``highway`` with a type in `CAR_TYPES` (``service``
roads, tracks, paths and construction are left out, as are ways closed to the public:
``access=no|private``, ``motor_vehicle=no``, ``area=yes``). A way is cut at every node it
shares with another road and at its ends; each piece becomes one link per direction
of travel (``oneway=yes|-1``, roundabouts and motorways are one-way; ``oneway=no``
undoes the implication).

Ids: nodes keep their OSM ids; a link is ``{way}#{k}`` for the k-th piece of the way in
its drawing direction and ``-{way}#{k}`` against it (as SUMO's netconvert names them);
``ids.csv`` maps each link to its way. Attributes: ``maxspeed`` (km/h, ``mph`` and
``:forward``/``:backward`` understood), ``lanes`` (``lanes:forward``/``:backward``;
a two-way total is halved), name and type; what is missing comes from the road-type
table (`v2x_sim.road.importers.road_types`). Lengths are geodesic; coordinates are the
UTM zone of the data (`projection`). Turn movements (``connections.csv``): every
incoming to outgoing link at a junction except U-turns (kept at dead ends), less the
``no_*`` restrictions and all but the allowed turn of ``only_*`` ones. Traffic signals
are tagged on nodes without timing: they are counted in the notes, not converted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from v2x_sim._core.errors import InputFileError
from v2x_sim.road.importers.common import (
    ImportedLink,
    ImportedNetwork,
    keep_largest_part,
    ordered_nodes,
)
from v2x_sim.road.importers.osm_read import OsmData, Way, read_osm
from v2x_sim.road.importers.projection import Projection, utm_projection
from v2x_sim.road.importers.road_types import KMH, capped_capacity_vph, road_type

CAR_TYPES = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "living_street", "motorway_link", "trunk_link", "primary_link", "secondary_link",
    "tertiary_link", "road"})
_YES = {"yes", "true", "1"}
_MPH = 1.609344


@dataclass(frozen=True, slots=True)
class _Piece:
    """A piece of a way between two junctions."""

    way: Way
    k: int
    nodes: list[int]


def import_osm(path: str | Path, *, all_parts: bool = False) -> ImportedNetwork:
    """Read an OpenStreetMap extract (XML, gzip/bzip2 XML, or PBF) as a network.

    Args:
        path: the ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.
        all_parts: keep every part of the network; by default only the largest
            strongly connected part (extracts cut roads at their edge).

    Raises:
        InputFileError: unreadable file, or no road for cars in it.
        MissingExtraError: pyproj (or pyosmium for PBF) is not installed.
    """
    path = Path(path)
    data = read_osm(path)
    roads = [w for w in data.ways if _is_car_road(w.tags)]
    pieces = _split(roads, data)
    if not pieces:
        raise InputFileError(path, "no road for cars (highway=motorway ... residential) with "
                                   "at least two nodes inside the extract")
    used = sorted({n for p in pieces for n in p.nodes})
    lon = [data.coords[n][0] for n in used]
    lat = [data.coords[n][1] for n in used]
    projection = utm_projection(lon, lat, "importing OpenStreetMap data")
    x, y = projection.xy(lon, lat)
    xy = dict(zip(used, zip(x, y, strict=True), strict=True))
    links, id_map = [], []
    for piece in pieces:
        for link, forward in _links(piece, data, projection, xy):
            links.append(link)
            id_map.append({"kind": "link", "id": link.id, "source_id": str(piece.way.id),
                           "detail": f"way {piece.way.id} piece {piece.k} "
                                     f"{'along' if forward else 'against'} its drawing"})
    ends = {n: xy[n] for p in pieces for n in (p.nodes[0], p.nodes[-1])}
    coords = {str(n): v for n, v in ends.items()}
    node_ids, x_m, y_m = ordered_nodes(coords, links)
    notes = [f"{len(roads)} of {len(data.ways)} highway ways are roads for cars",
             f"{len(data.signals)} nodes tagged highway=traffic_signals (no timing in OSM: "
             "the scenario's signals apply)"]
    if data.skipped_restrictions:
        notes.append(f"{data.skipped_restrictions} turn restrictions via a way left out")
    imported = ImportedNetwork(
        source="osm", source_path=str(path), node_ids=node_ids, x_m=x_m, y_m=y_m,
        links=links, connections=_connections(links, coords, data), id_map=id_map,
        crs=projection.crs, offset_m=projection.offset_m, notes=notes)
    return imported if all_parts else keep_largest_part(imported)


def _is_car_road(tags: dict[str, str]) -> bool:
    if tags.get("highway") not in CAR_TYPES or tags.get("area") == "yes":
        return False
    if tags.get("access") in ("no", "private") or tags.get("motor_vehicle") == "no":
        return False
    return tags.get("motorcar") != "no"


def _split(roads: list[Way], data: OsmData) -> list[_Piece]:
    """Cut ways into pieces at junctions (shared nodes, way ends, missing nodes)."""
    runs: list[tuple[Way, list[int]]] = []
    for way in roads:
        run: list[int] = []
        for node in way.nodes:
            if node in data.coords:
                run.append(node)
                continue
            if len(run) >= 2:
                runs.append((way, run))
            run = []
        if len(run) >= 2:
            runs.append((way, run))
    uses: dict[int, int] = defaultdict(int)
    for _, run in runs:
        for node in run:
            uses[node] += 1
        uses[run[0]] += 1
        uses[run[-1]] += 1
    pieces: list[_Piece] = []
    counter: dict[int, int] = defaultdict(int)
    for way, run in runs:
        start = 0
        for i in range(1, len(run)):
            if uses[run[i]] >= 2 or i == len(run) - 1:
                for part in _unloop(run[start:i + 1]):
                    pieces.append(_Piece(way, counter[way.id], part))
                    counter[way.id] += 1
                start = i
    return pieces


def _unloop(nodes: list[int]) -> list[list[int]]:
    """A piece that starts where it ends is cut in two at its middle node."""
    if nodes[0] != nodes[-1]:
        return [nodes] if len(set(nodes)) > 1 else []
    if len(nodes) < 4:  # a->b->a: the same road twice, or a point
        return []
    mid = len(nodes) // 2
    return [nodes[:mid + 1], nodes[mid:]]


def _directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """(along, against) the way's drawing direction."""
    oneway = tags.get("oneway", "").lower()
    if oneway in _YES:
        return True, False
    if oneway in ("-1", "reverse"):
        return False, True
    implied = (tags.get("junction") in ("roundabout", "circular")
               or tags.get("highway") == "motorway")
    if implied and oneway != "no":
        return True, False
    return True, True


def _speed_kmh(text: str | None) -> float | None:
    if not text:
        return None
    value = text.split(";")[0].strip().lower()
    factor = _MPH if value.endswith("mph") else 1.0
    value = value.removesuffix("mph").removesuffix("km/h").removesuffix("kmh").strip()
    try:
        speed = float(value) * factor
    except ValueError:
        return None  # "none", "walk", zone codes such as "FI:urban": use the type default
    return speed if speed > 0 else None


def _lanes(tags: dict[str, str], forward: bool, two_way: bool, default: int) -> int:
    key = "lanes:forward" if forward else "lanes:backward"
    for text in (tags.get(key), None if two_way else tags.get("lanes")):
        if text and text.strip().isdigit() and int(text) > 0:
            return int(text)
    total = tags.get("lanes", "")
    if two_way and total.strip().isdigit() and int(total) > 0:
        return max(1, int(total) // 2)
    return default


def _links(piece: _Piece, data: OsmData, projection: Projection,
           xy: dict[int, tuple[float, float]]) -> list[tuple[ImportedLink, bool]]:
    tags = piece.way.tags
    kind = tags["highway"]
    defaults = road_type(kind)
    along, against = _directions(tags)
    nodes = piece.nodes
    lon = [data.coords[n][0] for n in nodes]
    lat = [data.coords[n][1] for n in nodes]
    length = max(projection.length_m(lon, lat), 0.1)
    out = []
    for forward, wanted in ((True, along), (False, against)):
        if not wanted:
            continue
        seq = nodes if forward else nodes[::-1]
        speed_kmh = (_speed_kmh(tags.get("maxspeed:forward" if forward else "maxspeed:backward"))
                     or _speed_kmh(tags.get("maxspeed")) or defaults.speed_kmh)
        speed = speed_kmh * KMH
        shape = None
        if len(seq) > 2:
            shape = ([xy[n][0] for n in seq], [xy[n][1] for n in seq])
        ident = f"{'' if forward else '-'}{piece.way.id}#{piece.k}"
        out.append((ImportedLink(
            id=ident, from_node=str(seq[0]), to_node=str(seq[-1]), length_m=length,
            lanes=_lanes(tags, forward, along and against, defaults.lanes),
            free_speed_mps=speed,
            capacity_vph_per_lane=capped_capacity_vph(defaults.capacity_vph_per_lane, speed),
            road_class=defaults.road_class, type=f"highway.{kind}",
            name=tags.get("name", ""), shape=shape), forward))
    return out


def _connections(links: list[ImportedLink], coords: dict[str, tuple[float, float]],
                 data: OsmData) -> list[dict[str, str]]:
    """Movements at every junction: all turns but U-turns (kept at dead ends), restricted."""
    incoming: dict[str, list[ImportedLink]] = defaultdict(list)
    outgoing: dict[str, list[ImportedLink]] = defaultdict(list)
    for link in links:
        incoming[link.to_node].append(link)
        outgoing[link.from_node].append(link)
    banned, only = _restricted(links, data)
    rows = []
    for node, ins in incoming.items():
        outs = outgoing.get(node, [])
        for a in ins:
            choices = [b for b in outs if not _same_road(a, b)]
            if not choices:  # a dead end: turning back is the only way on
                choices = outs
            if a.id in only:
                choices = [b for b in choices if b.id in only[a.id]]
            for b in choices:
                if (a.id, b.id) in banned:
                    continue
                rows.append({"node": node, "from_link": a.id, "to_link": b.id,
                             "dir": _turn(a, b, coords), "from_lanes": "", "to_lanes": ""})
    return rows


def _same_road(a: ImportedLink, b: ImportedLink) -> bool:
    """Whether ``b`` is ``a`` driven back (the same way piece, other direction)."""
    return a.id.lstrip("-") == b.id.lstrip("-")


def _restricted(links: list[ImportedLink], data: OsmData) -> tuple[
        set[tuple[str, str]], dict[str, set[str]]]:
    """(banned pairs, allowed targets of ``only_*`` approaches) from turn restrictions."""
    into: dict[tuple[int, str], list[str]] = defaultdict(list)
    out_of: dict[tuple[int, str], list[str]] = defaultdict(list)
    for link in links:
        way = int(link.id.lstrip("-").split("#")[0])
        into[(way, link.to_node)].append(link.id)
        out_of[(way, link.from_node)].append(link.id)
    banned: set[tuple[str, str]] = set()
    only: dict[str, set[str]] = defaultdict(set)
    for r in data.restrictions:
        via = str(r.via_node)
        pairs = [(a, b) for a in into.get((r.from_way, via), [])
                 for b in out_of.get((r.to_way, via), [])]
        if r.kind.startswith("no_"):
            banned.update(pairs)
        elif r.kind.startswith("only_"):
            for a, b in pairs:
                only[a].add(b)
    return banned, only


def _heading(link: ImportedLink, at_end: bool, coords: dict[str, tuple[float, float]]
             ) -> float:
    """Direction of travel at the link's end (or start), from its shape or end nodes."""
    if link.shape:
        xs, ys = link.shape
        (x0, y0), (x1, y1) = (((xs[-2], ys[-2]), (xs[-1], ys[-1])) if at_end
                              else ((xs[0], ys[0]), (xs[1], ys[1])))
    else:
        (x0, y0), (x1, y1) = coords[link.from_node], coords[link.to_node]
    return math.atan2(y1 - y0, x1 - x0)


def _turn(a: ImportedLink, b: ImportedLink, coords: dict[str, tuple[float, float]]) -> str:
    """SUMO's turn letter from the change of heading (left is counter-clockwise)."""
    if _same_road(a, b):
        return "t"
    ha, hb = _heading(a, True, coords), _heading(b, False, coords)
    angle = math.degrees((hb - ha + math.pi) % (2 * math.pi) - math.pi)
    if abs(angle) < 30:
        return "s"
    if abs(angle) > 150:
        return "t"
    return "l" if angle > 0 else "r"
