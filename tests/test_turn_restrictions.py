"""Turn restrictions and lanes from a network's connections file, against hand values.

The block: A (0, 0) - B (1000, 0) - E (2000, 0) along the bottom, D (0, 1000) - C
(1000, 1000) - F (2000, 1000) along the top, every road two-way at 20 m/s; all 1 km
(50 s) but D - C, 1.5 km (75 s). The connections file lists every movement except
U-turns and the left turn from AB into BC.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario

from v2x_sim._core.errors import InputFileError
from v2x_sim.road.connections import read_connections_csv, with_turns
from v2x_sim.road.importers import import_sumo, write_import
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.lane_layout import lane_masks
from v2x_sim.road.movements import TurnRules
from v2x_sim.road.routing import RouteTables
from v2x_sim.scenario.loader import load_scenario
from v2x_sim.world import build_world

DATA = Path(__file__).parent / "data"
DETERMINISTIC = {"deterministic": True, "seed": 3}
NO_V2X = {"enabled": False}
NODES = {"A": (0, 0), "B": (1000, 0), "E": (2000, 0), "D": (0, 1000), "C": (1000, 1000),
         "F": (2000, 1000)}
ROADS = [("A", "B", 1000), ("B", "E", 1000), ("D", "C", 1500), ("C", "F", 1000),
         ("A", "D", 1000), ("B", "C", 1000), ("E", "F", 1000)]


def _block(folder: Path, *, forbid: set[tuple[str, str]], lanes: int = 1) -> dict:
    """Write the block's nodes, links and connections (every movement but U-turns and
    ``forbid``); returns the ``road:`` section."""
    (folder / "nodes.csv").write_text(
        "id,x_m,y_m\n" + "".join(f"{n},{x},{y}\n" for n, (x, y) in NODES.items()))
    links = []
    for a, b, length in ROADS:
        links += [(a + b, a, b, length), (b + a, b, a, length)]
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        + "".join(f"{i},{f},{t},{n},{lanes},20,1800\n" for i, f, t, n in links))
    rows = ["node,from_link,to_link,dir,from_lanes,to_lanes"]
    for i, f, t, _ in links:
        for j, f2, t2, _ in links:
            if f2 == t and t2 != f and (i, j) not in forbid:
                rows.append(f"{t},{i},{j},,,")
    (folder / "connections.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def _network(folder: Path, forbid: set[tuple[str, str]]):  # type: ignore[no-untyped-def]
    _block(folder, forbid=forbid)
    net = read_network_csv(folder / "nodes.csv", folder / "links.csv")
    return with_turns(net, read_connections_csv(folder / "connections.csv", net))


def _names(net, links: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(net.link_ids[k]) for k in links]


def test_a_route_goes_round_a_forbidden_left_turn(tmp_path: Path) -> None:
    """A to C: A-B-C takes 100 s but turns left from AB into BC, which is forbidden;
    A-D-C takes 50 + 75 = 125 s, A-B-E-F-C 200 s: the route is A-D-C at 125 s.
    Arriving at B by AB, the way on to C is B-E-F-C (150 s); starting at B, BC (50 s)."""
    net = _network(tmp_path, {("AB", "BC")})
    tables = RouteTables(net, net.free_flow_time_s)
    a, b, c = (net.node_index(x) for x in "ABC")
    assert _names(net, tables.path(a, c)) == ["AD", "DC"]
    assert tables.distance(a, c) == pytest.approx(125.0)
    assert _names(net, tables.path(b, c, net.link_index("AB"))) == ["BE", "EF", "FC"]
    assert _names(net, tables.path(b, c)) == ["BC"]
    free = RouteTables(read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv"),
                       net.free_flow_time_s)
    assert free.distance(a, c) == pytest.approx(100.0)  # the turn is the only reason


def test_advice_through_a_forbidden_turn_is_not_followed(tmp_path: Path) -> None:
    """TurnRules forbids the unlisted movement (and still a U-turn) but allows the rest."""
    net = _network(tmp_path, {("AB", "BC")})
    rules = TurnRules(net)
    ab, bc, be, ba = (net.link_index(x) for x in ("AB", "BC", "BE", "BA"))
    assert rules.forbidden(ab, bc)
    assert rules.forbidden(ab, ba)
    assert not rules.forbidden(ab, be)


def test_vehicles_never_drive_a_forbidden_movement(tmp_path: Path) -> None:
    """A lone vehicle from A to C drives A-D-C in 125 s; random trips over the block
    for 20 minutes never follow AB with BC."""
    road = _block(tmp_path, forbid={("AB", "BC")})
    world = build_world(make_scenario(
        tmp_path, road=road, simulation={"horizon_s": 600, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": "A", "destination": "C"}]},
        v2x=NO_V2X))
    result = world.run()
    net = world.network
    assert _names(net, world.traversals.to_numpy()["link"].tolist()) == ["AD", "DC"]
    assert result.trips["travel_time_s"][0] == pytest.approx(125.0)
    world = build_world(make_scenario(
        tmp_path, road=road, simulation={"horizon_s": 1200, "seed": 5},
        demand={"random": {"rate_vph": 1200}}, v2x=NO_V2X))
    world.run()
    driven = _pairs(world)
    assert len(driven) > 10
    assert ("AB", "BC") not in driven


def _pairs(world) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every (link, next link) some vehicle drove."""
    log = world.traversals.to_numpy()
    order = np.lexsort((log["t_in"], log["vehicle"]))
    vehicle, link = log["vehicle"][order], log["link"][order]
    same = vehicle[1:] == vehicle[:-1]
    ids = world.network.link_ids
    return {(str(ids[a]), str(ids[b]))
            for a, b in zip(link[:-1][same].tolist(), link[1:][same].tolist(), strict=True)}


