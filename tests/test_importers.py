"""Importers: SUMO, OpenStreetMap and GMNS networks in, with what the source knows.

Small hand-written sources carry the hand-derived expectations; the real data (the
OpenStreetMap extract in tests/data/osm, a SUMO grid made by netgenerate in
tests/data/sumo) checks that real files go through and make networks that run.
"""

from __future__ import annotations

import csv
import gzip
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from v2x_sim._core.errors import InputFileError
from v2x_sim.cli import main
from v2x_sim.road.importers import (
    MissingExtraError,
    import_gmns,
    import_osm,
    import_sumo,
    write_import,
)
from v2x_sim.road.network import RoadClass
from v2x_sim.scenario.loader import load_scenario
from v2x_sim.world import build_world

DATA = Path(__file__).parent / "data"
OSM_PBF = DATA / "osm" / "test.osm.pbf"
SUMO_GRID = DATA / "sumo" / "grid3.net.xml"
SIGNAL_HEADER = ["node", "link", "cycle_s", "green_start_s", "green_s", "amber_s",
                 "all_red_s", "offset_s", "to_link"]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- SUMO
SUMO_NET = """<?xml version="1.0" encoding="UTF-8"?>
<net version="1.20">
    <location netOffset="-500.00,-1000.00" convBoundary="0.00,-100.00,300.00,50.00"
              origBoundary="0,0,1,1" projParameter="+proj=utm +zone=33 +datum=WGS84"/>
    <edge id=":J1_0" function="internal">
        <lane id=":J1_0_0" index="0" speed="10.00" length="5.00" shape="98,0 102,0"/>
    </edge>
    <edge id="in" from="J0" to="J1" priority="2" type="highway.primary" name="Main St"
          shape="0.00,0.00 50.00,50.00 100.00,0.00">
        <lane id="in_0" index="0" allow="pedestrian" speed="2.00" length="130.00"/>
        <lane id="in_1" index="1" speed="13.89" length="120.00"/>
        <lane id="in_2" index="2" speed="16.67" length="120.00"/>
    </edge>
    <edge id="out" from="J1" to="J2">
        <lane id="out_0" index="0" disallow="pedestrian bicycle" speed="13.89" length="190"/>
    </edge>
    <edge id="back" from="J2" to="J1">
        <lane id="back_0" index="0" speed="13.89" length="190.00"/>
    </edge>
    <edge id="side" from="J1" to="J3">
        <lane id="side_0" index="0" speed="8.00" length="95.00"/>
    </edge>
    <edge id="walk" from="J3" to="J1">
        <lane id="walk_0" index="0" allow="pedestrian" speed="2.00" length="95.00"/>
    </edge>
    <tlLogic id="J1" type="static" programID="0" offset="100">
        <phase duration="30" state="GGr"/>
        <phase duration="4"  state="yyr"/>
        <phase duration="2"  state="rrr"/>
        <phase duration="20" state="rrG"/>
        <phase duration="4"  state="rry"/>
    </tlLogic>
    <junction id="J0" type="dead_end" x="0.00" y="0.00"/>
    <junction id="J1" type="traffic_light" x="100.00" y="0.00"/>
    <junction id="J2" type="dead_end" x="300.00" y="0.00"/>
    <junction id="J3" type="priority" x="100.00" y="-100.00"/>
    <junction id=":J1_0_0" type="internal" x="100.00" y="0.00"/>
    <connection from="in" to="out" fromLane="1" toLane="0" via=":J1_0_0" tl="J1"
                linkIndex="0" dir="s" state="O"/>
    <connection from="in" to="out" fromLane="2" toLane="0" tl="J1" linkIndex="1" dir="s"/>
    <connection from="in" to="side" fromLane="2" toLane="0" tl="J1" linkIndex="2" dir="r"/>
    <connection from=":J1_0" to="out" fromLane="0" toLane="0" dir="s" state="M"/>
    <connection from="back" to="side" fromLane="0" toLane="0" dir="l" state="m"/>
</net>
"""


