"""Lane groups at a link's exit against hand values: lanes from geometry, turn capacity,
passing a held turn.

Deterministic mode; the V2X model and signals are off. Links run at 20 m/s with
1,800 veh/h (0.5 veh/s) per lane and 140 veh/km per lane of jam density.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario

from v2x_sim.road.io import read_network_csv
from v2x_sim.road.lane_layout import lane_masks, share_lanes, turn_angle_deg
from v2x_sim.road.network import build_network
from v2x_sim.world import build_world

DETERMINISTIC = {"deterministic": True, "seed": 3}
NO_V2X = {"enabled": False}


def test_turn_angles_are_positive_to_the_left() -> None:
    """East, then north is a left turn of 90 degrees; east, then south a right turn;
    heading on east is straight on; west to north is a right turn (counter-clockwise
    positive, right-hand traffic)."""
    east, north, south, west = 0.0, math.pi / 2, -math.pi / 2, math.pi
    assert turn_angle_deg(east, north) == pytest.approx(90.0)
    assert turn_angle_deg(east, south) == pytest.approx(-90.0)
    assert turn_angle_deg(east, east) == pytest.approx(0.0)
    assert turn_angle_deg(west, north) == pytest.approx(-90.0)


@pytest.mark.parametrize(("lanes", "angles", "exits", "masks"), [
    # a lane each, leftmost lane (the highest bit) to the leftmost turn; the through
    # movement then shares the turn lanes up to its next link's lanes: right first
    (3, [90.0, 0.0, -90.0], [3, 1, 3], [0b100, 0b010, 0b001]),
    (3, [90.0, 0.0, -90.0], [3, 2, 3], [0b100, 0b011, 0b001]),
    (3, [90.0, 0.0, -90.0], None, [0b100, 0b111, 0b001]),
    # two lanes, through and right (or left): a shared through-right (through-left)
    # lane, so through keeps both lanes
    (2, [0.0, -90.0], None, [0b11, 0b01]),
    (2, [90.0, 0.0], None, [0b10, 0b11]),
    (2, [0.0, -90.0], [1, 2], [0b10, 0b01]),
    # the spare lanes go to the movement closest to straight on
    (4, [0.0, -90.0], [2, 4], [0b1110, 0b0001]),
    (4, [0.0, -90.0], None, [0b1111, 0b0001]),
    (3, [85.0, -5.0], [1, 2], [0b100, 0b011]),
    (3, [85.0, -5.0], None, [0b100, 0b111]),
    # no movement within 30 degrees of straight on: nothing is shared
    (3, [90.0, -90.0], None, [0b110, 0b001]),
    (2, [120.0, 60.0, -60.0, -120.0], None, [0b10, 0b10, 0b01, 0b01]),
    # fewer lanes than movements: left lane left + through, right lane through + right
    (2, [90.0, 0.0, -90.0], None, [0b10, 0b11, 0b01]),
    # the order of the arguments does not matter, only the angles
    (2, [-90.0, 90.0, 0.0], None, [0b01, 0b10, 0b11]),
    (1, [90.0, 0.0, -90.0], None, [0b1, 0b1, 0b1]),
])
def test_lanes_are_handed_out_from_the_left(lanes: int, angles: list[float],
                                            exits: list[int] | None,
                                            masks: list[int]) -> None:
    """The module's rule, worked by hand for the common approaches."""
    assert share_lanes(lanes, angles, exit_lanes=exits) == masks


def test_the_straightest_tie_goes_to_the_movement_continuing_the_road() -> None:
    """Two lanes; left, two movements straight on (an arterial and a ramp leaving at
    0 degrees) and right. Shares: left and the first 0-degree movement (in argument
    order) on the left lane, the second and right on the right lane. The through
    movement, which shares the other lane, is the one continuing the approach's road
    class when they tie, else the first."""
    angles = [90.0, 0.0, 0.0, -90.0]
    assert share_lanes(2, angles, continues=[True, False, True, True]) == [
        0b10, 0b10, 0b11, 0b01]
    assert share_lanes(2, angles) == [0b10, 0b11, 0b01, 0b01]


def test_an_expressway_mainline_keeps_every_lane_at_a_diverge() -> None:
    """Three lanes, the mainline straight on into two lanes and an exit ramp 20 degrees
    to the right (a through movement too, but not the straightest): on an arterial the
    ramp gets the right lane and the mainline the two left ones (as many as its next
    link has); on an expressway the mainline keeps all three."""
    assert share_lanes(3, [0.0, -20.0], exit_lanes=[2, 1]) == [0b110, 0b001]
    assert share_lanes(3, [0.0, -20.0], exit_lanes=[2, 1],
                       through_keeps_all=True) == [0b111, 0b001]


