"""Signal plans against hand values: Webster's delay and cycle, capacity, phases, amber,
green waves, plan files and signals.csv.

Every run here is deterministic (evenly spaced departures) with V2X off, on tiny
networks written as CSV: a line (one signalised approach) or a plus-shaped junction
(centre node 0, arms to leaves 1 west, 2 east, 3 south, 4 north; leaves have one approach
and no signal).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim import write_results
from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.road.io import read_network_csv
from v2x_sim.road.signal_file import read_signal_plan
from v2x_sim.road.webster import webster_cycle_s
from v2x_sim.scenario import scenario_from_dict
from v2x_sim.world import build_world

QUIET = {"deterministic": True, "seed": 1}
NO_V2X = {"enabled": False}
KMH50 = 50 / 3.6
CARS = {"classes": {"car": {"share": 1.0}, "truck": {"share": 0.0},
                    "delivery": {"share": 0.0}}}


def write_plus(folder: Path, *, arm_m: float = 500.0) -> dict[str, Any]:
    """A plus junction: links 2i-1 / 2i run leaf i -> centre / centre -> leaf i (i = 1..4).

    Link ids: 1 = west->centre, 2 = centre->west, 3 = east->centre, 4 = centre->east,
    5 = south->centre, 6 = centre->south, 7 = north->centre, 8 = centre->north. One lane
    of 1,800 veh/h each, 50 km/h, ``arm_m`` long.
    """
    leaves = {1: (-arm_m, 0.0), 2: (arm_m, 0.0), 3: (0.0, -arm_m), 4: (0.0, arm_m)}
    nodes = ["id,x_m,y_m", "0,0,0"] + [f"{i},{x},{y}" for i, (x, y) in leaves.items()]
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane"]
    for i in leaves:
        rows.append(f"{2 * i - 1},{i},0,{arm_m},1,{KMH50},1800")
        rows.append(f"{2 * i},0,{i},{arm_m},1,{KMH50},1800")
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    (folder / "links.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"}}


def write_line(folder: Path, lanes: int = 1) -> dict[str, Any]:
    """Nodes 0 -> 1 -> 2, 1 km links of ``lanes`` lanes of 1,800 veh/h at 20 m/s (50 s)."""
    (folder / "nodes.csv").write_text("id,x_m,y_m\n0,0,0\n1,1000,0\n2,2000,0\n")
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        f"0,0,1,1000,{lanes},20,1800\n1,1,2,1000,{lanes},20,1800\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"}}


def run_world(folder: Path, road: dict[str, Any], demand: dict[str, Any], horizon_s: float,
              **sections: Any):  # type: ignore[no-untyped-def]
    scenario = scenario_from_dict({"simulation": {"horizon_s": horizon_s, **QUIET},
                                   "road": road, "demand": demand, "vehicles": CARS,
                                   "v2x": NO_V2X, **sections}, base_dir=folder)
    world = build_world(scenario)
    return world, world.run()


# ----------------------------------------------------------- a single signalised approach
def one_approach_plan(folder: Path, *, cycle_s: float, green_s: float,
                      lanes: int) -> dict[str, Any]:
    """Signal at node 1 on link 0 only, displayed green from 0, no amber, no start-up loss."""
    (folder / "plan.csv").write_text("node,link,cycle_s,green_start_s,green_s,amber_s\n"
                                     f"1,0,{cycle_s},0,{green_s},0\n")
    return {**write_line(folder, lanes), "signals": {"plan": "file", "file": "plan.csv",
                                                     "startup_lost_s": 0.0}}


@pytest.mark.parametrize(("flow_vph", "cycle_s", "green_s", "expected_s"), [
    (1800.0, 60.0, 30.0, 11.25), (2160.0, 60.0, 30.0, 12.5), (1500.0, 90.0, 40.0, 19.2308)])
def test_mean_delay_under_uniform_arrivals_is_websters_uniform_term(
        tmp_path: Path, flow_vph: float, cycle_s: float, green_s: float,
        expected_s: float) -> None:
    """Rule: evenly spaced arrivals at one approach wait d1 = C (1 - g/C)^2 / (2 (1 - x g/C))
    on average (Webster's uniform delay), within 5 %. Three lanes: s = 5,400 veh/h.

    C = 60, g = 30 (capacity 2,700): q = 1,800 is x = 2/3, d1 = 60 * 0.25 / (2 * (1 - 1/3))
    = 11.25 s; q = 2,160 is x = 0.8, d1 = 15 / (2 * 0.6) = 12.5 s. C = 90, g = 40
    (capacity 2,400): q = 1,500 is x = 0.625, d1 = 90 * (5/9)^2 / (2 * (1 - 0.625 * 4/9))
    = 27.778 / 1.4444 = 19.231 s. d1 is the fluid limit: with one lane and 10 arrivals a
    cycle the discrete queue is a whole arrival headway off (9.1 s against 11.25 s); with
    30 a cycle it is within 2.2 %.
    """
    road = one_approach_plan(tmp_path, cycle_s=cycle_s, green_s=green_s, lanes=3)
    _, result = run_world(tmp_path, road, {"flows": [{"origin": 0, "destination": 2,
                                                      "rate_vph": flow_vph}]}, 3600.0)
    trips = result.trips
    steady = (trips["depart_s"] >= 600) & (trips["depart_s"] < 3000)
    delay = trips["delay_s"][steady]
    assert steady.sum() > 900
    assert float(delay.mean()) == pytest.approx(expected_s, rel=0.05)


def test_approach_capacity_is_saturation_times_green_over_cycle(tmp_path: Path) -> None:
    """Rule: an approach that never runs dry discharges s * g / C. Displayed green 30 s,
    amber 4 s of which half is usable, start-up loss 2 s: g = 30 - 2 + 2 = 30 s, so with
    s = 1,800 veh/h and C = 60 s it passes 900 veh/h (15 vehicles a cycle), measured over
    40 whole cycles with 1,500 veh/h arriving.
    """
    (tmp_path / "plan.csv").write_text("node,link,cycle_s,green_start_s,green_s,amber_s\n"
                                       "1,0,60,0,30,4\n")
    road = {**write_line(tmp_path), "signals": {"plan": "file", "file": "plan.csv"}}
    world, _ = run_world(tmp_path, road, {"flows": [{"origin": 0, "destination": 2,
                                                     "rate_vph": 1500}]}, 3300.0)
    log = world.traversals.to_numpy()
    out = log["t_out"][log["link"] == 0]
    assert world.traffic.queued_on(0) > 0  # the queue never emptied
    window = (out >= 600.0) & (out < 3000.0)  # 40 cycles
    assert window.sum() * 3600.0 / 2400.0 == pytest.approx(900.0, rel=0.01)


# ------------------------------------------------------------- phases, amber and all-red
def test_north_south_green_starts_where_the_plan_says(tmp_path: Path) -> None:
    """Rule: the fixed plan runs east-west first. C = 90 s, amber 4, all-red 1: greens of
    (90 - 2 * 5) / 2 = 40 s; north-south shows green at 40 + 4 + 1 = 45 s and vehicles
    start 2 s later (start-up loss). A northbound car departing the south leaf at 0 s
    reaches the stop line at 36 s (500 m at 50 km/h), waits, leaves at 47 s and arrives
    at the north leaf at 47 + 36 = 83 s. An eastbound car departing at 0 s meets green.
    """
    road = write_plus(tmp_path)
    demand = {"trips": [{"depart_s": 0.0, "origin": 3, "destination": 4},
                        {"depart_s": 0.0, "origin": 1, "destination": 2}]}
    world, result = run_world(tmp_path, road, demand, 300.0)
    plan = world.signals
    assert plan.cycle_s[[0, 2, 4, 6]] == pytest.approx([90.0] * 4)  # approaches 1, 3, 5, 7
    assert plan.green_start_s[[0, 2, 4, 6]] == pytest.approx([2.0, 2.0, 47.0, 47.0])
    assert plan.green_s[[0, 2, 4, 6]] == pytest.approx([40.0] * 4)
    free = 500.0 / KMH50
    assert result.trips["arrive_s"][0] == pytest.approx(47.0 + free)
    assert result.trips["arrive_s"][1] == pytest.approx(2 * free)


@pytest.mark.parametrize(("reach_s", "leave_s"), [(41.0, 41.0), (42.5, 92.0), (44.5, 92.0)])
def test_amber_is_usable_for_the_share_the_plan_says(tmp_path: Path, reach_s: float,
                                                      leave_s: float) -> None:
    """Rule: east-west shows green 0-40 s, amber 40-44 s (half usable: to 42 s), all-red
    44-45 s. An eastbound car reaching the stop line at 41 s leaves at once; at 42.5 s (the
    unusable amber) or 44.5 s (all-red) it waits for the next green's start, 90 + 2 s.
    """
    road = write_plus(tmp_path)
    free = 500.0 / KMH50
    demand = {"trips": [{"depart_s": reach_s - free, "origin": 1, "destination": 2}]}
    _, result = run_world(tmp_path, road, demand, 400.0)
    assert result.trips["arrive_s"][0] == pytest.approx(leave_s + free)


def test_legacy_lost_time_gives_the_first_builds_plan(tmp_path: Path) -> None:
    """Rule: ``lost_time_s`` alone (the first build's parameter) means all-red of
    lost / 2 per phase, no amber, no start-up loss: greens (90 - 10) / 2 = 40 s from 0 s
    and from 45 s.
    """
    road = {**write_plus(tmp_path), "signals": {"lost_time_s": 10.0}}
    world, _ = run_world(tmp_path, road, {"trips": []}, 10.0)
    assert world.signals.green_start_s[[0, 4]] == pytest.approx([0.0, 45.0])
    assert world.signals.green_s[[0, 4]] == pytest.approx([40.0, 40.0])
    assert world.signals.all_red_s[0] == pytest.approx(5.0)


# ----------------------------------------------------------------------------- Webster
def test_webster_cycle_and_splits_from_hand_computed_flow_ratios(tmp_path: Path) -> None:
    """Rule: the plan sees the free-flow assignment of the planned trips. Through flows of
    600 (west->east), 400 (east->west), 360 (south->north) and 200 (north->south) veh/h on
    one-lane approaches of 1,800 veh/h give critical ratios y_EW = 600/1800 = 1/3 and
    y_NS = 360/1800 = 0.2, Y = 8/15; lost time L = 2 phases * (2 + 4 + 1 - 2) = 10 s.
    C0 = (1.5 * 10 + 5) / (1 - 8/15) = 20 / (7/15) = 42.857 s; effective greens
    (C0 - 10) * (1/3) / (8/15) = 20.536 s and (C0 - 10) * 0.2 / (8/15) = 12.321 s; the
    north-south green shows at 20.536 + 4 + 1 = 25.536 s and discharges 2 s later.
    """
    road = {**write_plus(tmp_path), "signals": {"plan": "webster"}}
    flows = [{"origin": o, "destination": d, "rate_vph": q}
             for o, d, q in ((1, 2, 600), (2, 1, 400), (3, 4, 360), (4, 3, 200))]
    world, _ = run_world(tmp_path, road, {"flows": flows}, 3600.0, simulation={
        "horizon_s": 3600.0, **QUIET})
    plan = world.signals
    cycle = 20.0 / (7.0 / 15.0)
    ew, ns = (cycle - 10.0) * 0.625, (cycle - 10.0) * 0.375
    assert plan.cycle_s[0] == pytest.approx(cycle, rel=1e-9)
    assert plan.green_s[[0, 2, 4, 6]] == pytest.approx([ew, ew, ns, ns], rel=1e-9)
    assert plan.green_start_s[[0, 4]] == pytest.approx([2.0, ew + 5.0 + 2.0], rel=1e-9)


def test_webster_cycle_clamps_to_its_bounds() -> None:
    """Rule: C0 = (1.5 L + 5) / (1 - Y) has no finite value at Y >= 1 (the plan takes
    the maximum cycle); at L = 10 s and Y = 0.5 it is 20 / 0.5 = 40 s.
    """
    assert webster_cycle_s(10.0, 0.5) == pytest.approx(40.0)
    assert webster_cycle_s(10.0, 1.0) == float("inf")


def test_oversaturated_webster_junction_runs_the_maximum_cycle(tmp_path: Path) -> None:
    """Rule: 1,200 + 900 veh/h of critical flow on 1,800 veh/h approaches is Y = 7/6 >= 1:
    the cycle is webster.max_cycle_s (120 s); greens split (120 - 10) in 4 : 3.
    """
    road = {**write_plus(tmp_path), "signals": {"plan": "webster"}}
    flows = [{"origin": 1, "destination": 2, "rate_vph": 1200},
             {"origin": 3, "destination": 4, "rate_vph": 900}]
    world, _ = run_world(tmp_path, road, {"flows": flows}, 3600.0)
    assert world.signals.cycle_s[0] == pytest.approx(120.0)
    assert world.signals.green_s[[0, 4]] == pytest.approx([110 * 4 / 7, 110 * 3 / 7])


# ---------------------------------------------------------------------------- green wave
def green_wave_run(folder: Path, offsets: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A 3 x 5 grid (500 m, 50 km/h); a platoon of 5 cars from node 5 east to node 9."""
    road = {"generator": "grid", "grid": {"rows": 3, "cols": 5, "spacing_m": 500},
            "signals": {"offsets": offsets}}
    platoon = [{"depart_s": t, "origin": 5, "destination": 9} for t in (1, 3, 5, 7, 9)]
    return run_world(folder, road, {"trips": platoon}, 600.0)


def test_green_wave_offsets_let_a_platoon_pass_every_junction(tmp_path: Path) -> None:
    """Rule: offsets of d / v along the heading start each junction's east-west effective
    green when a car leaving the first junction at its green reaches it. 500 m at 50 km/h
    is 36 s: node 7 (1 km east) starts at 72 s, node 8 at 108 mod 90 = 18 s. A platoon
    leaving node 5 at 1-9 s meets green at nodes 6 to 9 (no delay); without offsets
    every junction is green 2-42 s and the platoon stops at node 7 (73 s: red).
    """
    world, waved = green_wave_run(tmp_path, {"mode": "green_wave", "heading": "east",
                                             "speed_kmh": 50})
    link_6_7 = int(np.flatnonzero((world.network.from_node == 6) & (world.network.to_node == 7))[0])
    link_7_8 = int(np.flatnonzero((world.network.from_node == 7) & (world.network.to_node == 8))[0])
    assert world.signals.green_start_s[link_6_7] == pytest.approx(72.0)
    assert world.signals.green_start_s[link_7_8] == pytest.approx(18.0)
    assert world.signals.offset_s[link_6_7] == pytest.approx(70.0)  # program: 72 - 2
    assert waved.trips["delay_s"] == pytest.approx(np.zeros(5), abs=1e-6)
    _, plain = green_wave_run(tmp_path, {"mode": "none"})
    assert plain.trips["delay_s"].min() > 10.0


# ---------------------------------------------------------------- files and signals.csv
def test_signals_csv_reads_back_as_the_same_plan(tmp_path: Path) -> None:
    """Rule: signals.csv of a run, used as a plan file, gives the same plan (Webster
    cycles, splits, amber, all-red and green-wave offsets to 1e-6 s)."""
    road = {"generator": "grid", "grid": {"rows": 3, "cols": 4, "spacing_m": 400},
            "signals": {"plan": "webster", "amber_s": 3.0, "all_red_s": 2.0,
                        "offsets": {"mode": "green_wave", "heading": "north"}}}
    world, result = run_world(tmp_path, road, {"random": {"rate_vph": 2000}}, 600.0)
    out = write_results(result, tmp_path / "out")
    with (out / "signals.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == int(world.signals.signalised.sum()) > 0
    again = read_signal_plan(out / "signals.csv", world.network, startup_lost_s=2.0,
                             amber_usable_share=0.5)
    for name in ("cycle_s", "green_start_s", "green_s", "amber_s", "all_red_s", "offset_s"):
        np.testing.assert_allclose(getattr(again, name), getattr(world.signals, name),
                                   atol=1e-6, err_msg=name)


def test_movement_rows_are_kept_and_written_back(tmp_path: Path) -> None:
    """Rule: a row with ``to_link`` (a movement) is checked and kept for when movements
    exist; the approach's own row is what vehicles obey; signals.csv writes both back."""
    write_plus(tmp_path)
    text = ("node,link,cycle_s,green_start_s,green_s,amber_s,all_red_s,offset_s,to_link\n"
            "0,1,80,0,30,3,1,10,\n0,1,80,0,12,3,1,10,8\n0,5,80,34,40,3,1,10,\n")
    (tmp_path / "plan.csv").write_text(text)
    road = {**write_plus(tmp_path), "signals": {"plan": "file", "file": "plan.csv"}}
    world, result = run_world(tmp_path, road, {"trips": []}, 10.0)
    assert len(world.signals.movements) == 1
    assert world.signals.green_s[0] == pytest.approx(30.0 - 2.0 + 1.5)
    assert world.signals.green_start_s[4] == pytest.approx(34.0 + 2.0 + 10.0)
    table = result.tables["signals"]
    assert list(table["to_link"]) == ["", "", "8"]
    assert list(table["green_s"]) == pytest.approx([30.0, 40.0, 12.0])


@pytest.mark.parametrize(("row", "column", "words"), [
    ("0,2,80,0,30,3", "link", "does not end at node"),
    ("0,1,80,80,30,3", "green_start_s", "not inside the cycle"),
    ("0,1,80,0,78,3", "green_s", "exceed the cycle"),
    ("0,1,80,0,1,0", "green_s", "no effective green"),
    ("0,1,80,0,x,3", "green_s", "not a finite number"),
    ("0,99,80,0,30,3", "link", "no link"),
    ("0,1,80,0,30,3\n0,3,70,0,30,3", "cycle_s", "one junction runs one program"),
    ("0,1,80,0,30,3\n0,1,80,0,30,3", "link", "already has a row"),
])
def test_bad_plan_rows_are_named_by_line_and_column(tmp_path: Path, row: str, column: str,
                                                     words: str) -> None:
    write_plus(tmp_path)
    network = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    (tmp_path / "plan.csv").write_text("node,link,cycle_s,green_start_s,green_s,amber_s\n"
                                       + row + "\n")
    with pytest.raises(InputFileError) as caught:
        read_signal_plan(tmp_path / "plan.csv", network, startup_lost_s=2.0,
                         amber_usable_share=0.5)
    assert caught.value.column == column
    assert words in caught.value.reason
    assert caught.value.line == row.count("\n") + 2


@pytest.mark.parametrize(("signals", "words"), [
    ({"plan": "file"}, "needs file"),
    ({"plan": "file", "file": "x.csv", "offsets": {"mode": "green_wave"}}, "own offsets"),
    ({"cycle_s": 10}, "no effective green"),
    ({"plan": "webster", "webster": {"min_cycle_s": 10, "max_cycle_s": 20}}, "must fit"),
    ({"plan": "webster", "webster": {"min_cycle_s": 90, "max_cycle_s": 60}}, "shorter"),
    ({"amber_usable_share": 1.5}, "less than or equal to 1"),
])
def test_bad_signal_sections_are_one_line_errors(signals: dict[str, Any], words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"road": {"signals": signals}})
    assert caught.value.path.startswith("road.signals")
    assert words in str(caught.value)


def test_a_sumo_import_signals_csv_is_a_plan_file(tmp_path: Path) -> None:
    """Rule: the SUMO importer's signals.csv (string ids, displayed timing, movement rows)
    is read as a plan: approach A2A1 at A1 shows green 0-42 s of 90 s with 3 s amber, so
    vehicles leave from 2 s for 42 - 2 + 1.5 = 41.5 s; a run writes the rows back."""
    from v2x_sim.road.importers import import_sumo, write_import

    source = Path(__file__).parent / "data" / "sumo" / "grid3.net.xml"
    write_import(import_sumo(source), tmp_path, name="grid3")
    road = {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"plan": "file", "file": "signals.csv"}}
    world, result = run_world(tmp_path, road, {"random": {"rate_vph": 300}}, 300.0)
    link = world.network.link_index("A2A1")
    assert world.signals.cycle_s[link] == pytest.approx(90.0)
    assert world.signals.green_start_s[link] == pytest.approx(2.0)
    assert world.signals.green_s[link] == pytest.approx(41.5)
    with (tmp_path / "signals.csv").open() as handle:
        imported = list(csv.DictReader(handle))
    assert len(world.signals.movements) == sum(1 for r in imported if r["to_link"])
    written = result.tables["signals"]
    assert sorted(zip(written["link"], written["to_link"], strict=True)) == sorted(
        (r["link"], r["to_link"]) for r in imported)
    assert result.summary["trips_completed"] > 0
