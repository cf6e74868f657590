"""Message volumes against the configured rates, exactly, in deterministic mode.

Three connected cars drive a 3 km line (1 km links at 15 m/s: 66.667 s each) at times
chosen off the whole seconds, so every tick (one per second) sees an unambiguous set
of vehicles on the road. A periodic sender present at a tick's start sends
``rate x tick`` messages in that window, so with the default rates (BSM 10 Hz, status
1 Hz, sensor frames 10 Hz, aggregates 0.2 Hz per edge node) every count below is
derived by hand from the trip table. Then the delivered counts are checked against
counts kept elsewhere: the hop histograms and the RSUs' receive counters.
"""

from __future__ import annotations

import pytest
from conftest import make_scenario, write_line_network

from v2x_sim.world import build_world

LINK_S = 1000.0 / 15.0  # 66.667 s per link
RSUS = [{"x_m": 250.0 * i, "y_m": 0.0} for i in range(13)]
CAMERAS = [{"x_m": x, "y_m": 0.0} for x in (500.0, 1500.0, 2500.0)]
HORIZON_S = 300.0


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The run: trips A 0 -> 3 at 10.25 s, B 1 -> 3 at 40.5 s, C 0 -> 2 at 100.75 s."""
    folder = tmp_path_factory.mktemp("volumes")
    road = write_line_network(folder, [{"free_speed_mps": 15.0}] * 3)
    scenario = make_scenario(
        folder, road=road,
        simulation={"horizon_s": HORIZON_S, "deterministic": True, "seed": 5},
        demand={"trips": [
            {"depart_s": 10.25, "origin": 0, "destination": 3, "connected": True},
            {"depart_s": 40.5, "origin": 1, "destination": 3, "connected": True},
            {"depart_s": 100.75, "origin": 0, "destination": 2, "connected": True}]},
        roadside={"rsu": {"placement": {"mode": "list", "positions": RSUS}},
                  "sensors": [{"kind": "camera", "frame_rate_hz": 10,
                               "placement": {"mode": "list", "positions": CAMERAS}}]},
        edge={"nodes": 2})
    return build_world(scenario).run()


def test_the_trips_are_the_hand_derived_ones(volumes) -> None:  # type: ignore[no-untyped-def]
    """A: 3 links, arrives 10.25 + 200 = 210.25 s; B: 2 links, 40.5 + 133.33 = 173.83 s;
    C: 2 links, 100.75 + 133.33 = 234.08 s (free flow: the cars never meet)."""
    arrive = volumes.trips["arrive_s"].tolist()
    assert arrive == pytest.approx([10.25 + 3 * LINK_S, 40.5 + 2 * LINK_S,
                                    100.75 + 2 * LINK_S], rel=1e-12)


def test_sent_counts_equal_rate_times_connected_vehicle_ticks(volumes) -> None:  # type: ignore[no-untyped-def]
    """Ticks (whole seconds) with each car on a link: A 11..210 (200), B 41..173 (133),
    C 101..234 (134): 467 vehicle-ticks of 1 s.
    BSM 10 Hz: 4,670; status 1 Hz: 467; sensor frames 3 cameras x 10 Hz x 300 s: 9,000;
    aggregates 0.2 Hz from 2 edge nodes, phases 0 and frac(0.618...) x 5 = 3.09 s, over
    300 s: 60 each, 120."""
    latency = volumes.summary["latency"]
    assert latency["bsm"]["sent"] == 4670
    assert latency["status"]["sent"] == 467
    assert latency["perception"]["sent"] == 9000
    assert latency["aggregate"]["sent"] == 120


def test_delivered_counts_agree_with_independent_counters(volumes) -> None:  # type: ignore[no-untyped-def]
    """Every BSM is within 125 m of an RSU on an idle channel: none is lost (deterministic
    PC5 delivers at probability >= 0.5). BSMs past the radio hop are counted three ways:
    the air-hop histogram, the RSUs' receive counters, and delivered + in flight; the
    delivered ones once more by the queue-hop histogram. No car is on the road at the
    horizon, so no BSM or status report is in flight; a sensor frame (latency a few ms,
    period 100 ms) can be in flight only as each camera's last frame: at most 3."""
    latency, table = volumes.summary["latency"], volumes.tables["latency"]

    def hop_count(kind: str, hop: str) -> int:
        rows = [i for i in range(len(table["kind"]))
                if table["kind"][i] == kind and table["hop"][i] == hop]
        return int(table["count"][rows[0]]) if rows else 0

    bsm = latency["bsm"]
    assert bsm["lost"] == 0
    assert hop_count("bsm", "air") == 4670
    assert int(volumes.tables["rsus"]["bsm_received"].sum()) == 4670
    assert bsm["in_flight"] == 0
    assert bsm["delivered"] == 4670
    assert hop_count("bsm", "queue") == hop_count("bsm", "total") == 4670

    status = latency["status"]
    assert status["lost"] == 0  # NR loss 0.1 %: deterministic mode delivers
    assert hop_count("status", "wan") == hop_count("status", "air") == 467
    assert status["delivered"] == hop_count("status", "queue") == 467

    frames = latency["perception"]
    assert frames["lost"] == 0
    assert 0 <= frames["in_flight"] <= 3
    assert frames["delivered"] == hop_count("perception", "queue") == 9000 - frames["in_flight"]
    assert hop_count("aggregate", "wan") == 120
