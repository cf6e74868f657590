from pathlib import Path

import numpy as np
import pytest

from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.road.generators import grid
from v2x_sim.road.network import build_network
from v2x_sim.scenario.road_sections import GridParams
from v2x_sim.scenario.sections import TripEntry, VehicleKind
from v2x_sim.traffic.trip_file import (
    NOT_GIVEN,
    TripList,
    read_trip_file,
    trip_list_from_entries,
)

KIND = {kind: i for i, kind in enumerate(VehicleKind)}


@pytest.fixture(scope="module")
def net():
    return grid(GridParams(rows=2, cols=2))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trips.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_parsed_exactly_in_file_order(tmp_path, net):
    path = write(tmp_path, "depart_s,origin,destination,class\n"
                           "12.5,0,3,car\n"
                           "\n"
                           "0,3,1,truck\n"
                           "7,2,0,Shuttle\n"
                           "1e2,1,2,delivery\n")
    trips = read_trip_file(path, net)
    assert len(trips) == 4
    np.testing.assert_array_equal(trips.depart_s, [12.5, 0.0, 7.0, 100.0])
    np.testing.assert_array_equal(trips.origin, [0, 3, 2, 1])
    np.testing.assert_array_equal(trips.destination, [3, 1, 0, 2])
    np.testing.assert_array_equal(
        trips.kind, [KIND[VehicleKind.CAR], KIND[VehicleKind.TRUCK],
                     KIND[VehicleKind.SHUTTLE], KIND[VehicleKind.DELIVERY]])
    np.testing.assert_array_equal(trips.connected, [NOT_GIVEN] * 4)
    assert trips.depart_s.dtype == np.float64
    assert trips.origin.dtype == np.int64
    assert trips.destination.dtype == np.int64
    assert trips.kind.dtype == np.int64
    assert trips.connected.dtype == np.int8


def test_connected_column_values(tmp_path, net):
    rows = ["1", "0", "true", "FALSE", "yes", "no", ""]
    text = "class,connected,depart_s,origin,destination\n" + "".join(
        f"car,{value},{i},0,1\n" for i, value in enumerate(rows))
    trips = read_trip_file(write(tmp_path, text), net)
    np.testing.assert_array_equal(trips.connected, [1, 0, 1, 0, 1, 0, -1])
    np.testing.assert_array_equal(trips.depart_s, np.arange(len(rows)))


def test_origin_and_destination_become_node_indices(tmp_path):
    net = build_network(
        node_ids=[10, 20], x_m=[0.0, 100.0], y_m=[0.0, 0.0], from_node=[0, 1],
        to_node=[1, 0], length_m=[100.0, 100.0], lanes=[1, 1], free_speed_mps=[10.0, 10.0],
        capacity_vps_per_lane=[0.5, 0.5], jam_density_vpm_per_lane=[0.14, 0.14],
        road_class=[0, 0])
    trips = read_trip_file(write(tmp_path, "depart_s,origin,destination,class\n"
                                           "0,20,10,car\n"), net)
    np.testing.assert_array_equal(trips.origin, [1])
    np.testing.assert_array_equal(trips.destination, [0])
    with pytest.raises(InputFileError) as err:
        read_trip_file(write(tmp_path, "depart_s,origin,destination,class\n0,0,1,car\n"), net)
    assert (err.value.line, err.value.column) == (2, "origin")


HEADER = "depart_s,origin,destination,class,connected\n"
GOOD = "1,0,1,car,\n"


