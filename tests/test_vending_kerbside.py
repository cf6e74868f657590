"""Kerbside dwell: a delivery (or vending) stop closes one lane of its link for the dwell.

Deterministic mode, V2X off. Line network, 1 km links at 20 m/s (50 s running), one
lane, 1,800 veh/h per lane (2 s saturation headway). A delivery vehicle departs at
0 s, reaches the end of link 0 at 50 s and dwells 60 s at the kerb there; a car departs
2 s later (the entry headway) and is ready to leave link 0 at 52 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim._core.errors import ScenarioError
from v2x_sim.scenario.sections import VehicleKind
from v2x_sim.traffic.demand import KINDS
from v2x_sim.traffic.kerbside import kerbside_results
from v2x_sim.world import build_world

DET = {"deterministic": True, "seed": 3, "horizon_s": 600}
NO_V2X = {"enabled": False}


def _run(line_scenario, *, lanes: int, kerbside: bool, dwell_s: float = 60.0):
    scenario = line_scenario(
        [{"lanes": lanes}, {"lanes": lanes}], simulation=DET, v2x=NO_V2X,
        vehicles={"classes": {"delivery": {"kerbside": kerbside}}})
    world = build_world(scenario)
    fleet, traffic = world.fleet, world.traffic
    delivery = fleet.add(kind=KINDS.index(VehicleKind.DELIVERY), connected=True, origin=0,
                         destination=2, depart_s=0.0, pce=1.0)
    traffic.depart(delivery, [0, 1], stops={1: dwell_s})
    car = fleet.add(kind=KINDS.index(VehicleKind.CAR), connected=False, origin=0,
                    destination=2, depart_s=0.0, pce=1.0)
    traffic.depart(car, [0, 1])
    world.run()
    log = world.traversals.to_numpy()
    out = {int(v): t for v, link, t in zip(log["vehicle"], log["link"], log["t_out"],
                                            strict=True) if link == 0}
    return world, out[delivery], out[car]


def test_a_kerbside_dwell_on_a_one_lane_link_holds_the_car_behind_for_exactly_the_dwell(
        line_scenario) -> None:
    """The delivery leaves link 0's exit at 50 s and stands at the kerb until 110 s; the
    car behind, ready at 52 s, stands until the lane reopens at 110 s; the delivery pulls
    out first, so the car follows one entry headway (2 s) later, at 112 s: exactly the
    60 s dwell after the 52 s it leaves at when the delivery dwells off the road."""
    world, t_delivery, t_car = _run(line_scenario, lanes=1, kerbside=True)
    _, _, t_car_off_road = _run(line_scenario, lanes=1, kerbside=False)
    assert t_delivery == pytest.approx(50.0)
    assert t_car == pytest.approx(112.0, abs=1e-9)
    assert t_car - t_car_off_road == pytest.approx(60.0, abs=1e-9)
    rows = world.traffic.kerbside.rows
    assert rows["start_s"] == [pytest.approx(50.0)]
    assert rows["end_s"] == [pytest.approx(110.0)]
    assert rows["delay_behind_s"] == [pytest.approx(110.0 - 52.0)]  # the car stood 58 s
    log = world.traversals.to_numpy()
    on_1 = np.sort(log["t_in"][log["link"] == 1])
    assert on_1[0] == pytest.approx(110.0)  # the delivery enters first ...
    assert on_1[1] == pytest.approx(110.0 + 2.0)  # ... the car an entry headway later


def test_off_the_road_the_dwell_blocks_nothing(line_scenario) -> None:
    _, t_delivery, t_car = _run(line_scenario, lanes=1, kerbside=False)
    assert (t_delivery, t_car) == (pytest.approx(50.0), pytest.approx(52.0))


def test_on_a_two_lane_link_the_other_lane_stays_open(line_scenario) -> None:
    """Two lanes: the car entered one entry headway (1 s at two lanes' rate) after the
    delivery and leaves when ready, at 51 s (one saturation headway after it), not 110 s."""
    world, _, t_car = _run(line_scenario, lanes=2, kerbside=True)
    assert t_car == pytest.approx(51.0)
    assert world.traffic.kerbside.rows["delay_behind_s"] == [0.0]


def test_kerbside_is_a_validated_field(line_scenario) -> None:
    with pytest.raises(ScenarioError, match=r"vehicles\.classes\.delivery\.kerbside = 'sometimes'"):
        line_scenario([{}], vehicles={"classes": {"delivery": {"kerbside": "sometimes"}}})


def test_two_stops_side_by_side_block_a_two_lane_link_and_count_as_a_full_block(
        line_scenario) -> None:
    """Two lanes, two deliveries at the kerb of link 0 together: the first from 50 to
    110 s closes one lane, the second (one entry headway behind, 1 s at two lanes' rate)
    from 51 to 111 s the other. When the first ends both lanes are closed: a full block,
    and the car behind (ready at 52 s) stood 110 - 52 = 58 s; when the second ends the
    first's lane is open again: no full block, no delay measured."""
    scenario = line_scenario(
        [{"lanes": 2}, {"lanes": 2}], simulation=DET, v2x=NO_V2X,
        vehicles={"classes": {"delivery": {"kerbside": True}}})
    world = build_world(scenario)
    fleet, traffic = world.fleet, world.traffic
    for _ in range(2):
        delivery = fleet.add(kind=KINDS.index(VehicleKind.DELIVERY), connected=True,
                             origin=0, destination=2, depart_s=0.0, pce=1.0)
        traffic.depart(delivery, [0, 1], stops={1: 60.0})
    car = fleet.add(kind=KINDS.index(VehicleKind.CAR), connected=False, origin=0,
                    destination=2, depart_s=0.0, pce=1.0)
    traffic.depart(car, [0, 1])
    world.run()
    rows = traffic.kerbside.rows
    assert rows["start_s"] == [pytest.approx(50.0), pytest.approx(51.0)]
    assert rows["end_s"] == [pytest.approx(110.0), pytest.approx(111.0)]
    assert rows["full_block"] == [True, False]
    assert rows["delay_behind_s"] == [pytest.approx(58.0), 0.0]
    log = world.traversals.to_numpy()
    t_car = log["t_out"][(log["vehicle"] == car) & (log["link"] == 0)][0]
    assert t_car >= 110.0  # nothing passed while both lanes were closed
    summary, table = kerbside_results(traffic.kerbside, list(KINDS), fleet.kind, [0, 1])
    assert summary["full_blocks"] == 1
    assert table["full_block"].tolist() == [1, 0]
