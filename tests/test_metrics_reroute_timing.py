"""Time to the first reroute around an incident, per incident.

The clock starts with the incident, and only advice that moves a vehicle from a route
through the incident's link to one avoiding it stops it: not a reroute elsewhere, not a
queue-tail warning.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from test_rerouting import write_two_route_network

from v2x_sim.metrics.reroute_clock import RerouteClocks
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world


def test_clock_counts_only_advice_around_its_incident() -> None:
    """Incident on link 7 from 100 s to 400 s. At 110 s a vehicle is moved from [3, 4]
    to [5, 6] (not through 7: no count); at 130 s advice moves one from [7, 8] to [9, 8]
    (first advice: 30 s) but the driver declines; at 160 s a driver follows advice from
    [2, 7] to [2, 9] (first reroute: 60 s). Advice after the end (450 s) or on another
    incident's link leaves a second incident (link 4, 200 s, never avoided) at None."""
    clocks = RerouteClocks()
    clocks.start(7, 100.0)
    clocks.followed(110.0, [3, 4], [5, 6])
    clocks.advised(110.0, [[3, 4]], [[5, 6]])
    clocks.advised(130.0, [[3, 4], [7, 8]], [[3, 4], [9, 8]])
    clocks.followed(160.0, [2, 7], [2, 9])
    clocks.start(4, 200.0)
    clocks.end(7, 400.0)
    clocks.advised(450.0, [[7]], [[9]])
    clocks.end(4, 500.0)
    clocks.followed(510.0, [4], [5])  # after the second incident ended
    first, second = clocks.clocks
    assert first.time_to_first_advice_s() == 30.0
    assert first.time_to_first_reroute_s() == 60.0
    assert math.isnan(second.time_to_first_advice_s())
    assert math.isnan(second.time_to_first_reroute_s())


def _incident_run(tmp_path: Path, start_s: float) -> dict:  # type: ignore[type-arg]
    """Two equal 100 s routes after a 100 s approach (test_rerouting); 600 veh/h, all
    connected and compliant, depart on route A (the tie breaks towards it). An incident
    on A's first link (1 -> 2) closes one of two lanes with a 10 km/h cap (1000 m at
    2.78 m/s: 360 s instead of 50 s) from ``start_s`` to 900 s. The oracle decides on
    the truth every 30 s (not on hazard confirmations) and its advice arrives at once."""
    data = {
        "simulation": {"horizon_s": 900, "seed": 1, "deterministic": True},
        "road": write_two_route_network(tmp_path),
        "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 600}]},
        "vehicles": {"classes": {"car": {"share": 1.0, "connected_share": 1.0,
                                         "compliance": 1.0},
                                 "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        "incidents": [{"link": 1, "start_s": start_s, "end_s": 900, "lanes_closed": 1,
                       "speed_cap_kmh": 10}],
        "control": {"policy": "oracle", "params": {"inertia": 0.0, "on_hazard": False},
                    "period_s": 30},
        "v2x": {"queue_tails": False},
    }
    return build_world(scenario_from_dict(data, base_dir=tmp_path)).run().summary  # type: ignore[return-value]


@pytest.mark.parametrize(("start_s", "expected_s"), [(310.0, 20.0), (335.0, 25.0)])
def test_first_reroute_waits_for_the_next_decision(tmp_path: Path, start_s: float,
                                                   expected_s: float) -> None:
    """The oracle sees the incident at its next decision (multiples of 30 s): 330 s for
    an incident at 310 s (20 s later), 360 s for one at 335 s (25 s later). Vehicles on
    the approach (one every 6 s) still head for link 1; the advice reaches them at once
    and they follow: first advice and first reroute both at that decision."""
    summary = _incident_run(tmp_path, start_s)
    rerouting = summary["rerouting"]
    (incident,) = rerouting["incidents"]
    assert incident["link"] == "1"
    assert incident["time_to_first_advice_s"] == pytest.approx(expected_s, abs=1e-9)
    assert incident["time_to_first_reroute_s"] == pytest.approx(expected_s, abs=1e-9)
    assert rerouting["time_to_first_reroute_s"] == pytest.approx(expected_s, abs=1e-9)
    # each advised car switches once, to route B (free: no reason to switch back)
    assert rerouting["route_switches_per_advised_vehicle"] == 1.0
    assert rerouting["vehicles_advised"] == rerouting["followed"] > 0
    (hazard,) = summary["hazards"]["by_hazard"]
    assert hazard["time_to_first_reroute_s"] == pytest.approx(expected_s, abs=1e-9)
    assert hazard["time_to_detection_s"] == incident["time_to_detection_s"]
    assert hazard["time_to_detection_s"] is None or hazard["time_to_detection_s"] >= 0.0


def test_report_lists_each_incident_response(tmp_path: Path) -> None:
    """The report's table gives, per incident, the seconds from its start to detection,
    first advice and first reroute (here 0.07, 120 and 125 s; an undetected incident
    never advised shows dashes), and the cards give the mean detour (13.9 s)."""
    from v2x_sim.report.cards import incident_response_table, traffic_cards
    from v2x_sim.report.load import RunData

    summary = {"detour_mean_s": 13.94, "rerouting": {"incidents": [
        {"link": "5", "start_s": 900.0, "time_to_detection_s": 0.07,
         "time_to_first_advice_s": 120.0, "time_to_first_reroute_s": 125.0},
        {"link": "9", "start_s": 1500.0, "time_to_detection_s": None,
         "time_to_first_advice_s": None, "time_to_first_reroute_s": None}]}}
    run = RunData(folder=tmp_path, summary=summary, scenario={}, scenario_text="")
    html = incident_response_table(run)
    assert "Incident response" in html
    assert "<td>125</td>" in html.replace(' class=""', "")
    assert html.count("—") >= 3  # the second incident: nothing happened
    assert "13.9" in traffic_cards(run)
    assert incident_response_table(RunData(folder=tmp_path, summary={}, scenario={},
                                           scenario_text="")) == ""
