"""Delay against the O–D shortest free-flow time, and the detour a route adds.

Pigou's network (tests/test_habitual_routes.py): 0 -> 1 is 2 km (100 s at 20 m/s), then
route A = links 1, 2 (1 km each: 50 + 50 s) or route B = links 3, 4 (2 km each: 100 +
100 s) to node 4. The O–D shortest free-flow time 0 -> 4 is 100 + 100 = 200 s; route B's
is 100 + 200 = 300 s.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.test_habitual_routes import CARS, write_pigou
from v2x_sim.metrics.trip_stats import trip_summary
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world


def _detour_world(folder: Path, share_b: float) -> dict:  # type: ignore[type-arg]
    write_pigou(folder)
    rows = [f"0,4,0,3600,{share_b},0 3 4"]
    if share_b < 1.0:
        rows.append(f"0,4,0,3600,{1.0 - share_b},0 1 2")
    (folder / "routes.csv").write_text("origin,destination,from_s,to_s,share,links\n"
                                       + "\n".join(rows) + "\n")
    scenario = scenario_from_dict({
        "simulation": {"horizon_s": 1200, "seed": 3, "deterministic": True},
        "road": write_pigou(folder),
        "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 36}]},
        "vehicles": CARS, "v2x": {"enabled": False},
        "routing": {"background": "file", "file": {"routes": "routes.csv"}}},
        base_dir=folder)
    return build_world(scenario).run()  # type: ignore[return-value]


def test_a_detour_is_delay_against_the_od_shortest_path(tmp_path: Path) -> None:
    """36 veh/h evenly (one every 100 s, at 50, 150, ..., 1150 s), all on route B, no
    queue: each takes 300 s, so the trips departing by 850 s (9 of them) arrive. Against
    the path driven there is no delay (300 - 300 = 0); against the O–D shortest path the
    delay is 300 - 200 = 100 s, all of it detour (300 - 200 = 100 s)."""
    result = _detour_world(tmp_path, 1.0)
    trips, summary = result.trips, result.summary
    done = ~np.isnan(trips["arrive_s"])
    assert done.sum() == 9
    np.testing.assert_allclose(trips["travel_time_s"][done], 300.0, rtol=1e-12)
    np.testing.assert_allclose(trips["free_flow_time_s"][done], 300.0, rtol=1e-12)
    np.testing.assert_allclose(trips["shortest_free_flow_time_s"], 200.0, rtol=1e-12)
    np.testing.assert_allclose(trips["delay_s"][done], 100.0, rtol=1e-9)
    np.testing.assert_allclose(trips["detour_s"][done], 100.0, rtol=1e-9)
    assert np.isnan(trips["detour_s"][~done]).all()
    assert summary["delay_mean_s"] == pytest.approx(100.0, rel=1e-9)
    assert summary["delay_p95_s"] == pytest.approx(100.0, rel=1e-9)
    assert summary["detour_mean_s"] == pytest.approx(100.0, rel=1e-9)


def test_half_on_the_detour_halves_the_mean_detour(tmp_path: Path) -> None:
    """Shares 0.5 / 0.5 by systematic sampling over 12 trips: 6 on each route. Route A
    trips (200 s) arrive if they depart by 950 s, route B trips (300 s) by 850 s. Every
    arrived trip on A has detour 0 and delay 0; on B 100 s each; the mean detour is
    100 x (B arrived) / (all arrived), worked out from the trips' own routes below."""
    result = _detour_world(tmp_path, 0.5)
    trips = result.trips
    done = ~np.isnan(trips["arrive_s"])
    on_b = trips["free_flow_time_s"] > 250.0
    assert (done & on_b).sum() + (done & ~on_b).sum() == done.sum()
    assert 0 < (done & on_b).sum() < done.sum()  # both routes among the arrived
    expected = 100.0 * (done & on_b).sum() / done.sum()
    assert result.summary["detour_mean_s"] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(trips["delay_s"][done & ~on_b], 0.0, atol=1e-9)


def test_trip_summary_detour_by_hand() -> None:
    """Two trips in the window: A drove its 200 s shortest path in 260 s with 20 s
    dwelling (delay 260 - 200 - 20 = 40 s, detour 0); B drove a 330 s path whose
    shortest is 250 s in 400 s (delay 400 - 250 = 150 s, detour 80 s). Means: delay 95 s,
    detour 40 s; p95 of delay (40, 150): 40 + 0.95 x 110 = 144.5 s. A third trip still
    on the road counts in neither."""
    out = trip_summary(
        depart_s=np.array([0.0, 10.0, 20.0]), arrive_s=np.array([260.0, 410.0, math.nan]),
        free_flow_s=np.array([200.0, 330.0, 50.0]), shortest_s=np.array([200.0, 250.0, 90.0]),
        dwell_s=np.array([20.0, 0.0, 0.0]), distance_m=np.zeros(3),
        moved_on=np.zeros(3, dtype=np.int64), window_s=(0.0, 500.0))
    assert out["delay_mean_s"] == pytest.approx(95.0)
    assert out["delay_p95_s"] == pytest.approx(144.5)
    assert out["detour_mean_s"] == pytest.approx(40.0)
    assert out["trips_on_road"] == 1