def _junction(folder: Path, *, lanes: int, left: bool, left_length_m: float = 1000.0,
              a_length_m: float = 1000.0) -> dict:
    """Approach a (0 -> 1, east, ``lanes`` lanes), then through t (1 -> 3, east), right
    r (1 -> 4, south), three lanes each, and, if ``left``, left l (1 -> 2, north, one
    lane of ``left_length_m``)."""
    (folder / "nodes.csv").write_text(
        "id,x_m,y_m\n0,0,0\n1,1000,0\n2,1000,1000\n3,2000,0\n4,1000,-1000\n")
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane,"
            "jam_density_vpkm_per_lane",
            f"a,0,1,{a_length_m},{lanes},20,1800,140",
            "t,1,3,1000,3,20,1800,140", "r,1,4,1000,3,20,1800,140"]
    if left:
        rows.append(f"l,1,2,{left_length_m},1,20,1800,140")
    (folder / "links.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def test_geometry_gives_the_junction_its_lane_groups(tmp_path: Path) -> None:
    """Three lanes, left, through and right, the through link three lanes wide: a lane
    each for the turns, and through shares both (left-through, through, through-right
    lanes); without the left turn, through takes the two left lanes and shares the
    right one.
    Exits with one movement have no groups."""
    _junction(tmp_path, lanes=3, left=True)
    net = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    a, t, r, left = (net.link_index(x) for x in "atrl")
    masks = lane_masks(net)
    assert masks[a] == {left: 0b100, t: 0b111, r: 0b001}
    assert masks[t] == masks[r] == masks[left] == {}
    _junction(tmp_path, lanes=3, left=False)
    net = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    assert lane_masks(net)[net.link_index("a")] == {net.link_index("t"): 0b111,
                                                    net.link_index("r"): 0b001}


def test_a_u_turn_away_from_a_dead_end_uses_the_leftmost_lane() -> None:
    """A two-way road 0 - 1 - 2 with two lanes: at node 1 the only planned movement from
    0 -> 1 is on to 2 (both lanes); turning back uses the left lane only. With U-turns
    anywhere, the U-turn is planned and takes the left lane, the through movement the
    right one and shares the left (a through-left lane)."""
    net = build_network(x_m=[0.0, 100.0, 200.0], y_m=[0.0, 0.0, 0.0],
                        from_node=[0, 1, 1, 2], to_node=[1, 0, 2, 1],
                        length_m=[100.0] * 4, lanes=[2] * 4, free_speed_mps=[20.0] * 4,
                        capacity_vps_per_lane=[0.5] * 4,
                        jam_density_vpm_per_lane=[0.14] * 4, road_class=[0] * 4)
    assert lane_masks(net)[0] == {2: 0b11, 1: 0b10}
    assert lane_masks(net, u_turns_anywhere=True)[0] == {1: 0b10, 2: 0b11}


def _exits(world, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    log = world.traversals.to_numpy()
    return np.sort(log["t_out"][log["link"] == world.network.link_index(name)])


@pytest.mark.parametrize(("lanes", "destination", "expected_vph"), [
    (3, 4, 1800.0),  # right turn, one lane of three: one lane's saturation flow
    (3, 3, 3000.0),  # through on three lanes (5,400 veh/h): all the demand passes
    (2, 4, 1800.0),  # right turn on its lane of two
    (2, 3, 3000.0),  # through on two lanes, one shared with the right turn: 3,600 veh/h
])
def test_a_turn_discharges_at_its_lane_groups_saturation_flow(
        tmp_path: Path, lanes: int, destination: int, expected_vph: float) -> None:
    """3,000 veh/h from 0 all turning right at the end of a three-lane approach (5,400
    veh/h): the right-turn group is one lane, so a discharges 1,800 veh/h (one every
    2 s, 300 in 600 s) while the queue grows behind it. The same demand through passes
    whole: 500 in 600 s. On two lanes the same: the right lane is a shared
    through-right lane, so through keeps both lanes (3,600 veh/h; were the right lane
    the right turn's alone, through would pass one lane's 1,800)."""
    scenario = make_scenario(
        tmp_path, road=_junction(tmp_path, lanes=lanes, left=False),
        simulation={"horizon_s": 1200, "moved_on_after_s": 10_000, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": destination, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        v2x=NO_V2X)
    world = build_world(scenario)
    world.env.run(until=1200.0)
    exits = _exits(world, "a")
    in_window = np.count_nonzero((exits >= 600.0) & (exits < 1200.0))
    assert in_window == pytest.approx(expected_vph / 6.0, abs=1)


def test_a_held_left_turn_lets_through_and_right_pass_until_its_lane_is_full(
        tmp_path: Path) -> None:
    """a is 200 m of three lanes (left, through, right: a lane each); l is 7.2 m of one
    lane and closed (it holds 7.2 x 0.14 = 1.008 vehicles: the first for it, stuck).
    360 veh/h each to the left, through and right leave node 0 together every 10 s;
    the k-th for l (k >= 2) stands at a's end from 15 + 10 (k - 1) s. The j-th through
    vehicle enters a one entry headway 1 / (0.5 x 3) = 2/3 s after it, the j-th right
    one 4/3 s after, and reach the end 10 s later with j - 1 held vehicles ahead. They
    pass while those fit in the left lane (200 m x 0.14 = 28 vehicles): 29 of each
    leave, the last through at 15 + 2/3 + 280 = 295.67 s and the last right at
    296.33 s; then the held queue fills the shared section and nothing passes."""
    scenario = make_scenario(
        tmp_path, road=_junction(tmp_path, lanes=3, left=True, left_length_m=7.2,
                                 a_length_m=200.0),
        simulation={"horizon_s": 1200, "moved_on_after_s": 10_000, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": d, "rate_vph": 360,
                           "vehicle_class": "car"} for d in (2, 3, 4)]},
        incidents=[{"link": "l", "start_s": 0, "end_s": 1200, "lanes_closed": 1}],
        v2x=NO_V2X)
    world = build_world(scenario)
    world.run()
    log = world.traversals.to_numpy()
    net = world.network
    on_a = log["link"] == net.link_index("a")
    for name, last in (("t", 15 + 2 / 3 + 280), ("r", 15 + 4 / 3 + 280)):
        turning = np.isin(log["vehicle"],
                          log["vehicle"][log["link"] == net.link_index(name)])
        out = log["t_out"][on_a & turning]
        assert out.size == 29
        assert out.max() == pytest.approx(last, abs=1e-6)