@pytest.fixture
def sumo_net(tmp_path: Path) -> Path:
    path = tmp_path / "mini.net.xml"
    path.write_text(SUMO_NET, encoding="utf-8")
    return path


def test_sumo_links_keep_ids_car_lanes_speeds_shapes_and_junction_to_junction_length(
        sumo_net: Path) -> None:
    imported = import_sumo(sumo_net)
    links = {link.id: link for link in imported.links}
    # the internal edge and the pedestrian-only edge are left out
    assert list(links) == ["in", "out", "back", "side"]
    assert imported.node_ids == ["J0", "J1", "J2", "J3"]  # order of first appearance
    main_st = links["in"]
    assert main_st.lanes == 2  # lanes 1 and 2; lane 0 is a sidewalk
    assert main_st.free_speed_mps == 16.67  # the fastest car lane
    # shape (0,0)-(50,50)-(100,0): 2 * 50 * sqrt(2) = 141.42 m beats the lanes' 120 m
    assert main_st.length_m == pytest.approx(100 * math.sqrt(2), rel=1e-12)
    assert main_st.shape == ([0.0, 50.0, 100.0], [0.0, 50.0, 0.0])
    assert (main_st.type, main_st.name) == ("highway.primary", "Main St")
    assert main_st.road_class == RoadClass.ARTERIAL
    assert main_st.capacity_vph_per_lane == 1800.0  # primary, from the road-type table
    assert links["out"].length_m == 200.0  # straight J1 (100,0) to J2 (300,0) beats 190
    assert links["out"].shape is None
    # 8 m/s caps the capacity: 3600 * 0.14 veh/m * 8 * 5 / (8 + 5) = 1550.77 veh/h/lane
    assert links["side"].capacity_vph_per_lane == pytest.approx(3600 * 0.14 * 40 / 13)
    assert imported.crs == "+proj=utm +zone=33 +datum=WGS84"
    assert imported.offset_m == (500.0, 1000.0)  # netOffset added to projected coordinates


def test_sumo_movements_count_car_lanes_from_the_right(sumo_net: Path) -> None:
    movements = {(r["from_link"], r["to_link"]): r for r in import_sumo(sumo_net).connections}
    assert set(movements) == {("in", "out"), ("in", "side"), ("back", "side")}
    assert movements["in", "out"] == {"node": "J1", "from_link": "in", "to_link": "out",
                                      "dir": "s", "from_lanes": "0 1", "to_lanes": "0"}
    assert (movements["in", "side"]["from_lanes"], movements["in", "side"]["dir"]) == ("1", "r")


def test_sumo_program_becomes_green_amber_all_red_and_offset(sumo_net: Path) -> None:
    imported = import_sumo(sumo_net)
    plan = {(r["link"], r["to_link"]): r for r in imported.signals}
    # cycle 30 + 4 + 2 + 20 + 4 = 60 s; offset 100 s is 40 s into the cycle
    # approach "in" (indices 0-2) is green in phase 0 (30 s) and phase 3 (20 s): the
    # longer window is kept; amber 4 s (phase 1); all-red 2 s (phase 2, nothing green)
    assert {k: plan["in", ""][k] for k in SIGNAL_HEADER} == {
        "node": "J1", "link": "in", "cycle_s": "60", "green_start_s": "0", "green_s": "30",
        "amber_s": "4", "all_red_s": "2", "offset_s": "40", "to_link": ""}
    # the right turn (index 2) has its own window: 30 + 4 + 2 = 36 s in, 20 s, amber 4 s,
    # and phase 0 right after shows green elsewhere: no all-red
    side = plan["in", "side"]
    assert (side["green_start_s"], side["green_s"], side["amber_s"], side["all_red_s"]) == (
        "36", "20", "4", "0")
    assert (plan["in", "out"]["green_start_s"], plan["in", "out"]["green_s"]) == ("0", "30")
    assert any("more than one window" in note for note in imported.notes)
    assert ("back", "") not in plan  # not controlled by the light