@pytest.mark.parametrize(
    ("row", "column", "shown"),
    [
        ("abc,0,1,car,", "depart_s", "'abc'"),
        ("-1,0,1,car,", "depart_s", "'-1'"),
        ("nan,0,1,car,", "depart_s", "'nan'"),
        (",0,1,car,", "depart_s", "''"),
        ("1,x,1,car,", "origin", "'x'"),
        ("1,1.5,1,car,", "origin", "'1.5'"),
        ("1,9,1,car,", "origin", "9"),
        ("1,0,y,car,", "destination", "'y'"),
        ("1,0,-4,car,", "destination", "-4"),
        ("1,2,2,car,", "destination", "2"),
        ("1,0,1,bus,", "class", "'bus'"),
        ("1,0,1,car,maybe", "connected", "'maybe'"),
        ("1,0,1,car,2", "connected", "'2'"),
    ],
)
def test_bad_row_names_line_column_and_value(tmp_path, net, row, column, shown):
    path = write(tmp_path, HEADER + GOOD + "\n" + row + "\n" + GOOD)
    with pytest.raises(InputFileError) as err:
        read_trip_file(path, net)
    assert err.value.line == 4  # physical line: the blank line 3 still counts
    assert err.value.column == column
    assert err.value.file == str(path)
    assert shown in str(err.value)
    assert "expected" in str(err.value)


def test_bad_class_lists_allowed_values(tmp_path, net):
    with pytest.raises(InputFileError, match="car, truck, shuttle, delivery"):
        read_trip_file(write(tmp_path, HEADER + "1,0,1,lorry,\n"), net)


@pytest.mark.parametrize("row", ["1,0,1,car", "1,0,1,car,1,extra"])
def test_wrong_number_of_fields(tmp_path, net, row):
    with pytest.raises(InputFileError, match="fields; expected 5") as err:
        read_trip_file(write(tmp_path, HEADER + row + "\n"), net)
    assert err.value.line == 2
    assert err.value.column is None


def test_missing_file(tmp_path, net):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputFileError, match="file not found") as err:
        read_trip_file(path, net)
    assert err.value.file == str(path)
    assert err.value.line is None


def test_unknown_column(tmp_path, net):
    with pytest.raises(InputFileError, match="unknown column 'speed'") as err:
        read_trip_file(write(tmp_path, "depart_s,origin,destination,class,speed\n"), net)
    assert (err.value.line, err.value.column) == (1, "speed")


def test_missing_required_column(tmp_path, net):
    with pytest.raises(InputFileError, match="required column 'class' is missing") as err:
        read_trip_file(write(tmp_path, "depart_s,origin,destination\n1,0,1\n"), net)
    assert (err.value.line, err.value.column) == (1, "class")


def test_duplicate_column(tmp_path, net):
    with pytest.raises(InputFileError, match="more than once") as err:
        read_trip_file(write(tmp_path, "depart_s,origin,origin,destination,class\n"), net)
    assert err.value.column == "origin"


def test_empty_file(tmp_path, net):
    with pytest.raises(InputFileError, match="empty"):
        read_trip_file(write(tmp_path, ""), net)


def test_header_only_gives_empty_list(tmp_path, net):
    trips = read_trip_file(write(tmp_path, "\ufeffdepart_s,origin,destination,class\n"), net)
    assert len(trips) == 0
    assert trips.depart_s.dtype == np.float64
    assert trips.connected.dtype == np.int8


def test_entries_and_concat(tmp_path, net):
    entries = [
        TripEntry(depart_s=5.0, origin=3, destination=0, vehicle_class="truck"),
        TripEntry(depart_s=1.0, origin=1, destination=2, connected=True),
        TripEntry(depart_s=2.0, origin=2, destination=1, vehicle_class="delivery",
                  connected=False),
    ]
    from_entries = trip_list_from_entries(entries, net)
    np.testing.assert_array_equal(from_entries.depart_s, [5.0, 1.0, 2.0])
    np.testing.assert_array_equal(from_entries.origin, [3, 1, 2])
    np.testing.assert_array_equal(from_entries.destination, [0, 2, 1])
    np.testing.assert_array_equal(
        from_entries.kind, [KIND[VehicleKind.TRUCK], KIND[VehicleKind.CAR],
                            KIND[VehicleKind.DELIVERY]])
    np.testing.assert_array_equal(from_entries.connected, [-1, 1, 0])

    from_file = read_trip_file(write(tmp_path, HEADER + "0.5,0,3,shuttle,yes\n"), net)
    both = TripList.concat(from_file, from_entries, TripList.empty())
    assert len(both) == 4
    np.testing.assert_array_equal(both.depart_s, [0.5, 5.0, 1.0, 2.0])
    np.testing.assert_array_equal(both.connected, [1, -1, 1, 0])
    assert both.connected.dtype == np.int8
    assert len(TripList.concat()) == 0
    assert len(trip_list_from_entries([], net)) == 0


