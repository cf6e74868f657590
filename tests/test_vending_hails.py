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
from v2x_sim.scenario.sections import VehicleKind
from v2x_sim.traffic.demand import KINDS
from v2x_sim.world import build_world


def _build(tmp_path: Path, *, deterministic: bool, seed: int = 1, horizon_s: float = 3600,
           lanes: int = 1, demand: dict | None = None, **area: object):
    spec = {"name": "ring", "centre": 0, "radius_m": 2000, "hails_per_km_h": 6,
            "sale_s": 60, "patience_s": 100000, **area}
    scenario = make_scenario(
        tmp_path, road=ring_road(tmp_path, lanes), v2x={"enabled": False}, demand=demand or {},
        simulation={"horizon_s": horizon_s, "deterministic": deterministic, "seed": seed},
        vehicles={"vending": [spec]})
    return build_world(scenario)


def _run(tmp_path: Path, **options: object):
    world = _build(tmp_path, **options)  # type: ignore[arg-type]
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
    assert (hails["position_m"] == 500.0).all()  # the middle of each 1 km link
    assert area["served"] > 12  # one vehicle round the ring every 16 min serves most


def test_poisson_hail_counts_fall_within_the_band(tmp_path: Path) -> None:
    """Over 5 seeds the hail count is Poisson with mean 24 each: the total of 120 lies
    within 4 standard deviations (sqrt(120) ~ 11). Positions are uniform on the 1 km
    links: their mean lies within 4 standard errors (1000 / sqrt(12 n)) of 500 m."""
    runs = [_run(tmp_path, deterministic=False, seed=s)[1] for s in range(5)]
    total = sum(r.summary["vending"]["areas"][0]["hails"] for r in runs)
    assert abs(total - 120) < 4 * np.sqrt(120)
    positions = np.concatenate([r.tables["hails"]["position_m"] for r in runs])
    assert ((positions >= 0.0) & (positions <= 1000.0)).all()
    assert abs(positions.mean() - 500.0) < 4 * 1000.0 / np.sqrt(12 * positions.size)


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


def _hailed_at(tmp_path: Path, positions: list[float], *, lanes: int = 1,
               patience_s: float = 100000, car_at_s: float | None = None):
    """The ring with a hail at each of ``positions`` on every link, made at 0 s, and no
    others; optionally a car entering the vending vehicle's first link at ``car_at_s``.
    Returns the world after the run, the vending vehicle and its first link."""
    world = _build(tmp_path, deterministic=True, hails_per_km_h=0, horizon_s=1000,
                   lanes=lanes, patience_s=patience_s)
    service, env = world.vending[0], world.env
    for link in range(4):
        for x in positions:
            service.hail(link, 0.0, x)
    env.run(until=1.0)  # the vending vehicle is on its first link
    vending = int(np.flatnonzero(world.fleet.column("kind") == 4)[0])
    first = world.traffic.routes[vending][0]
    if car_at_s is not None:
        net = world.network
        car = world.fleet.add(kind=KINDS.index(VehicleKind.CAR), connected=False,
                              origin=int(net.from_node[first]),
                              destination=int(net.to_node[first]), depart_s=car_at_s,
                              pce=1.0)

        def go():  # type: ignore[no-untyped-def]
            yield env.timeout(car_at_s - env.now)
            world.traffic.depart(car, [first])

        env.process(go())
    world.run()
    return world, vending, first


