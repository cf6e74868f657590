from pathlib import Path

import numpy as np
import pytest

from v2x_sim._core.errors import InputFileError
from v2x_sim.road.generators import corridor, grid
from v2x_sim.road.io import read_network_csv, write_network_csv
from v2x_sim.road.network import RoadClass
from v2x_sim.scenario.road_sections import CorridorParams, GridParams

ARRAYS = ("node_ids", "x_m", "y_m", "link_ids", "from_node", "to_node", "length_m", "lanes",
          "free_speed_mps", "capacity_vps_per_lane", "jam_density_vpm_per_lane", "road_class",
          "out_offsets", "out_links", "in_offsets", "in_links")

NODES = "id,x_m,y_m\n10,0,0\n20,100,0\n30,100,50\n"
LINK_HEADER = "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane"
GOOD_LINK = "1,10,20,100,2,13.9,1800"


def write(folder: Path, nodes: str, links: str) -> tuple[Path, Path]:
    nodes_path, links_path = folder / "nodes.csv", folder / "links.csv"
    nodes_path.write_text(nodes, encoding="utf-8")
    links_path.write_text(links, encoding="utf-8")
    return nodes_path, links_path


@pytest.mark.parametrize(
    "network",
    [grid(GridParams(rows=3, cols=4, spacing_m=333.3)), corridor(CorridorParams())],
    ids=["grid", "corridor"],
)
def test_round_trip_gives_equal_arrays(tmp_path: Path, network) -> None:
    nodes_path, links_path = write_network_csv(network, tmp_path / "out")
    assert (nodes_path.name, links_path.name) == ("nodes.csv", "links.csv")
    back = read_network_csv(nodes_path, links_path)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(network, name), err_msg=name)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["links.csv", "nodes.csv"]


def test_written_links_use_engineering_units(tmp_path: Path) -> None:
    _, links_path = write_network_csv(grid(GridParams(rows=1, cols=2)), tmp_path)
    header, first = links_path.read_text().splitlines()[:2]
    assert header == LINK_HEADER + ",jam_density_vpkm_per_lane,road_class"
    assert first.split(",")[6:] == ["1800.0", "140.0", "arterial"]


def test_optional_columns_default(tmp_path: Path) -> None:
    net = read_network_csv(*write(tmp_path, NODES, f"{LINK_HEADER}\n{GOOD_LINK}\n"))
    assert net.node_ids.tolist() == ["10", "20", "30"]
    assert net.link_ids.tolist() == ["1"]
    assert (net.from_node[0], net.to_node[0]) == (0, 1)
    assert net.capacity_vps_per_lane[0] == pytest.approx(0.5)
    assert net.jam_density_vpm_per_lane[0] == pytest.approx(0.14)
    assert net.road_class[0] == RoadClass.ARTERIAL


def test_optional_columns_given_and_blank(tmp_path: Path) -> None:
    links = (f"road_class,{LINK_HEADER},jam_density_vpkm_per_lane\n"
             f"Expressway,{GOOD_LINK},120\n"
             f"ramp,2,20,30,50,1,10,1200,\n")
    net = read_network_csv(*write(tmp_path, NODES, links))
    assert list(net.road_class) == [RoadClass.EXPRESSWAY, RoadClass.RAMP]
    assert net.jam_density_vpm_per_lane == pytest.approx([0.12, 0.14])


NODE_CASES = [
    ("id,x_m,y_m\n10,0,0\n ,1,1\n", 3, "id", "empty value; expected an id"),
    ("id,x_m,y_m\n10,0,0\n20,1,1\n10,2,2\n", 4, "id", "duplicate id '10'"),
    ("id,x_m,y_m\n10,0,0\n20,east,1\n,140,arterial", 3, "x_m", "'east'"),
    ("id,x_m,y_m\n10,0,0\n20,1,nan\n,140,arterial", 3, "y_m", "'nan'"),
    ("id,x_m,y_m\n10,0,0\n\n20,1,1,9\n", 4, None, "4 fields"),
]


@pytest.mark.parametrize(("nodes", "line", "column", "shown"), NODE_CASES)
def test_bad_node_rows(tmp_path: Path, nodes: str, line: int, column: str | None,
                       shown: str) -> None:
    paths = write(tmp_path, nodes, f"{LINK_HEADER}\n{GOOD_LINK}\n")
    with pytest.raises(InputFileError) as info:
        read_network_csv(*paths)
    err = info.value
    assert (err.file, err.line, err.column) == (str(paths[0]), line, column)
    assert shown in str(err)


LINK_CASES = [
    (",10,20,100,2,13.9,1800,140,arterial", "id", "empty value; expected an id"),
    ("1,10,20,100,2,13.9,1800,140,arterial", "id", "duplicate id '1'"),
    ("2,99,20,100,2,13.9,1800,140,arterial", "from", "unknown node id '99'"),
    ("2,10,77,100,2,13.9,1800,140,arterial", "to", "unknown node id '77'"),
    ("2,ten,20,100,2,13.9,1800,140,arterial", "from", "unknown node id 'ten'"),
    ("2,010,20,100,2,13.9,1800,140,arterial", "from", "unknown node id '010'"),
    ("2,10,,100,2,13.9,1800,140,arterial", "to", "empty value; expected an id"),
    ("2,20,20,100,2,13.9,1800,140,arterial", "to", "from == to (20)"),
    ("2,10,20,0,2,13.9,1800,140,arterial", "length_m", "'0'"),
    ("2,10,20,-5,2,13.9,1800,140,arterial", "length_m", "'-5'"),
    ("2,10,20,long,2,13.9,1800,140,arterial", "length_m", "'long'"),
    ("2,10,20,100,0,13.9,1800,140,arterial", "lanes", "0 is below 1"),
    ("2,10,20,100,two,13.9,1800,140,arterial", "lanes", "'two'"),
    ("2,10,20,100,1.5,13.9,1800,140,arterial", "lanes", "'1.5'"),
    ("2,10,20,100,2,0,1800,140,arterial", "free_speed_mps", "'0'"),
    ("2,10,20,100,2,fast,1800,140,arterial", "free_speed_mps", "'fast'"),
    ("2,10,20,100,2,13.9,-1,140,arterial", "capacity_vph_per_lane", "'-1'"),
    ("2,10,20,100,2,13.9,,140,arterial", "capacity_vph_per_lane", "empty value"),
    ("2,10,20,100,2,13.9,1800,0,arterial", "jam_density_vpkm_per_lane", "'0'"),
    ("2,10,20,100,2,13.9,1800,30,arterial", "jam_density_vpkm_per_lane", "critical density"),
    ("2,10,20,100,2,13.9,1800,140,highway", "road_class", "'highway'"),
    ("2,10,20,100,2,13.9", None, "6 fields"),
    ("2,10,20,100,2,13.9,1800,140,ramp,extra", None, "10 fields"),
]