@pytest.mark.parametrize(
    ("origin", "destination", "path", "value"),
    [
        (7, 0, "demand.trips[1].origin", 7),
        (0, 8, "demand.trips[1].destination", 8),
        (2, 2, "demand.trips[1].destination", 2),
    ],
)
def test_entries_errors(net, origin, destination, path, value):
    entries = [TripEntry(depart_s=0.0, origin=0, destination=1),
               TripEntry(depart_s=1.0, origin=origin, destination=destination)]
    with pytest.raises(ScenarioError) as err:
        trip_list_from_entries(entries, net)
    assert err.value.path == path
    assert err.value.value == value


def test_entries_error_uses_field_path(net):
    with pytest.raises(ScenarioError, match=r"^shuttles\.trips\[0\]\.origin = 99"):
        trip_list_from_entries([TripEntry(depart_s=0.0, origin=99, destination=1)], net,
                               field_path="shuttles.trips")


def test_trip_list_rejects_ragged_columns():
    with pytest.raises(ValueError, match="differ in length"):
        TripList.from_columns([0.0], [0, 1], [1], [0], [-1])


def test_the_class_column_may_be_named_vehicle_class(tmp_path, net):
    """As in the scenario's demand.trips; errors then name the column as the file does."""
    trips = read_trip_file(write(tmp_path, "depart_s,origin,destination,vehicle_class\n"
                                           "1,0,1,truck\n2,1,0,car\n"), net)
    assert trips.kind.tolist() == [KIND[VehicleKind.TRUCK], KIND[VehicleKind.CAR]]
    with pytest.raises(InputFileError, match="'bus' is not a vehicle class") as err:
        read_trip_file(write(tmp_path, "depart_s,origin,destination,vehicle_class\n"
                                       "1,0,1,bus\n"), net)
    assert (err.value.line, err.value.column) == (2, "vehicle_class")


def test_trips_no_path_joins_are_dropped_and_counted(tmp_path):
    """On a one-way line 0 -> 1 -> 2 -> 3, a trip may only go forward. Of six explicit
    trips (depart, origin -> destination): 1: 0 -> 3, 2: 3 -> 0, 3: 1 -> 2, 4: 2 -> 1,
    5: 0 -> 2, 6: 2 -> 0, the backward ones (2, 4, 6) have no path: the plan keeps trips
    1, 3, 5 in departure order and counts 3 unroutable."""
    from conftest import make_scenario, write_line_network

    from v2x_sim.road.routing import RouteTables
    from v2x_sim.traffic.demand import build_trip_plan
    from v2x_sim.world import build_network_from

    ods = [(0, 3), (3, 0), (1, 2), (2, 1), (0, 2), (2, 0)]
    scenario = make_scenario(
        tmp_path, road=write_line_network(tmp_path, [{}, {}, {}]),
        demand={"trips": [{"depart_s": float(i + 1), "origin": o, "destination": d}
                          for i, (o, d) in enumerate(ods)]})
    network = build_network_from(scenario)
    free_flow = RouteTables(network, network.free_flow_time_s)
    plan = build_trip_plan(scenario, network, np.random.default_rng(1), free_flow)
    assert plan.depart_s.tolist() == [1.0, 3.0, 5.0]
    assert list(zip(plan.origin.tolist(), plan.destination.tolist(), strict=True)) == [
        (0, 3), (1, 2), (0, 2)]
    assert plan.unroutable == 3
