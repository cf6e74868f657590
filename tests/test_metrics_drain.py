"""Draining the network after the horizon, and trips left on the road without it.

The line network (conftest): 2 links of 1 km at 20 m/s, so an unhindered trip 0 -> 2
takes 100 s. 360 veh/h evenly spaced departs at 5, 15, ..., 595 s: 60 trips.
"""

from __future__ import annotations

import pytest

from v2x_sim._core.errors import ScenarioError
from v2x_sim.world import build_world

FLOW = {"flows": [{"origin": 0, "destination": 2, "rate_vph": 360, "vehicle_class": "car"}]}


def _run(line_scenario, v2x: bool = False, **simulation):  # type: ignore[no-untyped-def]
    sim = {"horizon_s": 600, "deterministic": True, **simulation}
    return build_world(line_scenario([{}, {}], simulation=sim, demand=FLOW,
                                     v2x={"enabled": v2x})).run()


def test_without_drain_trips_on_the_road_are_reported(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """Trips departing 505 ... 595 s (10) are still on the road at 600 s, having spent
    95, 85, ..., 5 s in the system: mean 50 s. Vehicle-hours: 50 x 100 s + 500 s =
    5,500 s."""
    s = _run(line_scenario).summary
    assert s["trips_started"] == 60
    assert s["trips_on_road"] == 10
    assert s["trips_on_road_elapsed_mean_s"] == pytest.approx(50.0, rel=1e-9)
    assert s["vehicle_hours"] == pytest.approx(5500 / 3600, rel=1e-9)
    assert s["simulation"]["end_s"] == 600.0


def test_drain_lets_every_trip_arrive(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """With drain the last trip (595 s) arrives at 695 s; the run checks once a second
    (no V2X) and ends at the first check after it, 696 s. All 60 trips complete in 100 s:
    vehicle-hours 6,000 s; links.csv reaches past the horizon to the end."""
    result = _run(line_scenario, drain=True, drain_limit_s=600)
    s = result.summary
    assert s["trips_completed"] == 60
    assert s["trips_on_road"] == 0
    assert s["travel_time_mean_s"] == pytest.approx(100.0, rel=1e-9)
    assert s["vehicle_hours"] == pytest.approx(6000 / 3600, rel=1e-9)
    assert 695.0 < s["simulation"]["end_s"] <= 696.0
    assert result.links["t_end_s"].max() == s["simulation"]["end_s"]
    # bins from 600 s on still see exits: link 0 by trips departing 555 ... 595 s (exit
    # 50 s later: 5 trips), link 1 by those departing 505 ... 595 s (arrive 605 ...: 10)
    last = result.links["t_start_s"] >= 600.0
    assert result.links["exited"][last].sum() == 15


def test_drain_stops_at_its_limit(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """A 30 s drain limit: trips arriving by 630 s (departed by 530 s... up to 525 s: 53
    trips: 5 ... 525 s) complete; the 7 departing 535 ... 595 s are on the road at 630 s
    with elapsed 95, 85, ..., 35 s: mean 65 s."""
    s = _run(line_scenario, drain=True, drain_limit_s=30).summary
    assert s["simulation"]["end_s"] == 630.0
    assert s["trips_completed"] == 53
    assert s["trips_on_road"] == 7
    assert s["trips_on_road_elapsed_mean_s"] == pytest.approx(65.0, rel=1e-9)


def test_no_demand_departs_after_the_horizon(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """A trip listed at 650 s (after the 600 s horizon) never departs, even while the run
    drains: only the 200 s trip runs, and the run ends once it arrived (300 s -> 301 s)."""
    trips = {"trips": [{"depart_s": 200, "origin": 0, "destination": 2},
                       {"depart_s": 650, "origin": 0, "destination": 2}]}
    result = build_world(line_scenario([{}, {}], simulation={
        "horizon_s": 600, "deterministic": True, "drain": True}, demand=trips,
        v2x={"enabled": False})).run()
    assert len(result.trips["id"]) == 1
    assert result.summary["trips_completed"] == 1
    assert result.summary["simulation"]["end_s"] == 600.0  # road already empty


def test_periodic_flows_stop_when_the_road_is_empty(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """With V2X (1 s ticks) the edge's series end with the run (696 s): 696 one-second
    slots, not the 600 + 3,600 s the drain limit would allow."""
    result = _run(line_scenario, v2x=True, drain=True)
    end = result.summary["simulation"]["end_s"]
    assert 695.0 < end <= 696.0
    edges = result.tables["edges"]
    cloud = edges["node"] == "cloud"
    assert cloud.sum() == 696
    assert edges["t_start_s"][cloud].max() == 695.0


def test_drain_limit_counts_toward_the_link_bin_bound(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """10,000 bins at most: a 1 s bin over 6,000 s horizon + 5,000 s drain is too many."""
    with pytest.raises(ScenarioError, match="link_bin_s"):
        line_scenario([{}, {}], simulation={"horizon_s": 6000, "drain": True,
                                            "drain_limit_s": 5000},
                      output={"link_bin_s": 1}, v2x={"enabled": False})


def test_report_says_plainly_when_many_trips_are_unfinished(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """12 of 200 trips (6 %, over the 5 % flag) on the road for 90 s = 1.5 min on
    average: the card says so and names the switch; 8 of 200 (4 %) gets no note."""
    from v2x_sim.report.cards import traffic_cards
    from v2x_sim.report.load import RunData

    def card(on_road: int) -> str:
        summary = {"trips_started": 200, "trips_completed": 200 - on_road,
                   "trips_on_road": on_road, "trips_on_road_elapsed_mean_s": 90.0}
        return traffic_cards(RunData(folder=tmp_path, summary=summary, scenario={},
                                     scenario_text=""))

    flagged = card(12)
    assert "more than 5% of trips had not arrived" in flagged
    assert "1.5 min on average" in flagged
    assert "simulation.drain: true" in flagged
    assert "had not arrived" not in card(8)
