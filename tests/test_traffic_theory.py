"""The link model against answers known by hand (deterministic mode).

Exact: one vehicle on an empty link takes L / v_f. Bottleneck: discharge equals the
capacity, the queue grows at arrival - capacity and spills back upstream. Incidents:
halving lanes halves discharge while they last; the queue then clears at full capacity.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.world import build_world

DETERMINISTIC = {"deterministic": True, "seed": 3}
NO_V2X = {"enabled": False}  # the traffic model alone: the V2X model is not the subject


def exits_per_hour(world, link: int, start_s: float, end_s: float) -> float:
    log = world.traversals.to_numpy()
    t_out = log["t_out"][log["link"] == link]
    return float(((t_out >= start_s) & (t_out < end_s)).sum() * 3600.0 / (end_s - start_s))


def test_single_vehicle_takes_length_over_free_speed(line_scenario) -> None:
    """A lone vehicle crosses each empty link in exactly L / v_f."""
    scenario = line_scenario(
        [{"length_m": 1000.0, "free_speed_mps": 20.0}, {"length_m": 750.0, "free_speed_mps": 15.0}],
        simulation={"horizon_s": 600, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 10.0, "origin": 0, "destination": 2}]},
        v2x=NO_V2X,
    )
    result = build_world(scenario).run()
    trips = result.trips
    assert trips["travel_time_s"][0] == pytest.approx(1000 / 20 + 750 / 15, rel=1e-12)
    assert trips["free_flow_time_s"][0] == pytest.approx(100.0, rel=1e-12)
    assert trips["delay_s"][0] == pytest.approx(0.0, abs=1e-9)
    assert trips["distance_m"][0] == pytest.approx(1750.0)
    assert result.summary["trips_completed"] == 1


def bottleneck_world(line_scenario, *, demand_vph: float, horizon_s: float, incidents=()):
    """Two lanes upstream (3,600 veh/h) into a one-lane 1,800 veh/h link."""
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1000.0}, {"lanes": 1, "length_m": 1000.0}],
        simulation={"horizon_s": horizon_s, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": demand_vph,
                           "vehicle_class": "car"}]},
        incidents=list(incidents),
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    return world


def test_bottleneck_discharges_at_capacity(line_scenario) -> None:
    """Demand 3,000 veh/h into a 1,800 veh/h link: it discharges at capacity (within 2 %)."""
    world = bottleneck_world(line_scenario, demand_vph=3000, horizon_s=2400)
    world.run()
    assert exits_per_hour(world, 1, 600, 2400) == pytest.approx(1800, rel=0.02)


def test_queue_grows_at_arrival_minus_capacity_and_spills_back(line_scenario) -> None:
    """Vehicles in the system grow at 3,000 - 1,800 = 1,200 veh/h; the queue fills the
    two-lane link and spills back to the origin.

    Link 0 (2 lanes x 1 km x 140 veh/km = 280 vehicles of storage) holds at most
    280 - q L / w = 280 - 0.5 x 230 = 165 while it discharges at q = 0.5 veh/s: the
    space of the 115 vehicles that left in the last L / w = 1000 / 4.3478 = 230 s has
    not reached its entry yet (w = 0.5 / (0.14 - 0.5 / 20), the backward wave). Counted
    from the logs (entries from the trip table, exits from the traversal log), not from
    the engine's occupancy: entries at 3,000 veh/h from 0.6 s (every 1.2 s), exits at the
    one-lane link's 1,800 veh/h from 50.6 s (every 2 s), so N(t) = (t - 0.6) / 1.2 + 1
    - floor((t - 50.6) / 2) - 1 = t / 3 + 24.8 + f with f in [0, 1) from the floor:
    N = 165 at t = 3 (165 - 24.8 - f) = 420.6 - 3 f, between 417.6 s and 420.6 s.
    """
    world = bottleneck_world(line_scenario, demand_vph=3000, horizon_s=2400)
    counts = {}
    for t in np.arange(60.0, 2401.0, 60.0):
        world.env.run(until=t)
        counts[t] = len(world.fleet) - int((~np.isnan(world.fleet.column("arrive_s"))).sum())
    slope = (counts[2400.0] - counts[600.0]) * 3600.0 / 1800.0
    assert slope == pytest.approx(1200.0, rel=0.02)
    entries = np.sort(world.fleet.column("first_entry_s"))
    entries = entries[np.isfinite(entries)]  # the rest still wait at the origin
    log = world.traversals.to_numpy()
    exits = np.sort(log["t_out"][log["link"] == 0])
    on_link = np.arange(1, entries.size + 1) - np.searchsorted(exits, entries, side="right")
    assert on_link.max() == 165
    full_at = float(entries[np.argmax(on_link >= 165)])
    assert 417.6 - 1e-9 <= full_at <= 420.6 + 1e-9, full_at
    # the queue spilled back past the origin; the one-lane link runs at capacity
    assert world.traffic.waiting_at_origin(0) > 0
    assert world.traffic.queued_on(1) <= 1


def test_incident_halving_capacity_halves_discharge_then_recovers(line_scenario) -> None:
    """One of two lanes closed for 10 min: discharge 3,600 -> 1,800 veh/h; the 200 queued
    vehicles then clear at full capacity (3,600 veh/h, by 2,400 s), and discharge returns
    to the demand."""
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1000.0}, {"lanes": 2, "length_m": 2000.0}],
        simulation={"horizon_s": 3600, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        incidents=[{"link": 1, "start_s": 600, "end_s": 1200, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.run()
    before = exits_per_hour(world, 1, 300, 600)
    during = exits_per_hour(world, 1, 720, 1200)
    after_release = exits_per_hour(world, 1, 1260, 2280)
    settled = exits_per_hour(world, 1, 2700, 3600)
    assert before == pytest.approx(3000, rel=0.02)  # demand below capacity passes
    assert during == pytest.approx(1800, rel=0.02)  # half of 3,600
    assert after_release == pytest.approx(3600, rel=0.02)  # the queue discharges at capacity
    assert settled == pytest.approx(3000, rel=0.02)  # recovered
    kinds = [e.kind for e in world.events.events]
    assert kinds == ["incident_start", "incident_end"]


def test_speed_cap_caps_discharge(line_scenario) -> None:
    """A 10 km/h work zone passes only what the triangular diagram allows at 10 km/h:
    v_c = 2.7778 m/s, w = 0.5 / (0.14 - 0.5 / 20) = 4.3478 m/s, so
    q = v_c w k_j / (v_c + w) = 2.7778 x 4.3478 x 0.14 / 7.1256 = 0.23729 veh/s
    = 854.2 veh/h (below the 1,500 veh/h demand)."""
    scenario = line_scenario(
        [{"lanes": 1}, {"lanes": 1}],
        simulation={"horizon_s": 2400, **DETERMINISTIC},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 1500,
                           "vehicle_class": "car"}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 2400, "lanes_closed": 0,
                    "speed_cap_kmh": 10}],
        v2x=NO_V2X,
    )
    world = build_world(scenario)
    world.run()
    assert exits_per_hour(world, 1, 900, 2400) == pytest.approx(854.2, rel=0.01)


def test_full_closure_lets_nothing_through_until_it_ends(line_scenario) -> None:
    """With every lane closed, the head vehicle waits at the closure, past the 120 s
    limit (a line offers no link with space to move it on to), and leaves when the
    closure ends: 50 s on link 0, at link 1's end at 100 s, out at 600 s."""
    scenario = line_scenario(
        [{"lanes": 1}, {"lanes": 1}],
        simulation={"horizon_s": 1000, "moved_on_after_s": 120, **DETERMINISTIC},
        demand={"trips": [{"depart_s": 0.0, "origin": 0, "destination": 2}]},
        incidents=[{"link": 1, "start_s": 0, "end_s": 600, "lanes_closed": 1}],
        v2x=NO_V2X,
    )
    result = build_world(scenario).run()
    assert result.summary["moved_on"] == 0
    assert result.trips["travel_time_s"][0] == pytest.approx(600.0)
    assert [e.kind for e in result.events].count("moved_on") == 0
