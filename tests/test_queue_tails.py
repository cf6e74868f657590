"""The edge infers queue tails from BSMs of connected vehicles standing on a link."""

from __future__ import annotations

import itertools

from v2x_sim.world import build_world


def test_oversaturated_bottleneck_raises_queue_tail_warnings(line_scenario) -> None:
    """3,000 veh/h into a 1,800 veh/h link: a queue forms, connected vehicles stand longer
    than the threshold, the edge warns; at most one warning per link per cooldown."""
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1500.0}, {"lanes": 1, "length_m": 1000.0}],
        simulation={"horizon_s": 1500, "seed": 4},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 3000,
                           "vehicle_class": "car"}]},
        vehicles={"classes": {"car": {"share": 1.0, "connected_share": 1.0},
                              "truck": {"share": 0.0}, "delivery": {"share": 0.0}}},
        v2x={"queue_tail_standing_s": 30, "queue_tail_cooldown_s": 300},
    )
    result = build_world(scenario).run()
    hazards = result.summary["hazards"]["by_hazard"]
    tails = [h for h in hazards if h["cause"] == "queue_tail"]
    assert tails, "the bottleneck queue was never detected"
    assert all(h["link"] == "0" for h in tails)  # the queue stands where capacity drops
    starts = sorted(h["start_s"] for h in tails)
    assert all(b - a >= 300 for a, b in itertools.pairwise(starts))
    assert result.summary["hazards"]["warned"] > 0
    assert result.summary["latency"]["hazard_warning"]["delivered"] > 0


def test_queue_tails_can_be_switched_off(line_scenario) -> None:
    scenario = line_scenario(
        [{"lanes": 2, "length_m": 1500.0}, {"lanes": 1, "length_m": 1000.0}],
        simulation={"horizon_s": 900, "seed": 4},
        demand={"flows": [{"origin": 0, "destination": 2, "rate_vph": 3000}]},
        v2x={"queue_tails": False},
    )
    result = build_world(scenario).run()
    assert result.summary["hazards"]["count"] == 0