def test_sumo_grid_from_netgenerate_imports_writes_and_runs(tmp_path: Path) -> None:
    """A 3 x 3 grid made by SUMO's netgenerate (traffic lights at every junction)."""
    imported = import_sumo(SUMO_GRID)
    counts = imported.counts()
    # 3 x 3 junctions; 12 two-way roads of 200 m: 24 links, 4.8 km
    assert (counts["nodes"], counts["links"], counts["network_km"]) == (9, 24, 4.8)
    assert all(link.lanes == 2 and link.length_m == 200.0 for link in imported.links)
    plan = {(r["node"], r["link"]): r for r in imported.signals if not r["to_link"]}
    # the centre junction B1: north-south approaches green 0-42 s, east-west 45-87 s
    # (phases 42 G, 3 y, 42 G, 3 y), amber 3 s, cycle 90 s
    for link, start in (("B2B1", "0"), ("B0B1", "0"), ("C1B1", "45"), ("A1B1", "45")):
        row = plan["B1", link]
        assert (row["cycle_s"], row["green_start_s"], row["green_s"], row["amber_s"]) == (
            "90", start, "42", "3"), link
    out = tmp_path / "grid"
    write_import(imported, out)
    assert list(rows(out / "signals.csv")[0]) == SIGNAL_HEADER
    scenario = load_scenario(out / "scenario.yaml",
                             ["simulation.horizon_s=300", "v2x.enabled=false"])
    result = build_world(scenario).run()
    assert result.summary["trips_started"] > 0
    assert set(result.trips["origin"]) <= set(imported.node_ids)


def sumo_tool(name: str) -> str | None:
    """A SUMO tool on the PATH or beside this Python (the eclipse-sumo wheel's scripts)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


@pytest.mark.skipif(sumo_tool("netgenerate") is None, reason="SUMO (eclipse-sumo) absent")
def test_sumo_spider_made_now_by_netgenerate(tmp_path: Path) -> None:
    net = tmp_path / "spider.net.xml"
    subprocess.run([str(sumo_tool("netgenerate")), "--spider", "--spider.arm-number", "5",
                    "--spider.circle-number", "3", "--spider.space-radius", "150",
                    "--tls.guess", "true", "-o", str(net)], check=True, capture_output=True)
    imported = import_sumo(net)
    network = imported.network()
    # a spider's edges are straight: length is the junction distance or the lane length
    straight = np.hypot(network.x_m[network.to_node] - network.x_m[network.from_node],
                        network.y_m[network.to_node] - network.y_m[network.from_node])
    assert np.all(network.length_m >= straight - 1e-9)
    cycles = {}
    for row in imported.signals:
        assert cycles.setdefault(row["node"], row["cycle_s"]) == row["cycle_s"]


# ---------------------------------------------------------------------- OpenStreetMap
OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="60.0000" lon="25.0000"/>
  <node id="2" lat="60.0010" lon="25.0000"><tag k="highway" v="traffic_signals"/></node>
  <node id="3" lat="60.0020" lon="25.0000"/>
  <node id="4" lat="60.0010" lon="25.0020"/>
  <node id="5" lat="60.0010" lon="24.9980"/>
  <way id="100"><nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="primary"/><tag k="lanes" v="4"/><tag k="maxspeed" v="30 mph"/>
    <tag k="name" v="North St"/></way>
  <way id="150"><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="tertiary"/><tag k="lanes:forward" v="2"/>
    <tag k="lanes:backward" v="1"/><tag k="maxspeed:backward" v="40"/></way>
  <way id="200"><nd ref="5"/><nd ref="2"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
  <way id="300"><nd ref="1"/><nd ref="4"/><tag k="highway" v="footway"/></way>
  <way id="400"><nd ref="3"/><nd ref="4"/><tag k="highway" v="service"/></way>
  <way id="500"><nd ref="4"/><nd ref="999"/><tag k="highway" v="tertiary"/></way>
  <relation id="9">
    <member type="way" ref="200" role="from"/><member type="node" ref="2" role="via"/>
    <member type="way" ref="150" role="to"/>
    <tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/>
  </relation>
</osm>
"""


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    path = tmp_path / "mini.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    return path


