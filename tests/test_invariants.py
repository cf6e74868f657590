"""Seeds and named streams, demand rates, signals and dwelling on fixed small worlds.

Conservation, storage, FIFO and time order over random worlds: test_random_worlds.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world


def small_grid(seed: int, rate_vph: float, *, rows: int = 3, cols: int = 3,
               horizon_s: float = 900.0, incident: bool = True, **extra) -> dict:
    scenario = {
        "simulation": {"horizon_s": horizon_s, "seed": seed, "moved_on_after_s": 120},
        "road": {"generator": "grid", "grid": {"rows": rows, "cols": cols, "spacing_m": 300}},
        "demand": {"random": {"rate_vph": rate_vph}},
        "vehicles": {"shuttle_lines": [{"name": "l", "stops": [0, rows * cols - 1],
                                        "vehicles": 1, "dwell_s": 20}]},
        "incidents": ([{"link": 4, "start_s": 100, "end_s": 600, "lanes_closed": 2}]
                      if incident else []),
        "v2x": {"enabled": False},  # the traffic model is the subject
    }
    scenario.update(extra)
    return scenario


def test_same_seed_gives_identical_summary_and_trips() -> None:
    """Determinism: the same scenario and seed reproduce every number."""
    a = build_world(scenario_from_dict(small_grid(7, 3000))).run()
    b = build_world(scenario_from_dict(small_grid(7, 3000))).run()
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    for column in a.trips:
        np.testing.assert_array_equal(a.trips[column], b.trips[column])


def test_different_seed_gives_different_trips() -> None:
    a = build_world(scenario_from_dict(small_grid(7, 3000))).run()
    b = build_world(scenario_from_dict(small_grid(8, 3000))).run()
    assert not np.array_equal(a.trips["depart_s"][:50], b.trips["depart_s"][:50])


def test_seed_argument_overrides_the_scenario_seed() -> None:
    scenario = scenario_from_dict(small_grid(7, 3000))
    a = build_world(scenario, seed=8).run()
    b = build_world(scenario_from_dict(small_grid(8, 3000))).run()
    np.testing.assert_array_equal(a.trips["depart_s"], b.trips["depart_s"])
    assert a.summary == b.summary


def test_demand_does_not_depend_on_network_hardware() -> None:
    """Named streams: changing the incidents or signals leaves the trips unchanged."""
    a = build_world(scenario_from_dict(small_grid(7, 3000, incident=True)))
    b = build_world(scenario_from_dict(small_grid(7, 3000, incident=False,
                                                  road={"generator": "grid", "grid": {
                                                      "rows": 3, "cols": 3, "spacing_m": 300},
                                                      "signals": {"enabled": False}})))
    np.testing.assert_array_equal(a.plan.depart_s, b.plan.depart_s)
    np.testing.assert_array_equal(a.plan.origin, b.plan.origin)
    np.testing.assert_array_equal(a.plan.connected, b.plan.connected)


def test_poisson_departures_match_the_profile_rate() -> None:
    """Departures per profile step average rate x factor (checked over seeds)."""
    counts = []
    for seed in range(20):
        scenario = scenario_from_dict({
            "simulation": {"horizon_s": 1200, "seed": seed},
            "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3}},
            "demand": {"random": {"rate_vph": 3600},
                       "profile": [{"from_s": 0, "factor": 0.5}, {"from_s": 600, "factor": 2}]},
        })
        depart = build_world(scenario).plan.depart_s
        counts.append(((depart < 600).sum(), (depart >= 600).sum()))
    first, second = np.array(counts).mean(axis=0)
    # expected 300 and 1200; the standard error of a 20-run mean is sqrt(n/20)
    assert first == pytest.approx(300, abs=4 * np.sqrt(300 / 20))
    assert second == pytest.approx(1200, abs=4 * np.sqrt(1200 / 20))


def test_signal_holds_vehicles_during_red() -> None:
    """A lone vehicle reaching a red light leaves at the start of the next green."""
    scenario = scenario_from_dict({
        "simulation": {"horizon_s": 600, "deterministic": True},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3, "spacing_m": 500},
                 "signals": {"cycle_s": 100, "lost_time_s": 0}},
        # node 3 -> 4 is east-west; node 4 (centre) is signalised; EW green 0-50 s
        "demand": {"trips": [{"depart_s": 20.0, "origin": 3, "destination": 5}]},
    })
    result = build_world(scenario).run()
    free = 500 / (50 / 3.6)  # 36 s per link
    # reaches the stop line at 56 s (red since 50 s), waits to 100 s, then one more link
    assert result.trips["arrive_s"][0] == pytest.approx(100 + free)


def test_delivery_vehicles_dwell_at_their_stops() -> None:
    scenario = scenario_from_dict({
        "simulation": {"horizon_s": 1800, "seed": 2},
        "road": {"generator": "grid", "grid": {"rows": 3, "cols": 3}},
        "demand": {"random": {"rate_vph": 600}},
        "vehicles": {"classes": {"car": {"share": 0.0}, "truck": {"share": 0.0},
                                 "delivery": {"share": 1.0, "stops": 2, "dwell_s": 45}}},
    })
    result = build_world(scenario).run()
    done = ~np.isnan(result.trips["arrive_s"])
    dwell = result.trips["dwell_s"][done]
    assert done.sum() > 10
    assert set(np.unique(dwell)) <= {0.0, 45.0, 90.0}
    assert (dwell > 0).mean() > 0.5
    assert np.all(result.trips["travel_time_s"][done]
                  >= result.trips["free_flow_time_s"][done] + dwell - 1e-9)
