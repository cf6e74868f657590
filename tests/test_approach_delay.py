"""Approach delay (``approaches.csv``) and what priority grants cost cross traffic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_shuttle_priority import _scenario

from v2x_sim.traffic.approach_delay import approach_table, cross_priority_delay
from v2x_sim.world import build_world


def test_approach_delay_is_time_on_the_link_less_free_flow_after_the_warm_up() -> None:
    """Links 0, 1, 2 (free flow 10, 20, 30 s); 0 and 2 end at signals. Link 0: one
    vehicle out at 15 s (before the 20 s warm-up, left out), one in at 10 s and out at
    40 s: 30 - 10 = 20 s. Link 2: 0 -> 30 s (0 s) and 5 -> 65 s (30 s): mean 15 s.
    Link 1 has no signal: no row."""
    link = np.array([0, 0, 1, 2, 2])
    t_in = np.array([0.0, 10.0, 0.0, 0.0, 5.0])
    t_out = np.array([15.0, 40.0, 50.0, 30.0, 65.0])
    table = approach_table(
        link, t_in, t_out, free_flow_s=np.array([10.0, 20.0, 30.0]),
        signalised=np.array([0, 2]), to_node=np.array([1, 2, 3]),
        node_ids=np.array(["a", "b", "c", "d"]), link_ids=np.array(["x", "y", "z"]),
        warmup_s=20.0)
    assert table["link"].tolist() == ["x", "z"]
    assert table["node"].tolist() == ["b", "d"]
    assert table["vehicles"].tolist() == [1, 2]
    assert table["mean_delay_s"].tolist() == pytest.approx([20.0, 15.0])


def test_cross_delay_compares_cycles_with_a_grant_and_without() -> None:
    """Approach 4: cycle 60 s, effective green from 30 s; a grant took its green from
    30 to 37 s (cycle 0), so cycles 0 and 1 are with a grant. Exits at 37 s (cycle 0,
    7 s of delay) and 95 s (cycle 1, 5 s) against 160 s (cycle 2, 2 s) and 220 s
    (cycle 3, 0 s): 6 s with, 1 s without, (6 - 1) x 2 / 3600 veh-h of extra delay.
    Link 3 lost nothing: not counted."""
    free = np.array([0.0, 0.0, 0.0, 10.0, 30.0])
    cycle = np.array([0.0, 0.0, 0.0, 60.0, 60.0])
    start = np.array([0.0, 0.0, 0.0, 0.0, 30.0])
    link = np.array([4, 4, 4, 4, 3])
    t_out = np.array([37.0, 95.0, 160.0, 220.0, 100.0])
    t_in = t_out - free[link] - np.array([7.0, 5.0, 2.0, 0.0, 50.0])
    got = cross_priority_delay(link, t_in, t_out, free_flow_s=free, lost=[(4, 30.0, 37.0)],
                               cycle_s=cycle, green_start_s=start, warmup_s=0.0)
    assert got["cross_vehicles_with_grant"] == 2
    assert got["cross_vehicles_without_grant"] == 2
    assert got["cross_delay_with_grant_s"] == pytest.approx(6.0)
    assert got["cross_delay_without_grant_s"] == pytest.approx(1.0)
    assert got["cross_extra_delay_veh_h"] == pytest.approx(5.0 * 2 / 3600)
    none = cross_priority_delay(link, t_in, t_out, free_flow_s=free, lost=[],
                                cycle_s=cycle, green_start_s=start, warmup_s=0.0)
    assert none["cross_vehicles_with_grant"] == none["cross_vehicles_without_grant"] == 0
    assert none["cross_extra_delay_veh_h"] is None


def test_a_run_reports_the_car_delayed_by_the_shuttles_grant(tmp_path: Path) -> None:
    """The priority scenario (`test_shuttle_priority`): the 7 s extension makes the car on
    the cross street (600 m, 30 s free flow) leave at 37 s: approach 4 shows one vehicle
    with 7 s of delay, and the cross delay with a grant is those 7 s (no cross vehicle in
    a cycle without a grant)."""
    world = build_world(_scenario(tmp_path, enabled=True, max_extension_s=10, margin_s=2))
    result = world.run()
    rows = result.tables["approaches"]
    four = rows["link"].tolist().index("4")
    assert rows["vehicles"][four] == 1
    assert rows["mean_delay_s"][four] == pytest.approx(7.0)
    priority = result.summary["transit"]["priority"]
    assert priority["cross_vehicles_with_grant"] == 1
    assert priority["cross_delay_with_grant_s"] == pytest.approx(7.0)
    assert priority["cross_vehicles_without_grant"] == 0
    assert priority["cross_delay_without_grant_s"] is None
