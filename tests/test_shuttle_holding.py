"""Shuttle lines: holding at stops keeps the headway; headway, bunching and on-time stats.

A one-way ring of four 1 km links (0 -> 1 -> 2 -> 3 -> 0), one lane, 20 m/s (50 s a
link), no other traffic, deterministic mode. The line stops at nodes 0, 1, 2, 3 with a
30 s dwell; two vehicles, target headway 300 s: bus 0 leaves node 0 at 0 s, bus 1 at
300 s. The disturbance: a speed cap of 18 km/h (5 m/s) on link 0 from 0 s to 100 s,
which only bus 0 meets: it needs 200 s for link 0 instead of 50 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, ring_road

from v2x_sim._core.errors import ScenarioError
from v2x_sim.world import build_world


def _run(tmp_path: Path, horizon_s: float = 700.0, **line: object):
    spec = {"name": "ring", "stops": [0, 1, 2, 3], "vehicles": 2, "headway_s": 300,
            "dwell_s": 30, "layover_s": 0, **line}
    scenario = make_scenario(
        tmp_path, road=ring_road(tmp_path), v2x={"enabled": False},
        simulation={"horizon_s": horizon_s, "deterministic": True, "seed": 1},
        vehicles={"shuttle_lines": [spec]},
        incidents=[{"link": 0, "start_s": 0, "end_s": 100, "lanes_closed": 0,
                    "speed_cap_kmh": 18}])
    result = build_world(scenario).run()
    return result.summary["transit"]["lines"][0], result.tables["stops"]


def _departures(stops: dict, bus: int, round_no: int = 0) -> dict[int, tuple[float, float]]:
    """stop index -> (depart_s, held_s) of one round of one bus."""
    rows = np.flatnonzero((stops["bus"] == bus) & (stops["round"] == round_no))
    return {int(stops["stop_index"][i]): (float(stops["depart_s"][i]),
                                          float(stops["held_s"][i])) for i in rows}


def test_without_holding_the_late_bus_is_caught_up(tmp_path: Path) -> None:
    """Bus 0 reaches node 1 at 200 s and leaves at 230 s; bus 1 reaches it at 350 s and
    leaves at 380 s: a headway of 150 s, half the target (a bunching event at the
    default share 0.5 is a headway below 150 s, so not yet one)."""
    summary, stops = _run(tmp_path, holding="none")
    assert _departures(stops, 0)[1] == (pytest.approx(230.0), 0.0)
    assert _departures(stops, 1)[1] == (pytest.approx(380.0), 0.0)
    first_at_1 = stops["headway_s"][(stops["stop_index"] == 1) & (stops["bus"] == 1)][0]
    assert first_at_1 == pytest.approx(150.0)
    assert summary["held_s"] == 0.0


def test_headway_holding_holds_to_the_headway_capped_at_max_hold(tmp_path: Path) -> None:
    """Holding: bus 1, ready at node 1 at 380 s, would wait for 230 + 300 = 530 s but
    holds at most 120 s: it leaves at 500 s (headway 270 s). At node 2 it is ready at
    500 + 50 + 30 = 580 s, and bus 0 left there at 310 s: it holds 30 s, to 610 s,
    exactly the 300 s headway."""
    _, stops = _run(tmp_path, holding="headway", max_hold_s=120)
    bus1 = _departures(stops, 1)
    assert bus1[1] == (pytest.approx(500.0), pytest.approx(120.0))
    assert bus1[2] == (pytest.approx(610.0), pytest.approx(30.0))
    at_2 = stops["headway_s"][(stops["stop_index"] == 2) & (stops["bus"] == 1)][0]
    assert at_2 == pytest.approx(300.0)


def test_holding_lowers_the_headway_cv_after_a_disturbance(tmp_path: Path) -> None:
    """A round takes 4 x 50 s + 3 x 30 s = 290 s; with a 310 s layover each bus comes
    round every 600 s, two headways. Without holding bus 0 stays 150 s late for the
    hour: headways alternate 150 s and 450 s (CV 0.5, less the first stops' exact
    300 s). Holding restores the 300 s headway (at the terminal at the latest)."""
    free, _ = _run(tmp_path, horizon_s=3600, holding="none", layover_s=310)
    held, _ = _run(tmp_path, horizon_s=3600, holding="headway", layover_s=310)
    assert free["headway_cv"] > 0.4
    assert held["headway_cv"] < free["headway_cv"] / 3
    assert held["held_s"] > 0


def test_timetable_holding_waits_for_the_scheduled_time(tmp_path: Path) -> None:
    """Timetable: bus 1's first round is due at node 0 at 300 s, at node 1 at 300 +
    50 s x 1.25 + 30 s = 392.5 s and at node 2 at 300 + 100 s x 1.25 + 2 x 30 s = 485 s.
    Ready at node 1 at 380 s it holds 12.5 s; ready at node 2 at 392.5 + 50 + 30 = 472.5
    s it holds 12.5 s again (factor 1.25; the ring has no signals, so no wait for green)."""
    _, stops = _run(tmp_path, holding="timetable", running_time_factor=1.25)
    bus1 = _departures(stops, 1)
    assert bus1[1] == (pytest.approx(392.5), pytest.approx(12.5))
    assert bus1[2] == (pytest.approx(485.0), pytest.approx(12.5))
    row = np.flatnonzero((stops["bus"] == 1) & (stops["stop_index"] == 2))[0]
    assert stops["scheduled_s"][row] == pytest.approx(485.0)


def test_on_time_share_and_bunching(tmp_path: Path) -> None:
    """With a 100 s tolerance for lateness bus 0's first round (late by 150 s at every
    stop after the disturbance) misses; a bunching share of 0.6 counts the 150 s
    headway at nodes 1, 2 and 3 (below 180 s) as bunching."""
    summary, stops = _run(tmp_path, holding="none", on_time_late_s=100, bunching_share=0.6)
    late = stops["depart_s"] - stops["scheduled_s"]
    assert summary["on_time_share"] == pytest.approx(float(np.mean((late >= -60) &
                                                                   (late <= 100))))
    assert summary["on_time_share"] < 1.0
    headways = stops["headway_s"][np.isfinite(stops["headway_s"].astype(float))]
    assert summary["bunching_events"] == int((headways < 180.0).sum())
    assert summary["bunching_events"] >= 3


def test_holding_fields_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="holding"):
        make_scenario(tmp_path, vehicles={"shuttle_lines": [
            {"name": "x", "stops": [0, 1], "holding": "always"}]})
    with pytest.raises(ScenarioError, match="bunching_share"):
        make_scenario(tmp_path, vehicles={"shuttle_lines": [
            {"name": "x", "stops": [0, 1], "bunching_share": 1.5}]})


def test_a_vehicle_back_before_the_last_first_departure_waits_for_its_slot(
        tmp_path: Path) -> None:
    """Three vehicles at a 300 s headway: first departures at 0, 300 and 600 s. Bus 0
    is back at the terminal at 200 (links) + 90 (dwells) + 150 (the speed cap) = 440 s,
    before bus 2 has left: it leaves at 600 + 300 = 900 s, not with bus 2 at 600 s (the
    line's previous departure, bus 1's, was at 300 s). Terminal departures are 300 s
    apart."""
    _, stops = _run(tmp_path, horizon_s=1300, holding="headway", vehicles=3)
    at_terminal = np.sort(stops["depart_s"][stops["stop_index"] == 0].astype(float))
    assert at_terminal[:5] == pytest.approx([0.0, 300.0, 600.0, 900.0, 1200.0])
    assert _departures(stops, 0, round_no=1)[0][0] == pytest.approx(900.0)


def test_the_timetable_allows_for_the_mean_wait_for_green() -> None:
    """A 90 s cycle with 40 s of effective green: a lone vehicle arriving at a random
    instant meets red with probability 50 / 90 and then waits 25 s on average:
    50^2 / (2 x 90) = 13.89 s. An unsignalised link: 0."""
    from v2x_sim.road.signals import SignalPlan

    zero = np.zeros(2)
    plan = SignalPlan(cycle_s=np.array([90.0, 0.0]), green_start_s=zero,
                      green_s=np.array([40.0, 0.0]), amber_s=zero, all_red_s=zero,
                      offset_s=zero, startup_lost_s=zero, amber_used_s=zero)
    assert plan.random_arrival_wait_s == pytest.approx([2500.0 / 180.0, 0.0])