@pytest.mark.parametrize(("bad", "column", "shown"), LINK_CASES)
def test_bad_link_rows(tmp_path: Path, bad: str, column: str | None, shown: str) -> None:
    header = LINK_HEADER + ",jam_density_vpkm_per_lane,road_class"
    good = GOOD_LINK + ",140,arterial"
    paths = write(tmp_path, NODES, f"{header}\n{good}\n\n{bad}\n")
    with pytest.raises(InputFileError) as info:
        read_network_csv(*paths)
    err = info.value
    assert (err.file, err.line, err.column) == (str(paths[1]), 4, column)
    assert shown in str(err)


def test_missing_file(tmp_path: Path) -> None:
    nodes_path, _ = write(tmp_path, NODES, f"{LINK_HEADER}\n{GOOD_LINK}\n")
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputFileError) as info:
        read_network_csv(nodes_path, missing)
    assert (info.value.file, info.value.line, info.value.reason) == (
        str(missing), None, "file not found")


def test_unknown_column(tmp_path: Path) -> None:
    paths = write(tmp_path, NODES, f"{LINK_HEADER},colour\n{GOOD_LINK},red\n")
    with pytest.raises(InputFileError) as info:
        read_network_csv(*paths)
    assert (info.value.line, info.value.column) == (1, "colour")
    assert "unknown column 'colour'" in str(info.value)


def test_missing_required_column(tmp_path: Path) -> None:
    paths = write(tmp_path, "id,x_m\n10,0\n", f"{LINK_HEADER}\n{GOOD_LINK}\n")
    with pytest.raises(InputFileError) as info:
        read_network_csv(*paths)
    assert (info.value.file, info.value.line, info.value.column) == (str(paths[0]), 1, "y_m")


@pytest.mark.parametrize(
    ("links", "reason"),
    [("", "file is empty"), (f"{LINK_HEADER}\n\n", "no links")],
    ids=["empty", "header-only"],
)
def test_empty_links_file(tmp_path: Path, links: str, reason: str) -> None:
    paths = write(tmp_path, NODES, links)
    with pytest.raises(InputFileError, match=reason) as info:
        read_network_csv(*paths)
    assert info.value.file == str(paths[1])


def test_no_nodes(tmp_path: Path) -> None:
    paths = write(tmp_path, "id,x_m,y_m\n", f"{LINK_HEADER}\n{GOOD_LINK}\n")
    with pytest.raises(InputFileError, match="no nodes"):
        read_network_csv(*paths)


@pytest.mark.parametrize(("shape", "shown"), [
    ("0 0", "point 1 '0' is not 'x,y'"),
    ("0,0 1,x", "point 2 '1,x' is not 'x,y'"),
    ("0,0", "has 1 point(s); a shape needs at least two"),
    ("0,0 inf,1", "point 2 'inf,1' is not finite"),
])
def test_bad_shapes(tmp_path: Path, shape: str, shown: str) -> None:
    links = f"{LINK_HEADER},shape\n{GOOD_LINK},\n\n2,20,30,50,1,10,1200,\"{shape}\"\n"
    paths = write(tmp_path, NODES, links)
    with pytest.raises(InputFileError) as info:
        read_network_csv(*paths)
    assert (info.value.line, info.value.column) == (4, "shape")
    assert shown in str(info.value)


def test_text_ids_and_shapes_round_trip(tmp_path: Path) -> None:
    """Ids are opaque text (a leading zero and a '#' survive); shapes come back as written."""
    nodes = "id,x_m,y_m\nn0_0,0,0\n007,100,0\n-12,100,50\n"
    links = (f"{LINK_HEADER},shape,type,name\n"
             "-5#0,n0_0,007,100,2,13.9,1800,\"0.00,0.00 50.00,1.00 100.00,0.00\","
             "highway.primary,Main St\n"
             "e2,007,-12,50,1,10,1200,,,\n")
    net = read_network_csv(*write(tmp_path, nodes, links))
    assert net.node_ids.tolist() == ["n0_0", "007", "-12"]
    assert net.link_ids.tolist() == ["-5#0", "e2"]
    assert net.node_index("007") == 1
    assert net.node_index(-12) == 2  # an integer from YAML names the same id
    assert net.shapes is not None
    assert net.shapes.text(0) == "0.00,0.00 50.00,1.00 100.00,0.00"
    assert net.shapes.points(1) is None
    nodes_path, links_path = write_network_csv(net, tmp_path / "out")
    back = read_network_csv(nodes_path, links_path)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(net, name), err_msg=name)
    assert back.shapes is not None
    assert back.shapes.same_as(net.shapes)
