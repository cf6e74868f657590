"""Vending vehicles: Poisson hails per km and hour, sales at the kerb, low-speed cruising.

A one-way ring of four 1 km, one-lane links (20 m/s), no other traffic, V2X off. The
service area is the whole ring (4 km); one vehicle cruises it at 15 km/h (240 s a link).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, ring_road

from v2x_sim._core.errors import ScenarioError
from v2x_sim.world import build_world


def _run(tmp_path: Path, *, deterministic: bool, seed: int = 1, horizon_s: float = 3600,
         lanes: int = 1, demand: dict | None = None, **area: object):
    spec = {"name": "ring", "centre": 0, "radius_m": 2000, "hails_per_km_h": 6,
            "sale_s": 60, "patience_s": 100000, **area}
    scenario = make_scenario(
        tmp_path, road=ring_road(tmp_path, lanes), v2x={"enabled": False}, demand=demand or {},
        simulation={"horizon_s": horizon_s, "deterministic": deterministic, "seed": seed},
        vehicles={"vending": [spec]})
    world = build_world(scenario)
    return world, world.run()


def test_deterministic_hails_are_the_mean_count_and_every_hail_is_accounted_for(
        tmp_path: Path) -> None:
    """6 hails per km and hour on 4 km for an hour: 24 hails, evenly spaced (150 s)."""
    _, result = _run(tmp_path, deterministic=True)
    area = result.summary["vending"]["areas"][0]
    assert area["km"] == pytest.approx(4.0)
    assert area["hails"] == 24
    assert area["served"] + area["abandoned"] + area["waiting_at_end"] == 24
    hails = result.tables["hails"]
    assert np.diff(hails["hail_s"]) == pytest.approx(np.full(23, 150.0))
    assert area["served"] > 12  # one vehicle round the ring every 16 min serves most


def test_poisson_hail_counts_fall_within_the_band(tmp_path: Path) -> None:
    """Over 5 seeds the hail count is Poisson with mean 24 each: the total of 120 lies
    within 4 standard deviations (sqrt(120) ~ 11)."""
    total = sum(_run(tmp_path, deterministic=False, seed=s)[1]
                .summary["vending"]["areas"][0]["hails"] for s in range(5))
    assert abs(total - 120) < 4 * np.sqrt(120)


def test_a_stop_dwells_the_sale_time_per_hail_at_the_kerb(tmp_path: Path) -> None:
    """Each stop lasts sale_s x the hails served there; on one-lane links it blocks the
    link (every kerbside row is a full block)."""
    _, result = _run(tmp_path, deterministic=True)
    kerb = result.tables["kerbside"]
    hails = result.tables["hails"]
    served = hails["outcome"] == "served"
    per_stop = {}
    for t in hails["stop_s"][served]:
        per_stop[round(float(t), 6)] = per_stop.get(round(float(t), 6), 0) + 1
    assert len(kerb["vehicle"]) >= len(per_stop) - 1  # (a stop may last past the end)
    for start, end in zip(kerb["start_s"], kerb["end_s"], strict=True):
        assert end - start == pytest.approx(60.0 * per_stop[round(float(start), 6)])
    assert (kerb["lanes"] == 1).all()
    assert result.summary["vending"]["areas"][0]["stops"] == len(per_stop)
    waits = (hails["stop_s"] - hails["hail_s"])[served]
    assert (waits >= 0).all()


def test_it_cruises_at_its_speed(tmp_path: Path) -> None:
    """With no hails it drives the ring at 15 km/h: 240 s a link, one link after another."""
    world, _ = _run(tmp_path, deterministic=True, hails_per_km_h=0, horizon_s=1000)
    log = world.traversals.to_numpy()
    assert (log["t_out"] - log["t_in"]) == pytest.approx(np.full(len(log["t_in"]), 240.0))
    assert len(log["t_in"]) == 4  # exits at 240, 480, 720, 960 s


def test_on_one_lane_traffic_stays_behind_it_on_two_lanes_it_is_passed(
        tmp_path: Path) -> None:
    """Cars from node 0 to node 2 every 36 s. On one lane those entering a link behind
    the vending vehicle (which needs 240 s for it) leave it no earlier than it does;
    on two lanes every car takes its free-flow 50 s, and the vending vehicle still
    reaches each link's end 240 s after entering it (moving with the flow, then off it)."""
    flows = {"flows": [{"origin": 0, "destination": 2, "rate_vph": 100,
                        "vehicle_class": "car"}]}
    for lanes in (1, 2):
        world, _ = _run(tmp_path, deterministic=True, hails_per_km_h=0, horizon_s=1000,
                             lanes=lanes, demand=flows)
        log = world.traversals.to_numpy()
        vending = int(np.flatnonzero(world.fleet.column("kind") == 4)[0])
        mine = log["vehicle"] == vending
        t_in, t_out = log["t_in"][mine], log["t_out"][mine]
        cars = ~mine
        behind = np.zeros(len(cars), dtype=bool)
        left = np.zeros(len(cars))  # when the vending vehicle left the car's link
        for link, a, b in zip(log["link"][mine], t_in, t_out, strict=True):
            on = cars & (log["link"] == link) & (log["t_in"] > a) & (log["t_in"] < b)
            behind |= on
            left[on] = b
        assert behind.any()  # cars entered a link while it was on it
        if lanes == 1:
            assert t_out - t_in == pytest.approx(np.full(t_in.size, 240.0))
            assert (log["t_out"][behind] >= left[behind]).all()  # none passed it
        else:
            assert np.diff(t_in) == pytest.approx(np.full(t_in.size - 1, 240.0))
            assert (log["t_out"][cars] - log["t_in"][cars]) == pytest.approx(50.0)


def test_areas_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="radius_m"):
        _run(tmp_path, deterministic=True, centre=0, radius_m=10)
    with pytest.raises(ScenarioError, match="hails_per_km_h"):
        _run(tmp_path, deterministic=True, hails_per_km_h=-1)
