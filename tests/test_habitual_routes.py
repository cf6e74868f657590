"""Habitual routes: the day-to-day equilibrium against Wardrop, its cache, route files.

The network is Pigou's two routes after a shared approach: 0 -> 1 (2 km, two lanes),
then route A = links 1, 2 (1 km each at 20 m/s: 100 s; link 2 one lane of 1,200 veh/h)
or route B = links 3, 4 (2 km each: 200 s; two lanes of 1,800 veh/h) to node 4. With
2,000 veh/h from 0 to 4 the Wardrop equilibrium is hand-computable: route A carries its
capacity, 1,200 veh/h, and queues until it takes as long as route B, 200 s; route B
carries the other 800 veh/h (a share of 0.4) at free flow.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim._core.errors import InputFileError, ScenarioError
from v2x_sim.equilibrium import cache_key, habitual_routes
from v2x_sim.road.io import read_network_csv
from v2x_sim.scenario import Scenario, scenario_from_dict
from v2x_sim.traffic.route_file import read_route_files, write_route_files
from v2x_sim.world import build_network_from, build_world

CARS = {"classes": {"car": {"share": 1.0}, "truck": {"share": 0.0}, "delivery": {"share": 0.0}}}
ROUTE_A, ROUTE_B = (0, 1, 2), (0, 3, 4)


def write_pigou(folder: Path) -> dict[str, Any]:
    nodes = ["id,x_m,y_m", "0,0,0", "1,2000,0", "2,3000,0", "3,3000,1700", "4,4000,0"]
    links = [(0, 0, 1, 2000, 2, 1800), (1, 1, 2, 1000, 2, 1800), (2, 2, 4, 1000, 1, 1200),
             (3, 1, 3, 2000, 2, 1800), (4, 3, 4, 2000, 2, 1800)]
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane"]
    rows += [f"{i},{a},{b},{length},{lanes},20,{cap}" for i, a, b, length, lanes, cap in links]
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    (folder / "links.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def pigou_scenario(folder: Path, **routing: Any) -> Scenario:
    """30 days of 300 s intervals (60 s cost bins) over half an hour of steady demand."""
    data = {
        "simulation": {"horizon_s": 1800, "seed": 1, "deterministic": True},
        "road": write_pigou(folder),
        "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 2000}]},
        "vehicles": CARS, "v2x": {"enabled": False},
        "routing": {"background": "equilibrium", "cache_dir": str(folder / "cache"),
                    "equilibrium": {"iterations": 30, "interval_s": 300, "cost_bin_s": 60,
                                    "gap_tolerance": 0.0},
                    **routing},
    }
    return scenario_from_dict(data, base_dir=folder)


@pytest.fixture(scope="module")
def pigou(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(folder, world, result) of the Pigou equilibrium, computed once (cache: miss)."""
    folder = tmp_path_factory.mktemp("pigou")
    world = build_world(pigou_scenario(folder))
    return folder, world, world.run()