def test_osm_ways_split_at_junctions_with_directions_lanes_and_speeds(osm_file: Path) -> None:
    imported = import_osm(osm_file, all_parts=True)
    links = {link.id: link for link in imported.links}
    # way 200 is cut at node 2 (shared with 100 and 150); footway, service and a way
    # reaching outside the extract give nothing; 200 is one-way
    assert sorted(links) == sorted(["100#0", "-100#0", "150#0", "-150#0", "200#0", "200#1"])
    assert (links["100#0"].from_node, links["100#0"].to_node) == ("1", "2")
    assert (links["-100#0"].from_node, links["-100#0"].to_node) == ("2", "1")
    assert links["100#0"].lanes == 2  # lanes=4 on a two-way road: 2 each way
    assert links["100#0"].free_speed_mps == pytest.approx(30 * 1609.344 / 3600)  # 30 mph
    assert (links["150#0"].lanes, links["-150#0"].lanes) == (2, 1)
    assert links["150#0"].free_speed_mps == pytest.approx(40 / 3.6)  # tertiary default
    assert links["-150#0"].free_speed_mps == pytest.approx(40 / 3.6)  # maxspeed:backward
    assert links["200#0"].free_speed_mps == pytest.approx(30 / 3.6)  # residential default
    assert links["200#0"].capacity_vph_per_lane == 1200.0
    assert links["100#0"].name == "North St"
    # 0.001 deg of latitude at 60 deg N: meridian radius a(1-e2)/(1-e2 sin2)^1.5 =
    # 6,383,453 m, times 0.001 * pi / 180 = 111.41 m
    assert links["100#0"].length_m == pytest.approx(111.41, rel=2e-4)
    # 0.002 deg of longitude at 60.001 deg N: N cos(phi) = 6,394,209 * 0.49998 m,
    # times 0.002 * pi / 180 = 111.60 m
    assert links["200#0"].length_m == pytest.approx(111.60, rel=2e-4)
    # projected to UTM zone 35N (25 deg E), shifted to whole kilometres
    assert imported.crs == "EPSG:32635"
    x = dict(zip(imported.node_ids, imported.x_m, strict=True))
    assert x["4"] - x["5"] == pytest.approx(2 * 111.60, rel=2e-3)


def test_osm_turns_exclude_u_turns_except_at_dead_ends_and_honour_restrictions(
        osm_file: Path) -> None:
    imported = import_osm(osm_file, all_parts=True)
    turns = {(r["from_link"], r["to_link"]): r["dir"] for r in imported.connections}
    assert turns == {
        ("100#0", "150#0"): "s", ("100#0", "200#1"): "r",    # northbound: on, or east
        ("-150#0", "-100#0"): "s", ("-150#0", "200#1"): "l",  # southbound: on, or east
        ("200#0", "-100#0"): "r", ("200#0", "200#1"): "s",    # eastbound: the left into
        ("-100#0", "100#0"): "t", ("150#0", "-150#0"): "t",   # 150 is forbidden; dead
    }                                                         # ends turn back


def test_osm_keeps_the_largest_strongly_connected_part_by_default(osm_file: Path) -> None:
    imported = import_osm(osm_file)
    # node 5 can only be left and node 4 only reached: 1-2-3 is the strong part
    assert imported.node_ids == ["1", "2", "3"]
    assert sorted(link.id for link in imported.links) == ["-100#0", "-150#0", "100#0", "150#0"]
    assert any("2 links outside it dropped" in note for note in imported.notes)