@pytest.mark.parametrize(("car_at_s", "stood_s"), [(30.0, 60.0), (70.0, 120.0 - 82.5)])
def test_a_hail_is_served_where_it_stands(tmp_path: Path, car_at_s: float,
                                          stood_s: float) -> None:
    """A hail 250 m along each one-lane link: cruising at 15 km/h (4.1667 m/s) the
    vehicle reaches it 250 / 4.1667 = 60 s after entering the link, sells for 60 s,
    and leaves the link 240 + 60 = 300 s after entering it (exits at 300, 600, 900 s;
    the horizon is 1,000 s).
    A car entering its first link at 30 s reaches 250 m behind it and stands there for
    the whole sale (60 s: from 60 to 120 s); one entering at 70 s reaches the stopped
    vehicle at 70 + 250 / 20 = 82.5 s and stands 37.5 s. Either leaves one saturation
    headway (2 s) after the vending vehicle, at 302 s, not at its free-flow time."""
    world, vending, first = _hailed_at(tmp_path, [250.0], car_at_s=car_at_s)
    log = world.traversals.to_numpy()
    mine = log["vehicle"] == vending
    assert log["t_in"][mine] == pytest.approx([0.0, 300.0, 600.0])
    assert log["t_out"][mine] == pytest.approx([300.0, 600.0, 900.0])
    hails = world.vending[0]
    served = [(link, s) for link, s, o in zip(hails.hail_link, hails.stop_s, hails.outcome,
                                               strict=True) if o == "served"]
    assert sorted(s for _, s in served) == pytest.approx([60.0, 360.0, 660.0, 960.0])
    assert [link for link, s in served if s < 100] == [first]
    rows = world.traffic.kerbside.rows
    assert rows["start_s"][:3] == pytest.approx([60.0, 360.0, 660.0])
    assert rows["end_s"][:3] == pytest.approx([120.0, 420.0, 720.0])
    assert rows["delay_behind_s"][0] == pytest.approx(stood_s)
    car = log["vehicle"] == vending + 1
    assert log["t_out"][car] == pytest.approx([302.0])


def test_on_two_lanes_the_car_passes_the_stop(tmp_path: Path) -> None:
    """Two lanes: the same car leaves at its free-flow 30 + 50 = 80 s (the stop closes
    one lane from 60 to 120 s, halving the exit rate; one car is not delayed by that);
    the vending vehicle still stops at 60 s and enters its next link at 300 s (it
    leaves each link's flow after 50 s, then spends 190 s cruising and the 60 s sale
    off it)."""
    world, vending, _ = _hailed_at(tmp_path, [250.0], lanes=2, car_at_s=30.0)
    log = world.traversals.to_numpy()
    assert log["t_out"][log["vehicle"] == vending + 1] == pytest.approx([80.0])
    mine = log["vehicle"] == vending
    assert log["t_in"][mine] == pytest.approx([0.0, 300.0, 600.0, 900.0])
    assert log["t_out"][mine] == pytest.approx([50.0, 350.0, 650.0, 950.0])
    rows = world.traffic.kerbside.rows
    assert rows["start_s"][0] == pytest.approx(60.0)
    assert rows["end_s"][0] == pytest.approx(120.0)
    assert rows["lanes"][0] == 2
    assert rows["delay_behind_s"][0] == 0.0


def test_hails_along_a_link_are_served_in_order_and_patience_counts_to_the_stop(
        tmp_path: Path) -> None:
    """Hails at 600 m and 100 m of each link, patience 130 s. On its first link the
    vehicle reaches 100 m at 24 s (stop to 84 s) and 600 m at 144 + 60 = 204 s: the
    hail made at 0 s has given up at 130 s (abandoned), the first is served. On the
    next links (entered at 240 + 60 = 300 s) every hail has given up."""
    world, vending, first = _hailed_at(tmp_path, [600.0, 100.0], patience_s=130.0)
    hails = world.vending[0]
    on_first = [(x, o, s) for link, x, o, s in zip(hails.hail_link, hails.hail_pos,
                                                    hails.outcome, hails.stop_s, strict=True)
                if link == first]
    assert sorted(on_first, key=lambda r: r[0])[0][:2] == (100.0, "served")
    assert sorted(on_first, key=lambda r: r[0])[0][2] == pytest.approx(24.0)
    assert sorted(on_first, key=lambda r: r[0])[1][:2] == (600.0, "abandoned")
    assert hails.outcome.count("served") == 1
    log = world.traversals.to_numpy()
    assert log["t_out"][log["vehicle"] == vending][0] == pytest.approx(300.0)


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
