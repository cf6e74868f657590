"""Warm-up applies to every statistic: links, congestion, latency, edges, belief, rerouting.

The V2X cases reuse the hand-derived run of test_message_volumes: three connected cars
on a 3 km line (1 km links at 15 m/s), A 0 -> 3 at 10.25 s (on the road for the ticks
11..210), B 1 -> 3 at 40.5 s (41..173), C 0 -> 2 at 100.75 s (101..234); 13 RSUs, three
10 Hz cameras, two edge nodes of 8 cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_scenario, write_line_network
from test_message_volumes import CAMERAS, RSUS

from v2x_sim.world import build_world


def _volumes(folder: Path, warmup_s: float):  # type: ignore[no-untyped-def]
    road = write_line_network(folder, [{"free_speed_mps": 15.0}] * 3)
    return build_world(make_scenario(
        folder, road=road,
        simulation={"horizon_s": 300.0, "warmup_s": warmup_s, "deterministic": True,
                    "seed": 5},
        demand={"trips": [
            {"depart_s": 10.25, "origin": 0, "destination": 3, "connected": True},
            {"depart_s": 40.5, "origin": 1, "destination": 3, "connected": True},
            {"depart_s": 100.75, "origin": 0, "destination": 2, "connected": True}]},
        roadside={"rsu": {"placement": {"mode": "list", "positions": RSUS}},
                  "sensors": [{"kind": "camera", "frame_rate_hz": 10,
                               "placement": {"mode": "list", "positions": CAMERAS}}]},
        edge={"nodes": 2})).run()


@pytest.fixture(scope="module")
def after_150(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return _volumes(tmp_path_factory.mktemp("warm150"), 150.0)


def test_latency_counts_start_at_the_warm_up(after_150) -> None:  # type: ignore[no-untyped-def]
    """Ticks from 150 s with a car on the road: A 150..210 (61), B 150..173 (24), C
    150..234 (85): 170. BSM 10 Hz: 1,700; status 1 Hz: 170; frames 3 x 10 Hz x 150 s:
    4,500; aggregates every 5 s from two nodes (phases 0 and 3.09 s): 150, 155, ..., 295
    and 153.09, ..., 298.09: 60 (without warm-up: 4,670, 467, 9,000, 120). A message
    still on its way at 150 s counts in the new period (at most one per sender: the
    three cars' last BSM and status, the cameras' last frame), and every kind still
    adds up: sent = delivered + lost + in flight."""
    latency = after_150.summary["latency"]
    assert 1700 <= latency["bsm"]["sent"] <= 1703
    assert 170 <= latency["status"]["sent"] <= 173
    assert 4500 <= latency["perception"]["sent"] <= 4503
    assert latency["aggregate"]["sent"] == 60
    for kind, entry in latency.items():
        assert entry["sent"] == entry["delivered"] + entry["lost"] + entry["in_flight"], kind
    table = after_150.tables["latency"]
    total = (table["kind"] == "bsm") & (table["hop"] == "total")
    assert int(table["count"][total][0]) == latency["bsm"]["delivered"]


def test_channel_load_counts_from_the_warm_up(after_150) -> None:  # type: ignore[no-untyped-def]
    """Every BSM reaches an RSU (test_message_volumes): received from 150 s on = 1,700."""
    assert int(after_150.tables["rsus"]["bsm_received"].sum()) == 1700


def test_edge_load_is_averaged_from_the_warm_up(tmp_path: Path) -> None:
    """Warm-up 240 s: every car has arrived (by 234.1 s), so the edges serve only camera
    frames, 3 cameras x 10 Hz x 1 ms = 0.03 busy core-seconds per second, and their own
    aggregates, 2 nodes x 0.2 Hz x 1 ms = 0.0004 (12 each in [240, 300): 240 ... 295 s
    and 243.09 ... 298.09 s); with 8 cores each, the two nodes' mean utilisations add up
    to 0.0304 / 8 = 0.0038 (from 0 s the BSMs would add to it). The edges.csv series
    still starts at 0 s."""
    result = _volumes(tmp_path, 240.0)
    edges = result.summary["edges"]
    total = edges["edge-0"]["utilisation_mean"] + edges["edge-1"]["utilisation_mean"]
    assert total == pytest.approx(0.0304 / 8, rel=1e-6)
    assert result.tables["edges"]["t_start_s"].min() == 0.0


def test_links_and_congestion_count_from_the_warm_up(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """An incident caps link 0 (of two 1 km links, 20 m/s) at 18 km/h = 5 m/s from 0 to
    60 s: 60 veh/h evenly (one a minute, at 30, 90, ... s) - the car entering at 30 s
    takes 1000 / 5 = 200 s, so link 0 is slow (speed ratio 0.25 < 0.5) in the 60 s bins
    up to 230 s; every later car drives at free flow. From a 300 s warm-up no bin is
    congested; without it, link 0's bins [0, 60) ... [180, 240) are: 4 x 1 min."""
    def congestion(warmup_s: float) -> tuple[float, int]:
        scenario = line_scenario(
            [{}, {}], simulation={"horizon_s": 600, "warmup_s": warmup_s,
                                  "deterministic": True},
            demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 60,
                               "vehicle_class": "car"}]},
            incidents=[{"link": 0, "start_s": 0, "end_s": 60, "lanes_closed": 0,
                        "speed_cap_kmh": 18}],
            output={"link_bin_s": 60}, v2x={"enabled": False})
        summary = build_world(scenario).run().summary
        return summary["congested_link_minutes"], summary["congested_links_max"]

    assert congestion(0.0) == (4.0, 1)
    assert congestion(300.0) == (0.0, 0)


def test_belief_and_rerouting_count_from_the_warm_up(line_scenario) -> None:  # type: ignore[no-untyped-def]
    """dynamic_shortest decides every 60 s (at 60, 120, ..., 540 s; 600 s is the end):
    9 decisions and 9 belief samples without warm-up; from a 300 s warm-up only those at
    300 ... 540 s: 5 each (connected cars on the road at every one: 360 veh/h, all
    connected, 100 s trips)."""
    def rerouting(warmup_s: float) -> tuple[int, int]:
        scenario = line_scenario(
            [{}, {}], simulation={"horizon_s": 600, "warmup_s": warmup_s,
                                  "deterministic": True},
            demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 360,
                               "vehicle_class": "car"}]},
            vehicles={"classes": {"car": {"share": 1.0, "connected_share": 1.0},
                                  "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
            control={"policy": "dynamic_shortest", "period_s": 60})
        r = build_world(scenario).run().summary["rerouting"]
        return r["decisions"], r["belief"]["samples_per_period"]

    assert rerouting(0.0) == (9, 9)
    assert rerouting(300.0) == (5, 5)