def test_osm_real_extract_pbf_and_xml_agree_and_form_one_strong_part(tmp_path: Path) -> None:
    pytest.importorskip("osmium")
    from_pbf = import_osm(OSM_PBF)
    xml = tmp_path / "extract.osm.gz"
    _pbf_to_xml(OSM_PBF, xml)
    from_xml = import_osm(xml)
    assert from_xml.node_ids == from_pbf.node_ids
    assert [vars(a) == vars(b) for a, b in zip(from_xml.links, from_pbf.links, strict=True)]
    assert from_xml.connections == from_pbf.connections
    network = from_pbf.network()
    n = network.n_nodes
    graph = csr_matrix((np.ones(network.n_links), (network.from_node, network.to_node)),
                       shape=(n, n))
    assert connected_components(graph, directed=True, connection="strong")[0] == 1
    ways = {r["id"]: r["source_id"] for r in from_pbf.id_map}
    assert all(ways[link.id] == link.id.lstrip("-").split("#")[0] for link in from_pbf.links)
    motorway = [link for link in from_pbf.links if link.type == "highway.motorway"]
    assert motorway
    assert all(not link.id.startswith("-") for link in motorway)  # motorways are one-way
    assert all(link.road_class == RoadClass.EXPRESSWAY for link in motorway)
    # geodesic lengths against the projected shape: UTM distorts lengths < 0.1 % here
    for link in from_pbf.links:
        if link.shape:
            xs, ys = link.shape
            planar = float(np.hypot(np.diff(xs), np.diff(ys)).sum())
            assert planar == pytest.approx(link.length_m, rel=1e-3)


def _pbf_to_xml(pbf: Path, out: Path) -> None:
    import osmium

    plain = out.with_suffix("")
    writer = osmium.SimpleWriter(str(plain))

    class Copy(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, n):  # type: ignore[no-untyped-def]
            writer.add_node(n)

        def way(self, w):  # type: ignore[no-untyped-def]
            writer.add_way(w)

        def relation(self, r):  # type: ignore[no-untyped-def]
            writer.add_relation(r)

    Copy().apply_file(str(pbf))
    writer.close()
    out.write_bytes(gzip.compress(plain.read_bytes()))


