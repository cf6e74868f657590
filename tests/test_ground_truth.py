"""The ground truth's "travel time of a vehicle entering now" against what vehicles live.

Deterministic mode (evenly spaced departures), V2X off: the subject is the traffic
model's own prediction (`observation.true_travel_time_s`), recorded at the instant each
vehicle enters a link and compared with the time it then spends on that link.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim.scenario import scenario_from_dict
from v2x_sim.traffic.observation import speed_array
from v2x_sim.world import build_world

QUIET = {"deterministic": True, "seed": 1}
CARS = {"classes": {"car": {"share": 1.0}, "truck": {"share": 0.0},
                    "delivery": {"share": 0.0}}}


def signalised_line(folder: Path) -> dict[str, Any]:
    """Nodes 0 -> 1 -> 2; 300 m one-lane links, 20 m/s, 1,800 veh/h; link 0 signalised.

    Signal at node 1 on link 0: cycle 60 s, displayed green 30 s from 0, no amber, no
    start-up loss, so the effective green is 30 s and the approach passes 900 veh/h.
    """
    (folder / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,300,0\n2,600,0\n")
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        "0,0,1,300,1,20,1800\n1,1,2,300,1,20,1800\n")
    (folder / "plan.csv").write_text("node,link,cycle_s,green_start_s,green_s,amber_s\n"
                                     "1,0,60,0,30,0\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"plan": "file", "file": "plan.csv", "startup_lost_s": 0.0}}


def predicted_and_lived(folder: Path, road: dict[str, Any], flow_vph: float, horizon_s: float,
                        link: int, incidents: list[dict[str, Any]] | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entry time, predicted time at entry, time spent) of every vehicle through ``link``."""
    scenario = scenario_from_dict(
        {"simulation": {"horizon_s": horizon_s, **QUIET}, "road": road,
         "demand": {"flows": [{"origin": 0, "destination": 2, "rate_vph": flow_vph}]},
         "vehicles": CARS, "v2x": {"enabled": False}, "incidents": incidents or []},
        base_dir=folder)
    world = build_world(scenario)
    traffic = world.traffic
    enter = traffic._enter
    predicted: dict[int, float] = {}

    def recording_enter(lk: int, vehicle: int, now: float) -> None:
        if lk == link:
            predicted[vehicle] = float(traffic.travel_time_s()[link])
        enter(lk, vehicle, now)

    traffic._enter = recording_enter  # type: ignore[method-assign]
    world.run()
    log = world.traversals.to_numpy()
    mine = log["link"] == link
    vehicle, t_in, t_out = log["vehicle"][mine], log["t_in"][mine], log["t_out"][mine]
    guess = np.array([predicted[int(v)] for v in vehicle])
    return t_in, guess, t_out - t_in


@pytest.mark.parametrize(("flow_vph", "lived_s"), [
    # undersaturated, x = 600 / 900 = 2/3: L / v = 300 / 20 = 15 s plus Webster's uniform
    # delay d1 = C (1 - g/C)^2 / (2 (1 - x g/C)) = 60 * 0.25 / (2 * (1 - 1/3)) = 11.25 s
    (600.0, 15.0 + 11.25),
    # oversaturated, 1,200 > 900 veh/h: the link fills to its storage, 300 m * 140 veh/km
    # = 42 vehicles, less the space of those that left in the last L / w = 300 / 4.3478
    # = 69 s (w = 0.5 / (0.14 - 0.5 / 20); 69 s x 0.25 veh/s = 17.25, the backward
    # wave), so 24.75 vehicles, which leave at 900 veh/h = 1 per 4 s: about 99 s on it
    (1200.0, 99.0),
])
def test_prediction_at_entry_matches_the_time_lived_on_a_signalised_link(
        tmp_path: Path, flow_vph: float, lived_s: float) -> None:
    """Rule: on a signalised approach under steady demand, the mean of the travel time
    predicted when each vehicle enters is within 10 % of the mean time vehicles then spend
    on the link (the brief's bound; the recursion is exact here, so the two agree to a
    few per cent). The expectations by hand (parameters) check the lived side itself.
    Without the signal term the prediction was 15 s + the queue standing at entry over
    0.5 veh/s, about 19 s against 26 s lived: 28 % short.
    """
    t_in, guess, lived = predicted_and_lived(tmp_path, signalised_line(tmp_path), flow_vph,
                                             3600.0, link=0)
    steady = (t_in >= 900.0) & (t_in < 3000.0)
    assert steady.sum() > 300
    assert float(lived[steady].mean()) == pytest.approx(lived_s, rel=0.06)
    assert float(guess[steady].mean()) == pytest.approx(float(lived[steady].mean()), rel=0.10)
    # exact per vehicle, too: nothing after entry changes a FIFO vehicle's exit here
    np.testing.assert_allclose(guess[steady], lived[steady], rtol=1e-6)


def test_prediction_rises_at_incident_onset_before_the_queue_grows(tmp_path: Path) -> None:
    """Rule: when an incident halves a link's capacity, the travel time predicted for a
    vehicle entering now rises at once, while no vehicle yet stands in the exit queue.

    Link 0: 1 km, 2 lanes at 20 m/s (50 s), 3,600 veh/h; 2,700 veh/h arrive, so about
    2,700 / 3,600 * 50 = 37.5 vehicles are moving on it and none stands. At t = 1,200 s
    one lane closes: 1,800 veh/h, a vehicle every 2 s. The ~37 vehicles ahead then leave
    one per 2 s from about now on, the last near now + 74 s, so the new vehicle (at the
    end after 50 s) exits about 76 s after entering: over 1.4x the 50 s just before.
    """
    from tests.conftest import write_line_network

    road = write_line_network(tmp_path, [{"lanes": 2}, {"lanes": 2}])
    scenario = scenario_from_dict(
        {"simulation": {"horizon_s": 1800.0, **QUIET}, "road": road,
         "demand": {"flows": [{"origin": 0, "destination": 2, "rate_vph": 2700.0}]},
         "vehicles": CARS, "v2x": {"enabled": False},
         "incidents": [{"link": 0, "start_s": 1200.0, "end_s": 1700.0, "lanes_closed": 1}]},
        base_dir=tmp_path)
    world = build_world(scenario)
    world.env.run(until=1199.9)
    before = float(world.traffic.travel_time_s()[0])
    world.env.run(until=1200.05)
    after = float(world.traffic.travel_time_s()[0])
    assert before == pytest.approx(50.0, rel=0.02)
    assert world.traffic.queued_on(0) == 0
    assert after > 1.4 * before
    assert after == pytest.approx(76.0, rel=0.05)


def test_speed_at_entry_is_free_speed_on_the_triangular_diagram(line_scenario) -> None:
    """Rule: with the moving density capped at critical (k_c = q / v_f), the triangular
    diagram gives v_f at any density up to the cap: 1,800 veh/h = 0.5 veh/s over 20 m/s is
    k_c = 0.025 veh/m, and at that density the speed is still 20 m/s."""
    scenario = line_scenario([{"length_m": 1000.0}], simulation={"horizon_s": 10, **QUIET},
                             demand={"trips": [{"depart_s": 1.0, "origin": 0,
                                                "destination": 1}]}, v2x={"enabled": False})
    world = build_world(scenario)
    speed = speed_array(world.traffic, np.array([0.025]))
    assert speed[0] == pytest.approx(20.0, rel=1e-12)
