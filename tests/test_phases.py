"""The three build-phase scenarios: they load, say what they answer, and build what they say.

Counts come from the built world (network, trip plan, devices, edge nodes), not from
the YAML, so a scenario that drifts from its header fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim import load_scenario
from v2x_sim.scenario.presets import bundled_scenario
from v2x_sim.world import build_world

PHASES = ("phase1_connect", "phase2_optimise", "phase3_scale")


@pytest.mark.parametrize("name", PHASES)
def test_each_phase_loads_and_its_header_says_what_and_which_question(name: str) -> None:
    path = bundled_scenario(name)
    assert path is not None
    header = path.read_text(encoding="utf-8").split("\nname:")[0]
    assert "What it represents:" in header
    assert "The question it answers:" in header
    assert "v2x-sim " in header  # a command to ask it with
    assert load_scenario(name).name == name


def test_phase1_is_a_corridor_with_a_handful_of_devices_one_edge_lte_warnings_only() -> None:
    world = build_world(load_scenario("phase1_connect"))
    # corridor, 4 segments of 1 km: expressway 4 km and arterial 4 km, five 600 m
    # connectors; both directions: (4 + 4 + 5 x 0.6) x 2 = 22 km
    assert world.network.total_length_m == pytest.approx(22_000.0, rel=1e-9)
    assert world.v2x is not None
    assert world.v2x.devices.counts() == {"rsu": 6, "camera": 4, "radar": 4, "lidar": 0}
    assert len(world.v2x.edges) == 1
    assert world.scenario.channels.uu.profile == "lte"
    assert world.scenario.control.policy == "none"
    # flows 800 + 600 + 200 + 200 = 1,800 veh/h for 0.5 h: ~900 Poisson departures
    # (sd 30): within 4 sd
    assert len(world.plan) == pytest.approx(900, abs=120)


def test_phase2_is_a_district_with_an_incident_several_edges_and_rerouting() -> None:
    world = build_world(load_scenario("phase2_optimise",
                                      ["routing.background=free_flow"]))
    # 4 x 6 grid of 700 m blocks: 4 x 5 + 6 x 3 = 38 roads, spine 5, ramps at columns
    # 0, 2, 4 (2 x 350 m each); both directions (38 + 5) x 1.4 + 6 x 0.7 = 64.4 km
    assert world.network.total_length_m / 1000 == pytest.approx(64.4, rel=1e-9)
    assert len(world.v2x.edges) == 3
    assert sum(world.v2x.devices.counts().values()) == 150 + 600 + 540 + 140
    assert len(world.scenario.incidents) == 1
    assert world.scenario.control.policy == "dynamic_shortest"
    assert world.scenario.sweep is not None
    assert "control.period_s" in world.scenario.sweep.parameters


def test_phase3_counts_the_full_zone_from_the_built_world() -> None:
    """~200 km, 5,859 connected vehicles in the hour, 4,769 devices, 8 edge nodes.

    Connected vehicles are a Poisson count: 23,350 trips/h x 25.1 % = 5,861 expected,
    sd about sqrt(5,861) = 77; 4 % (~3 sd) is the band for any seed.
    """
    scenario = load_scenario("phase3_scale")
    world = build_world(scenario)
    km = world.network.total_length_m / 1000
    assert 200 <= km <= 215  # 212.8: the generator's defaults
    in_hour = world.plan.depart_s < scenario.simulation.horizon_s
    connected = int(np.count_nonzero(world.plan.connected & in_hour))
    assert connected == pytest.approx(5859, rel=0.04)
    assert world.v2x is not None
    counts = world.v2x.devices.counts()
    assert counts == {"rsu": 500, "camera": 2000, "radar": 1800, "lidar": 469}
    assert sum(counts.values()) == 4769
    assert len(world.v2x.edges) == 8
    # the trips around the connected vehicles: ~23,350 (Poisson, sd ~153)
    assert len(world.plan) == pytest.approx(23_350, rel=0.03)
