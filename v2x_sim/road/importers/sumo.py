"""SUMO ``.net.xml`` to the project's network, movements and signal plans.

A SUMO network is plain XML, read here with a small streaming parser (no sumolib:
the format's few elements are simpler to read directly than to wrap). What is kept:

- **Links**: every edge except internal, crossing, walking-area and connector edges,
  and edges with no lane a passenger car may use (``allow``/``disallow``). Ids are the
  edge ids; lanes are the car lanes; the speed is their highest; the length runs from
  junction centre to junction centre (SUMO's lane lengths stop at the junction's border
  while our junctions are points, so the longer of the two is taken); ``type``, ``name``
  and the edge ``shape`` are copied. Capacity comes from the road-type table by type.
- **Nodes**: the junctions the kept edges join, with their ids and coordinates.
- **Movements** (``connections.csv``): one row per (from edge, to edge) with the car
  lanes used on each side (0 the rightmost car lane) and SUMO's turn letter.
- **Signals** (``signals.csv``): each traffic-light program becomes, per approach edge
  and per movement, the displayed green window within the cycle, the amber after it,
  the all-red after that (phases where no movement of the junction has green) and the
  program's offset. A movement is green in a phase when its state is ``G``, ``g`` or
  ``s``; amber when ``y``/``Y``. Where a movement is green in more than one window per
  cycle the longest is kept (noted). Actuated programs are taken at their default
  phase durations (noted).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2x_sim._core.errors import InputFileError
from v2x_sim.road.importers.common import (
    ImportedLink,
    ImportedNetwork,
    keep_largest_part,
    ordered_nodes,
)
from v2x_sim.road.importers.road_types import capped_capacity_vph, road_type
from v2x_sim.road.importers.xml_stream import xml_children
from v2x_sim.road.shapes import parse_shape, polyline_length_m

SKIPPED_FUNCTIONS = frozenset({"internal", "crossing", "walkingarea", "connector"})
GREEN, AMBER = frozenset("GgsoO"), frozenset("yY")


@dataclass
class _Edge:
    id: str
    from_node: str
    to_node: str
    car_lanes: list[int]
    speed_mps: float
    lane_length_m: float
    type: str
    name: str
    shape: tuple[list[float], list[float]] | None


@dataclass
class _Program:
    id: str
    offset_s: float
    actuated: bool
    durations: list[float] = field(default_factory=list)
    states: list[str] = field(default_factory=list)


@dataclass
class _Net:
    edges: dict[str, _Edge] = field(default_factory=dict)
    junctions: dict[str, tuple[float, float]] = field(default_factory=dict)
    connections: list[dict[str, str]] = field(default_factory=list)
    programs: dict[str, _Program] = field(default_factory=dict)
    net_offset: tuple[float, float] = (0.0, 0.0)
    proj: str | None = None
    skipped_edges: int = 0
    extra_programs: int = 0


def import_sumo(path: str | Path, *, largest_part: bool = False) -> ImportedNetwork:
    """Read a SUMO network file as the project's tables.

    Args:
        path: the ``.net.xml`` file (``.net.xml.gz`` works too).
        largest_part: keep only the largest strongly connected part.

    Raises:
        InputFileError: unreadable or malformed file (naming the line where XML is
            broken, or the element and attribute), or no edge for cars.
    """
    path = Path(path)
    net = _read(path)
    if not net.edges:
        raise InputFileError(path, "no edge that passenger cars may use")
    links = [_link(edge, net) for edge in net.edges.values()]
    missing = {e.from_node for e in net.edges.values()} | {e.to_node for e in net.edges.values()}
    missing -= net.junctions.keys()
    if missing:
        raise InputFileError(path, f"edges refer to junction {sorted(missing)[0]!r}, which "
                                   "the file does not define")
    node_ids, x_m, y_m = ordered_nodes(net.junctions, links)
    notes = [f"{net.skipped_edges} internal, pedestrian or other non-car edges left out"]
    if net.extra_programs:
        notes.append(f"{net.extra_programs} further programs of traffic lights ignored (the "
                     "first program of each is used)")
    if any(p.actuated for p in net.programs.values()):
        notes.append("actuated traffic lights converted at their default phase durations")
    signals = _signals(net, notes)
    imported = ImportedNetwork(
        source="sumo", source_path=str(path), node_ids=node_ids, x_m=x_m, y_m=y_m,
        links=links, connections=_movements(net), signals=signals, crs=net.proj,
        offset_m=(-net.net_offset[0], -net.net_offset[1]), notes=notes)
    return keep_largest_part(imported) if largest_part else imported


def _open(path: Path) -> Any:
    import gzip

    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _read(path: Path) -> _Net:
    if not path.exists():
        raise InputFileError(path, "file not found")
    net = _Net()
    with _open(path) as handle:
        for elem in xml_children(handle, path, "net", "a SUMO network file"):
            try:
                _take(elem, net)
            except (KeyError, ValueError) as exc:
                raise InputFileError(path, f"<{elem.tag} id={elem.get('id')!r}>: missing or "
                                           f"malformed attribute ({exc})") from None
    return net


def _take(elem: Any, net: _Net) -> None:
    tag = elem.tag
    if tag == "location":
        x, y = (float(v) for v in elem.get("netOffset", "0,0").split(","))
        net.net_offset = (x, y)
        proj = elem.get("projParameter", "!")
        net.proj = None if proj == "!" else proj
    elif tag == "edge":
        if elem.get("function", "normal") in SKIPPED_FUNCTIONS:
            net.skipped_edges += 1
            return
        edge = _edge(elem)
        if edge is None:
            net.skipped_edges += 1
        else:
            net.edges[edge.id] = edge
    elif tag == "junction" and elem.get("type") != "internal":
        net.junctions[elem.attrib["id"]] = (float(elem.attrib["x"]), float(elem.attrib["y"]))
    elif tag == "connection" and not elem.attrib["from"].startswith(":"):
        net.connections.append(dict(elem.attrib))
    elif tag == "tlLogic":
        ident = elem.attrib["id"]
        if ident in net.programs:
            net.extra_programs += 1
            return
        program = _Program(ident, float(elem.get("offset", "0")),
                           elem.get("type", "static") != "static")
        for phase in elem.iter("phase"):
            program.durations.append(float(phase.attrib["duration"]))
            program.states.append(phase.attrib["state"])
        net.programs[ident] = program


def _car_lane(lane: Any) -> bool:
    allow, disallow = lane.get("allow"), lane.get("disallow")
    if allow is not None:
        tokens = set(allow.split())
        return bool(tokens & {"passenger", "all", "private"})
    if disallow is not None:
        tokens = set(disallow.split())
        return not tokens & {"passenger", "all", "private"}
    return True


def _edge(elem: Any) -> _Edge | None:
    lanes = list(elem.iter("lane"))
    car = [lane for lane in lanes if _car_lane(lane)]
    if not car:
        return None
    shape_text = elem.get("shape")
    shape = parse_shape(shape_text) if shape_text else None
    return _Edge(
        id=elem.attrib["id"], from_node=elem.attrib["from"], to_node=elem.attrib["to"],
        car_lanes=sorted(int(lane.attrib["index"]) for lane in car),
        speed_mps=max(float(lane.attrib["speed"]) for lane in car),
        lane_length_m=sum(float(lane.attrib["length"]) for lane in car) / len(car),
        type=elem.get("type", ""), name=elem.get("name", ""), shape=shape)


def _link(edge: _Edge, net: _Net) -> ImportedLink:
    if edge.shape is not None:
        centre = polyline_length_m(*edge.shape)
    else:
        (x0, y0), (x1, y1) = net.junctions[edge.from_node], net.junctions[edge.to_node]
        centre = math.hypot(x1 - x0, y1 - y0)
    defaults = road_type(edge.type)
    speed = edge.speed_mps
    return ImportedLink(
        id=edge.id, from_node=edge.from_node, to_node=edge.to_node,
        length_m=max(edge.lane_length_m, centre, 0.1), lanes=len(edge.car_lanes),
        free_speed_mps=speed,
        capacity_vph_per_lane=capped_capacity_vph(defaults.capacity_vph_per_lane, speed),
        road_class=defaults.road_class, type=edge.type, name=edge.name, shape=edge.shape)


def _lane_position(edge: _Edge, lane: str) -> int | None:
    """The car-lane index (0 rightmost) of a SUMO lane index, or None if not a car lane."""
    index = int(lane)
    return edge.car_lanes.index(index) if index in edge.car_lanes else None


def _movements(net: _Net) -> list[dict[str, str]]:
    lanes: dict[tuple[str, str], tuple[set[int], set[int], str]] = {}
    for c in net.connections:
        a, b = net.edges.get(c["from"]), net.edges.get(c["to"])
        if a is None or b is None:
            continue
        from_lane = _lane_position(a, c.get("fromLane", "0"))
        to_lane = _lane_position(b, c.get("toLane", "0"))
        if from_lane is None or to_lane is None:
            continue
        entry = lanes.setdefault((a.id, b.id), (set(), set(), c.get("dir", "")))
        entry[0].add(from_lane)
        entry[1].add(to_lane)
    return [{"node": net.edges[a].to_node, "from_link": a, "to_link": b, "dir": turn,
             "from_lanes": " ".join(map(str, sorted(fl))),
             "to_lanes": " ".join(map(str, sorted(tl)))}
            for (a, b), (fl, tl, turn) in lanes.items()]


def _signals(net: _Net, notes: list[str]) -> list[dict[str, str]]:
    """Signal plan rows: per approach edge, then per movement, of every program."""
    indices: dict[str, dict[tuple[str, str], set[int]]] = defaultdict(lambda: defaultdict(set))
    for c in net.connections:
        if c.get("tl") in net.programs and c["from"] in net.edges and c["to"] in net.edges:
            if _lane_position(net.edges[c["from"]], c.get("fromLane", "0")) is None:
                continue
            indices[c["tl"]][(c["from"], c["to"])].add(int(c["linkIndex"]))
    rows: list[dict[str, str]] = []
    split = 0
    for tl, movements in indices.items():
        program = net.programs[tl]
        approaches: dict[str, set[int]] = defaultdict(set)
        for (a, _), links in movements.items():
            approaches[a] |= links
        for a, links in approaches.items():
            row, several = _window(program, links)
            split += several
            if row is not None:
                rows.append({"node": net.edges[a].to_node, "link": a, "to_link": "", **row})
        for (a, b), links in movements.items():
            row, _ = _window(program, links)
            if row is not None and any(r["link"] == a and not r["to_link"] for r in rows):
                rows.append({"node": net.edges[a].to_node, "link": a, "to_link": b, **row})
    if split:
        notes.append(f"{split} signalised approaches are green in more than one window per "
                     "cycle: the longest window is kept")
    return rows


def _window(program: _Program, links: set[int]) -> tuple[dict[str, str] | None, int]:
    """The displayed green window of a set of signal indices, and its amber and all-red.

    Returns the row's timing fields (None when always or never green) and 1 when the
    set is green in more than one window per cycle.
    """
    n = len(program.durations)
    cycle = sum(program.durations)
    if n == 0 or cycle <= 0:
        return None, 0

    def state(i: int, chars: frozenset[str]) -> bool:
        s = program.states[i % n]
        return any(k < len(s) and s[k] in chars for k in links)

    green = [state(i, GREEN) for i in range(n)]
    if all(green) or not any(green):
        return None, 0
    starts = [i for i in range(n) if green[i] and not green[i - 1]]
    runs = []
    for s in starts:
        k = s
        while green[k % n]:
            k += 1
        runs.append((sum(program.durations[j % n] for j in range(s, k)), -s, s, k))
    duration, _, first, end = max(runs)
    amber = 0.0
    while state(end, AMBER) and not state(end, GREEN):
        amber += program.durations[end % n]
        end += 1
    all_red = 0.0
    while not any(ch in GREEN for ch in program.states[end % n]) and end - first < 2 * n:
        all_red += program.durations[end % n]
        end += 1
    start = sum(program.durations[:first])
    return {"cycle_s": _t(cycle), "green_start_s": _t(start), "green_s": _t(duration),
            "amber_s": _t(amber), "all_red_s": _t(all_red),
            "offset_s": _t(program.offset_s % cycle)}, int(len(runs) > 1)


def _t(seconds: float) -> str:
    return f"{seconds:g}"