def test_osm_without_pyproj_says_which_extra_to_install(osm_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def refuse(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "pyproj":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", refuse)
    with pytest.raises(MissingExtraError) as info:
        import_osm(osm_file)
    assert str(info.value) == ("importing OpenStreetMap data needs pyproj: "
                               "pip install 'v2x-sim[osm]'")


# ----------------------------------------------------------------------------- GMNS
def write_gmns(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.csv").write_text(
        "dataset_name,long_length,speed,crs\ntest,mi,mph,EPSG:32633\n", encoding="utf-8")
    (folder / "node.csv").write_text(
        "node_id,x_coord,y_coord,zone_id\na,0,0,\nb,1609.344,0,\nc,1609.344,1000,\n",
        encoding="utf-8")
    (folder / "link.csv").write_text(
        "link_id,from_node_id,to_node_id,directed,length,lanes,free_speed,capacity,"
        "facility_type,allowed_uses,geometry,dir_flag,toll\n"
        "1,a,b,true,1,2,30,1700,arterial,auto,,1,0\n"
        '2,b,c,false,,1,,,local,,"LINESTRING (1609.344 1000, 1700 500, 1609.344 0)",-1,\n'
        "3,a,c,true,1,1,20,,,walk,,,\n"
        "4,c,a,true,2,0,20,,,,,,\n", encoding="utf-8")
    (folder / "movement.csv").write_text(
        "mvmt_id,node_id,ib_link_id,ob_link_id,type,start_ib_lane,end_ib_lane\n"
        "m1,b,1,2,left,1,1\nm2,c,3,-2,thru,,\n", encoding="utf-8")
    return folder


def test_gmns_units_directions_geometry_and_movements(tmp_path: Path) -> None:
    imported = import_gmns(write_gmns(tmp_path / "gmns"))
    links = {link.id: link for link in imported.links}
    assert list(links) == ["1", "2", "-2"]  # walk-only and 0-lane links left out
    one = links["1"]
    assert one.length_m == pytest.approx(1609.344)  # 1 mi
    assert one.free_speed_mps == pytest.approx(13.4112)  # 30 mph
    assert (one.lanes, one.capacity_vph_per_lane) == (2, 1700.0)
    two = links["2"]
    # no length: the geometry, read against its drawing (dir_flag -1), b (1609.344, 0)
    # -> (1700, 500) -> c: 2 * hypot(90.656, 500) = 1016.30 m
    assert two.length_m == pytest.approx(2 * math.hypot(1700 - 1609.344, 500), rel=1e-12)
    assert two.shape == ([1609.344, 1700.0, 1609.344], [0.0, 500.0, 1000.0])
    assert (two.free_speed_mps, two.capacity_vph_per_lane) == (pytest.approx(30 / 3.6), 1200.0)
    back = links["-2"]
    assert (back.from_node, back.to_node, back.shape) == ("c", "b", (
        [1609.344, 1700.0, 1609.344], [1000.0, 500.0, 0.0]))
    assert imported.id_map == [{"kind": "link", "id": "-2", "source_id": "2",
                                "detail": "undirected link 2, travelled from its to_node"}]
    # GMNS counts lanes from the inside: lane 1 of 2 is our lane 1 (0 is the rightmost)
    assert imported.connections == [{"node": "b", "from_link": "1", "to_link": "2",
                                     "dir": "l", "from_lanes": "1", "to_lanes": ""}]
    assert any("2 links without motor vehicles" in note for note in imported.notes)


# ------------------------------------------------------------- bad input, one line
@pytest.mark.parametrize(("name", "text", "line", "shown"), [
    ("broken.net.xml", '<net>\n  <edge id="a">\n  </lane>\n', 3,
     "not well-formed XML: mismatched tag"),
    ("other.net.xml", "<osm/>\n", 1, "root element <osm>; expected <net>"),
    ("nolanes.net.xml", '<net><edge id="a" from="x" to="y"><lane id="a_0" index="0" '
                        'speed="fast" length="1"/></edge></net>', None, "<edge id='a'>"),
])
def test_bad_sumo_files_name_file_line_and_element(tmp_path: Path, name: str, text: str,
                                                   line: int | None, shown: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        import_sumo(path)
    assert (info.value.file, info.value.line) == (str(path), line)
    assert shown in str(info.value)


def test_bad_gmns_value_names_file_line_and_column(tmp_path: Path) -> None:
    folder = write_gmns(tmp_path / "gmns")
    link = folder / "link.csv"
    link.write_text(link.read_text().replace("1,a,b,true,1,2,30", "1,a,b,true,one,2,30"))
    with pytest.raises(InputFileError) as info:
        import_gmns(folder)
    assert (info.value.file, info.value.line, info.value.column) == (str(link), 2, "length")


def test_cli_import_writes_the_folder_and_errors_in_one_line(
        tmp_path: Path, sumo_net: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net"
    assert main(["import", "sumo", str(sumo_net), "-o", str(out), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in out.iterdir()) == [
        "connections.csv", "import.json", "links.csv", "nodes.csv", "scenario.yaml",
        "signals.csv"]
    assert main(["validate", str(out / "scenario.yaml")]) == 0
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge", encoding="utf-8")
    capsys.readouterr()
    assert main(["import", "sumo", str(bad), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"v2x-sim: error: {bad}, line 1: not well-formed XML")
    assert not (tmp_path / "x").exists()