def route_times(world, start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Per route, the time from entering its first link to leaving its last (entries in
    [start_s, end_s))."""
    log = world.traversals.to_numpy()
    times = []
    for first, last in ((1, 2), (3, 4)):
        out = dict(zip(log["vehicle"][log["link"] == last].tolist(),
                       log["t_out"][log["link"] == last].tolist(), strict=True))
        on = (log["link"] == first) & (log["t_in"] >= start_s) & (log["t_in"] < end_s)
        times.append(np.array([out[v] - t for v, t in zip(
            log["vehicle"][on].tolist(), log["t_in"][on].tolist(), strict=True) if v in out]))
    return times[0], times[1]


def test_equilibrium_matches_the_wardrop_solution_of_pigous_network(pigou) -> None:  # type: ignore[no-untyped-def]
    """Rule: at the equilibrium route B carries 800 of 2,000 veh/h (share 0.4) and both
    routes take 200 s (A: 100 s driving + 100 s queue). Measured on vehicles reaching the
    split between 600 s (the queue has built) and 1,500 s: the share of route B within
    5 % of 0.4, and the mean route time over both routes within 5 % of 200 s. Measured:
    share 0.398, route A 204.6 s, B 200.0 s.
    """
    _, world, _ = pigou
    a, b = route_times(world, 600.0, 1500.0)
    share_b = b.size / (a.size + b.size)
    mean_route_s = (a.sum() + b.sum()) / (a.size + b.size)
    print(f"share B {share_b:.3f}, route A {a.mean():.1f} s, route B {b.mean():.1f} s")
    assert a.size + b.size > 400
    assert share_b == pytest.approx(0.4, rel=0.05)
    assert mean_route_s == pytest.approx(200.0, rel=0.05)
    assert b.mean() == pytest.approx(200.0, rel=0.01)  # route B stays at free flow


def test_relative_gap_is_reported_and_falls(pigou) -> None:  # type: ignore[no-untyped-def]
    """Rule: day 0 (everyone on the free-flow path A) is far from equilibrium (the queue
    on A costs up to minutes more than B); after 30 days the gap is below 5 % and under a
    fifth of day 0's. summary.json carries the gap and its history; the world also
    knows the wall-clock cost of every day and that the cache missed."""
    _, world, result = pigou
    routing = result.summary["routing"]
    gaps = routing["gap_by_iteration"]
    assert routing["background"] == "equilibrium"
    assert routing["iterations"] == len(gaps) == 30
    assert routing["relative_gap"] == gaps[-1]
    assert gaps[0] > 0.2
    assert gaps[-1] < 0.05
    assert gaps[-1] < gaps[0] / 5
    assert len(world.routing["wall_s"]) == 30
    assert world.routing["cache"] == "miss"
    assert "cache" not in routing  # the same seed gives the same summary.json


def test_cached_routes_give_the_same_run(pigou) -> None:  # type: ignore[no-untyped-def]
    """Rule: a second build finds the routes in the cache and runs identically, to the
    last digit of summary.json."""
    folder, world, result = pigou
    again = build_world(pigou_scenario(folder))
    assert again.routing["cache"] == "hit"
    assert again.routing["key"] == world.routing["key"]
    assert again.departure_routes == world.departure_routes
    second = again.run()
    for column in ("depart_s", "arrive_s", "links"):
        np.testing.assert_array_equal(second.trips[column], result.trips[column])
    assert second.summary == result.summary


def test_one_equilibrium_serves_every_seed_and_policy(pigou) -> None:  # type: ignore[no-untyped-def]
    """Rule: the key ignores incidents, V2X, control, connected shares and the run seed
    (one equilibrium per scenario), and changes with the demand; two policies on one
    seed depart on the same habitual routes."""
    folder, _, _ = pigou
    base = pigou_scenario(folder)
    same = scenario_from_dict({**base.to_plain(), "incidents": [
        {"link": 2, "start_s": 300, "end_s": 900}], "control": {"policy": "dynamic_shortest"},
        "v2x": {"enabled": True}, "vehicles": {"classes": {
            "car": {"share": 1.0, "connected_share": 1.0}, "truck": {"share": 0.0},
            "delivery": {"share": 0.0}}}}, base_dir=folder)
    other = scenario_from_dict({**base.to_plain(), "demand": {"flows": [
        {"origin": 0, "destination": 4, "rate_vph": 1900}]}}, base_dir=folder)
    assert cache_key(same) == cache_key(base)
    assert cache_key(other) != cache_key(base)
    none = build_world(same.model_copy(update={"control": type(same.control)()}), seed=5)
    advised = build_world(same, seed=5)
    assert none.routing["cache"] == advised.routing["cache"] == "hit"
    assert none.departure_routes == advised.departure_routes
    assert build_world(base, seed=6).routing["key"] == none.routing["key"]


def test_exported_routes_read_back_as_a_route_file(pigou, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Rule: the equilibrium written as route files and read with ``background: file``
    gives every trip the same departure route."""
    folder, world, _ = pigou
    network = build_network_from(world.scenario)
    routes, _ = habitual_routes(world.scenario, network)
    write_route_files(routes, network, tmp_path)
    data = world.scenario.to_plain()
    data["routing"] = {"background": "file", "file": {
        "routes": str(tmp_path / "routes.csv"), "link_times": str(tmp_path / "route_times.csv")}}
    from_file = build_world(scenario_from_dict(data, base_dir=folder))
    assert from_file.routing["background"] == "file"
    assert from_file.departure_routes == world.departure_routes


def _compute(folder: str) -> str:
    world = build_world(pigou_scenario(Path(folder), equilibrium={"iterations": 3}))
    return json.dumps([world.routing["key"], world.departure_routes])


def test_concurrent_computations_of_one_key_agree(tmp_path: Path) -> None:
    """Rule: two processes asking for the same equilibrium at once both get it, the
    cache holds one entry and no temporary folder is left behind."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(_compute, [str(tmp_path)] * 2)
    assert first == second
    entries = sorted(p.name for p in (tmp_path / "cache" / "routes").iterdir()
                     if p.is_dir())
    assert len(entries) == 1
    assert not entries[0].startswith(".")


# ------------------------------------------------------------------------- route files
def write_routes(folder: Path, rows: list[str], times: list[str] | None = None) -> Scenario:
    write_pigou(folder)
    (folder / "routes.csv").write_text("origin,destination,from_s,to_s,share,links\n"
                                       + "\n".join(rows) + "\n")
    files: dict[str, Any] = {"routes": "routes.csv"}
    if times is not None:
        (folder / "times.csv").write_text("link,t_start_s,t_end_s,travel_time_s\n"
                                          + "\n".join(times) + "\n")
        files["link_times"] = "times.csv"
    return scenario_from_dict({
        "simulation": {"horizon_s": 3600, "seed": 3, "deterministic": True},
        "road": write_pigou(folder),
        "demand": {"flows": [{"origin": 0, "destination": 4, "rate_vph": 400},
                             {"origin": 1, "destination": 4, "rate_vph": 100}]},
        "vehicles": CARS, "v2x": {"enabled": False},
        "routing": {"background": "file", "file": files}}, base_dir=folder)


def first_links(world) -> dict[tuple[int, int], list[int]]:  # type: ignore[no-untyped-def]
    """Departure routes grouped by (origin, destination) node index."""
    out: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    for o, d, (route, _) in zip(world.plan.origin.tolist(), world.plan.destination.tolist(),
                                world.departure_routes, strict=True):
        out.setdefault((o, d), []).append(tuple(route))
    return out


@pytest.mark.parametrize("seed", [3, 4])
def test_trips_split_by_the_file_shares(tmp_path: Path, seed: int) -> None:
    """Rule: a cell's trips take its paths in its shares to within one trip (systematic
    sampling), whatever the seed; which trips take which path changes with the seed.
    400 veh/h for an hour with shares 0.8 / 0.2 in one interval of 3,600 s: 320 and 80.
    """
    scenario = write_routes(tmp_path, ["0,4,0,3600,0.8,0 1 2", "0,4,0,3600,0.2,0 3 4"])
    world = build_world(scenario, seed=seed)
    routes = first_links(world)[(0, 4)]
    assert len(routes) == 400
    assert abs(routes.count(ROUTE_A) - 320) <= 1
    assert abs(routes.count(ROUTE_B) - 80) <= 1
    other = first_links(build_world(scenario, seed=seed + 10))[(0, 4)]
    assert other != routes


def test_pairs_without_routes_take_the_best_path_on_the_link_times(tmp_path: Path) -> None:
    """Rule: the pair 1 -> 4 has no routes in the file. Without link times it takes the
    free-flow path (A: links 1, 2, 100 s); with link times that make link 2 take 500 s
    it takes route B (links 3, 4: 200 s)."""
    rows = ["0,4,0,3600,1,0 1 2"]
    plain = first_links(build_world(write_routes(tmp_path, rows)))
    assert set(plain[(1, 4)]) == {(1, 2)}
    timed = first_links(build_world(write_routes(tmp_path, rows, ["2,0,3600,500"])))
    assert set(timed[(1, 4)]) == {(3, 4)}
    assert set(timed[(0, 4)]) == {ROUTE_A}  # the file's own routes still apply


@pytest.mark.parametrize(("row", "column", "words"), [
    ("0,4,0,3600,1,0 1 4", "links", "does not start"),
    ("0,4,0,3600,1,0 1", "links", "not at the destination"),
    ("0,4,0,3600,0,0 1 2", "share", "not a number > 0"),
    ("0,9,0,3600,1,0 1 2", "destination", "no node"),
    ("0,4,0,3600,1,0 1 77", "links", "no link"),
    ("0,4,100,3600,1,0 1 2", "from_s", "not a multiple"),
    ("0,4,0,3600,1,0 1 2\n0,4,0,900,1,0 3 4", "to_s", "wide like the first row"),
    ("0,4,0,3600,1,0 1 2\n0,4,0,3600,1,0 1 2", "links", "listed twice"),
    # a path already read for one pair is checked again for another (from node 1,
    # link 0 does not start there), and a known link id is no pass for an unknown one
    ("0,4,0,3600,1,0 1 2\n1,4,0,3600,1,0 1 2", "links", "does not start"),
    ("0,4,0,3600,1,0 1 2\n0,4,3600,7200,1,0 1 77", "links", "no link"),
])
def test_bad_route_rows_are_named_by_line_and_column(tmp_path: Path, row: str, column: str,
                                                      words: str) -> None:
    write_pigou(tmp_path)
    network = read_network_csv(tmp_path / "nodes.csv", tmp_path / "links.csv")
    (tmp_path / "routes.csv").write_text("origin,destination,from_s,to_s,share,links\n"
                                         + row + "\n")
    with pytest.raises(InputFileError) as caught:
        read_route_files(tmp_path / "routes.csv", None, network)
    assert caught.value.column == column
    assert words in caught.value.reason
    assert caught.value.line == row.count("\n") + 2


@pytest.mark.parametrize(("routing", "words"), [
    ({"background": "file"}, "needs file"),
    ({"background": "equilibrium", "equilibrium": {"iterations": 0}}, "greater than"),
    ({"background": "equilibrium", "equilibrium": {"interval_s": -5}}, "greater than"),
    ({"background": "sometimes"}, "free_flow"),
])
def test_bad_routing_sections_are_one_line_errors(routing: dict[str, Any], words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"routing": routing})
    assert caught.value.path.startswith("routing")
    assert words in str(caught.value)


def test_routes_command_writes_route_files_that_runs_can_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rule: ``v2x-sim routes`` prints the gap of every day and writes the equilibrium as
    route files; a run with ``background: file`` on them departs on the same routes."""
    from v2x_sim.cli import main

    write_pigou(tmp_path)
    (tmp_path / "pigou.yaml").write_text(
        "simulation: {horizon_s: 900, seed: 1, deterministic: true}\n"
        "road: {generator: file, file: {nodes: nodes.csv, links: links.csv},"
        " signals: {enabled: false}}\n"
        "demand: {flows: [{origin: 0, destination: 4, rate_vph: 2000}]}\n"
        "vehicles: {classes: {car: {share: 1.0}, truck: {share: 0.0},"
        " delivery: {share: 0.0}}}\n"
        "v2x: {enabled: false}\n"
        "routing: {background: equilibrium, equilibrium: {iterations: 3, interval_s: 300,"
        " cost_bin_s: 60, gap_tolerance: 0.0}}\n")
    out = tmp_path / "routes"
    assert main(["routes", str(tmp_path / "pigou.yaml"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "equilibrium.json").read_text())
    assert len(report["relative_gap_by_day"]) == 3
    assert printed.count("%") == 3
    sets = ["routing.background=file", f"routing.file.routes={out / 'routes.csv'}",
            f"routing.file.link_times={out / 'route_times.csv'}"]
    from v2x_sim import load_scenario

    from_file = build_world(load_scenario(tmp_path / "pigou.yaml", sets))
    cached = build_world(load_scenario(tmp_path / "pigou.yaml"))
    assert cached.routing["cache"] == "hit"
    assert from_file.departure_routes == cached.departure_routes