def test_lanes_named_in_the_file_replace_the_geometric_ones(tmp_path: Path) -> None:
    """Two-lane roads; from AB, BE is through and BC a left turn: geometry gives BC the
    left lane (0b10) and BE the right one, shared with the left (0b11: BE has two
    lanes). The file gives BE the right lane only ("0"): then BE 0b01, BC still 0b10."""
    _block(tmp_path, forbid=set(), lanes=2)
    net = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    ab, bc, be = (net.link_index(x) for x in ("AB", "BC", "BE"))
    turns = with_turns(net, read_connections_csv(tmp_path / "connections.csv", net))
    assert lane_masks(turns)[ab] == {bc: 0b10, be: 0b11}
    text = (tmp_path / "connections.csv").read_text().replace("B,AB,BE,,,", "B,AB,BE,,0,")
    (tmp_path / "connections.csv").write_text(text)
    turns = with_turns(net, read_connections_csv(tmp_path / "connections.csv", net))
    assert lane_masks(turns)[ab] == {bc: 0b10, be: 0b01}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("B,AB,BE,,,", "B,AB,XY,,,", r"connections\.csv, line \d+, column 'to_link': unknown "
                                 r"link id 'XY'"),
    ("B,AB,BE,,,", "B,AB,EF,,,", r"column 'to_link': 'EF' starts at node 'E', not at node "
                                 r"'B' where 'AB' ends"),
    ("B,AB,BE,,,", "B,AB,BE,,2,", r"column 'from_lanes': lane 2 does not exist; the "
                                  r"approach has 2 lanes"),
    ("B,AB,BE,,,", "C,AB,BE,,,", r"column 'node': 'C' is not node 'B'"),
])
def test_a_bad_connections_row_names_file_line_and_column(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    road = _block(tmp_path, forbid=set(), lanes=2)
    path = tmp_path / "connections.csv"
    path.write_text(path.read_text().replace(old, new))
    scenario = make_scenario(tmp_path, road=road, simulation={"horizon_s": 60},
                             demand={"random": {"rate_vph": 60}}, v2x=NO_V2X)
    with pytest.raises(InputFileError, match=message):
        build_world(scenario)


def test_connections_null_ignores_the_file(tmp_path: Path) -> None:
    """``road.file.connections: null``: the left turn is allowed again (100 s)."""
    road = _block(tmp_path, forbid={("AB", "BC")})
    road["file"]["connections"] = None
    world = build_world(make_scenario(
        tmp_path, road=road, simulation={"horizon_s": 600, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": "A", "destination": "C"}]},
        v2x=NO_V2X))
    assert world.network.turns is None
    assert world.run().trips["travel_time_s"][0] == pytest.approx(100.0)


def test_an_imported_sumo_grid_without_left_turns_is_driven_without_them(
        tmp_path: Path) -> None:
    """SUMO's 3 x 3 grid imported, then every left turn struck from its connections
    file: ten minutes of its stub scenario's random trips drive only listed movements,
    and none of the struck ones."""
    out = tmp_path / "grid"
    write_import(import_sumo(DATA / "sumo" / "grid3.net.xml"), out)
    path = out / "connections.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    left = {(r["from_link"], r["to_link"]) for r in rows if r["dir"] == "l"}
    kept = [r for r in rows if (r["from_link"], r["to_link"]) not in left]
    assert left
    assert kept
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    scenario = load_scenario(out / "scenario.yaml",
                             ["simulation.horizon_s=600", "v2x.enabled=false"])
    world = build_world(scenario)
    world.run()
    driven = _pairs(world)
    assert len(driven) > 10
    assert driven <= {(r["from_link"], r["to_link"]) for r in kept}


def test_k_shortest_paths_search_round_forbidden_turns(tmp_path: Path) -> None:
    """A to C, three paths asked. Without restrictions: A-B-C (100 s), A-D-C (125 s),
    A-B-E-F-C (200 s). With AB -> BC forbidden the spur searches run on the links: A-D-C
    and A-B-E-F-C, no path through the forbidden turn (and none lost for it). Forbid
    BE -> EF as well and E leads nowhere (turning back there is a U-turn away from a
    dead end): A-D-C alone."""
    from v2x_sim.road.k_paths import k_shortest_paths

    net = _network(tmp_path, {("AB", "BC")})
    free = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    a, c = net.node_index("A"), net.node_index("C")
    plain = k_shortest_paths(RouteTables(free, free.free_flow_time_s), a, c, 3)
    assert [_names(free, p) for p in plain] == [["AB", "BC"], ["AD", "DC"],
                                                ["AB", "BE", "EF", "FC"]]
    turning = k_shortest_paths(RouteTables(net, net.free_flow_time_s), a, c, 3)
    assert [_names(net, p) for p in turning] == [["AD", "DC"], ["AB", "BE", "EF", "FC"]]
    net = _network(tmp_path, {("AB", "BC"), ("BE", "EF")})
    turning = k_shortest_paths(RouteTables(net, net.free_flow_time_s), a, c, 3)
    assert [_names(net, p) for p in turning] == [["AD", "DC"]]


def test_habitual_candidates_search_round_forbidden_turns(tmp_path: Path) -> None:
    """The time-dependent search of the habitual routes runs on the links under turn
    restrictions. A to C with AB -> BC forbidden, at free flow: A-D-C (125 s; the
    search by node found A-B-C and dropped it, leaving nothing). With AD taking 500 s
    for vehicles entering from 600 s (the second bin), a departure at 700 s goes
    A-B-E-F-C (200 s) instead of A-D-C (575 s), one at 100 s still A-D-C."""
    from v2x_sim.traffic.habitual import candidate_paths

    net = _network(tmp_path, {("AB", "BC")})
    a, c = net.node_index("A"), net.node_index("C")
    profile = np.repeat(net.free_flow_time_s[:, None], 2, axis=1)
    cells = np.array([[a, c, 0]], dtype=np.int64)
    found = candidate_paths(net, profile, 600.0, cells, np.array([[100.0]]))
    assert [_names(net, list(p)) for p in found[0]] == [["AD", "DC"]]
    profile[net.link_index("AD"), 1] = 500.0
    found = candidate_paths(net, profile, 600.0, cells, np.array([[100.0, 700.0]]))
    assert [_names(net, list(p)) for p in found[0]] == [["AD", "DC"],
                                                        ["AB", "BE", "EF", "FC"]]


def test_advice_is_checked_along_its_whole_route(tmp_path: Path) -> None:
    """From AD (arriving at D), the tail D-C-B-E is allowed; with CB -> BE forbidden it
    is refused although its first turn (AD -> DC) is allowed."""
    net = _network(tmp_path, {("CB", "BE")})
    rules = TurnRules(net)
    ad = net.link_index("AD")
    tail = [net.link_index(x) for x in ("DC", "CB", "BE")]
    assert not rules.route_allowed(ad, tail)
    net = _network(tmp_path, set())
    assert TurnRules(net).route_allowed(ad, tail)
