"""Habitual routes of drivers who know the city: a day-to-day equilibrium, cached on disk.

Method of successive averages (MSA) over *days* of the same simulator. A day is the
scenario without incidents, V2X or rerouting (the city as drivers know it), with the
scenario's own seed (``simulation.seed``), so the demand is the same every day and one
equilibrium serves every replication seed. Day 0 sends every trip on its free-flow
shortest path. After each day:

1. the link time profile: mean traversal time per link and entry-time bin
   (``cost_bin_s``), from every traversal of the day (vehicles still on a link at the
   horizon count with their time so far; bins nobody entered count at free flow);
2. for every cell (origin, destination, departure interval of ``interval_s``), the cost
   of each path in its set and of the best paths: walked on the profile, averaged over
   departures at the centre of each cost bin of the interval; the cheapest path joins
   the set;
3. the relative gap of the day: sum over cells of trips x (share-weighted path cost -
   best cost), divided by the first sum (0 at a Wardrop equilibrium);
4. unless it was the last day or the gap reached ``gap_tolerance``, shares move towards
   the best path by 1 / (day + 2) (MSA: 1/2, 1/3, ...).

The routes returned are the last simulated day's, so the reported gap is theirs. They
are cached under ``<cache>/routes/<key>/`` (``routes.csv``, ``route_times.csv`` in the
route-file format, and ``equilibrium.json``); the key hashes everything that shapes a
day: the scenario without incidents, V2X, control, output and connected shares, the
contents of its input files, the seed and the source of the road and traffic model. A
lock file serialises concurrent computations of one key, and the folder appears by an
atomic rename, so readers never see half a cache entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from v2x_sim._core.atomic import write_text_atomic
from v2x_sim.road.connections import connections_path
from v2x_sim.road.network import Network
from v2x_sim.road.td_paths import link_time_profile
from v2x_sim.scenario.routing_section import Background
from v2x_sim.scenario.schema import Scenario
from v2x_sim.scenario.signal_sections import SignalPlanKind
from v2x_sim.traffic.habitual import (
    Cell,
    HabitualRoutes,
    candidate_paths,
    mean_path_costs,
    sample_departures,
    trip_legs,
)
from v2x_sim.traffic.route_file import read_route_files, write_route_files

log = logging.getLogger(__name__)

EquilibriumProgress = Callable[[int, int, float], None]
"""Called after each day as ``progress(day, days, relative_gap)`` (day counts from 1)."""

CACHE_ENV = "V2X_SIM_CACHE"
_FORMAT = 1
_PRUNE_SHARE = 1e-4


def day_scenario(scenario: Scenario) -> Scenario:
    """The scenario as drivers know it: no incidents, no V2X, no rerouting, free-flow start."""
    return scenario.model_copy(update={
        "incidents": [],
        "v2x": scenario.v2x.model_copy(update={"enabled": False}),
        "control": type(scenario.control)(),
        "routing": scenario.routing.model_copy(update={"background": Background.FREE_FLOW}),
    })


@cache
def _model_digest() -> str:
    """Hash of the source that shapes a day (road, traffic, scenario, world, this module)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    files = [root / "world.py", root / "equilibrium.py"]
    for package in ("_core", "road", "traffic", "scenario"):
        files.extend(sorted((root / package).rglob("*.py")))
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def cache_key(scenario: Scenario) -> str:
    """Hash of everything that affects the habitual routes of ``scenario`` (see module doc)."""
    data = day_scenario(scenario).to_plain()
    for name in ("name", "description", "v2x_sim_version", "output", "sweep", "roadside",
                 "channels", "edge", "cloud", "messages", "control", "v2x", "incidents"):
        data.pop(name, None)
    data["routing"] = {"equilibrium": data["routing"]["equilibrium"]}
    data["simulation"].pop("warmup_s")  # filters statistics only
    for params in data["vehicles"]["classes"].values():
        params.pop("connected_share")  # drawn after the trips, a fixed number of draws
        params.pop("compliance")
    files = {}
    road, demand = scenario.road, scenario.demand
    named: list[str | None] = [demand.trips_file]
    if road.file:
        named += [road.file.nodes, road.file.links, road.file.network]
    turns = connections_path(scenario)
    if turns is not None:
        files["connections"] = _file_digest(turns)
    if road.signals.plan == SignalPlanKind.FILE:
        named.append(road.signals.file)
    for file_name in named:
        if file_name:
            files[file_name] = _file_digest(scenario.resolve_path(file_name))
    material = {"format": _FORMAT, "scenario": data, "files": files, "model": _model_digest()}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cache_root(scenario: Scenario) -> Path:
    """The cache folder: ``routing.cache_dir``, else ``$V2X_SIM_CACHE``, else ~/.cache/v2x-sim."""
    if scenario.routing.cache_dir:
        return scenario.resolve_path(scenario.routing.cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "v2x-sim"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename still protects
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def habitual_routes(scenario: Scenario, network: Network, *,
                    progress: EquilibriumProgress | None = None,
                    ) -> tuple[HabitualRoutes, dict[str, Any]]:
    """The scenario's habitual routes and a report (gap per day, cost, cache use).

    Loads them from the cache when present; computes and stores them otherwise (or
    always, with ``routing.cache: false``).
    """
    key = cache_key(scenario)
    if not scenario.routing.cache:
        with tempfile.TemporaryDirectory(prefix="v2x-sim-routes-") as temporary:
            routes, report = _compute_into(scenario, network, Path(temporary), progress)
        return routes, {**report, "key": key, "cache": "off"}
    folder, report = ensure_cached(scenario, network, progress=progress)
    routes = read_route_files(folder / "routes.csv", folder / "route_times.csv", network)
    return routes, {**report, "folder": str(folder)}


def ensure_cached(scenario: Scenario, network: Network, *,
                  progress: EquilibriumProgress | None = None,
                  ) -> tuple[Path, dict[str, Any]]:
    """Compute and store the scenario's habitual routes unless the cache has them.

    Returns the cache folder and the report (``cache``: hit or miss) without reading
    the route files, so a caller that only warms the cache (the command line, before a
    run or a study) does not parse them twice.
    """
    key = cache_key(scenario)
    root = cache_root(scenario) / "routes"
    folder = root / key[:32]
    if not (folder / "equilibrium.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{key[:32]}.lock"):
            if not (folder / "equilibrium.json").exists():
                scratch = Path(tempfile.mkdtemp(prefix=f".{key[:32]}.", dir=root))
                try:
                    _, report = _compute_into(scenario, network, scratch, progress)
                    write_text_atomic(scratch / "equilibrium.json",
                                      json.dumps({**report, "key": key}, indent=2) + "\n")
                    scratch.rename(folder)
                except BaseException:
                    shutil.rmtree(scratch, ignore_errors=True)
                    raise
                return folder, {**report, "key": key, "cache": "miss"}
    report = json.loads((folder / "equilibrium.json").read_text(encoding="utf-8"))
    return folder, {**report, "cache": "hit"}


def export_routes(scenario: Scenario, folder: Path, *,
                  progress: EquilibriumProgress | None = None,
                  ) -> tuple[HabitualRoutes, dict[str, Any]]:
    """Write a scenario's habitual routes (cached or computed) as route files in ``folder``.

    ``routes.csv``, ``route_times.csv`` (the format ``routing.background: file`` reads)
    and ``equilibrium.json`` (the report: gap, mean trip time and wall seconds per day).
    """
    from v2x_sim.scenario.scale import scaled_scenario
    from v2x_sim.world import build_network_from

    scenario = scaled_scenario(scenario)  # the routes of the world `run` builds
    network = build_network_from(scenario)
    routes, report = habitual_routes(scenario, network, progress=progress)
    write_route_files(routes, network, folder)
    write_text_atomic(folder / "equilibrium.json", json.dumps(report, indent=2) + "\n")
    return routes, report


def _compute_into(scenario: Scenario, network: Network, folder: Path,
                  progress: EquilibriumProgress | None) -> tuple[HabitualRoutes, dict[str, Any]]:
    """Run the MSA, write the route files into ``folder`` and read them back.

    Reading back what was written makes a fresh computation and a cache hit give
    identical routes (the files round shares and times to 6 decimals).
    """
    routes, report = compute_equilibrium(scenario, network, progress=progress)
    write_route_files(routes, network, folder)
    return read_route_files(folder / "routes.csv", folder / "route_times.csv", network), report


def compute_equilibrium(scenario: Scenario, network: Network, *,
                        progress: EquilibriumProgress | None = None,
                        ) -> tuple[HabitualRoutes, dict[str, Any]]:
    """Habitual routes by MSA over days of the simulator (see the module docstring)."""
    from v2x_sim.road.routing import RouteTables
    from v2x_sim.world import build_world  # the world builds on these routes: import late

    params = scenario.routing.equilibrium
    day = day_scenario(scenario)
    horizon = scenario.simulation.horizon_s
    seed = scenario.simulation.seed
    free_flow = RouteTables(network, network.free_flow_time_s)
    paths: list[tuple[int, ...]] = []
    path_id: dict[tuple[int, ...], int] = {}
    cells: list[Cell] = []
    weight = np.zeros(0)
    shares: list[dict[int, float]] = []
    report: dict[str, Any] = {"method": "msa", "iterations": 0, "relative_gap_by_day": [],
                              "mean_travel_time_s": [], "wall_s": [],
                              "interval_s": params.interval_s, "cost_bin_s": params.cost_bin_s}
    today: HabitualRoutes | None = None  # day 0: free-flow paths
    routes = HabitualRoutes(params.interval_s, paths, {})

    def register(path: tuple[int, ...]) -> int:
        if path not in path_id:
            path_id[path] = len(paths)
            paths.append(path)
        return path_id[path]

    for n in range(params.iterations):
        started = time.perf_counter()
        world = build_world(day, seed, routes=today)
        if today is None:  # every cell starts on its free-flow shortest path
            plan = world.plan
            legs = trip_legs(plan.origin.tolist(), plan.waypoints, plan.destination.tolist(),
                             plan.depart_s.tolist())
            keys = np.stack([legs.origin, legs.destination,
                             (legs.depart_s // params.interval_s).astype(np.int64)], axis=1)
            unique, counts = np.unique(keys, axis=0, return_counts=True)
            cells = [(int(o), int(d), int(k)) for o, d, k in unique.tolist()]
            weight = counts.astype(np.float64)
            shares = [{register(tuple(free_flow.path(o, d))): 1.0} for o, d, _ in cells]
        world.env.run(until=horizon)
        profile = _profile(world, network, horizon, params.cost_bin_s)
        gap, best = _gap_and_best(network, profile, params.cost_bin_s, params.interval_s,
                                  cells, weight, shares, paths, register)
        report["iterations"] = n + 1
        report["relative_gap_by_day"].append(gap)
        report["relative_gap"] = gap
        done = world.fleet.column("arrive_s") - world.fleet.column("depart_s")
        report["mean_travel_time_s"].append(float(np.nanmean(done)) if done.size else 0.0)
        report["wall_s"].append(time.perf_counter() - started)
        log.info("habitual routes: day %d of %d, relative gap %.4f, %.1f s", n + 1,
                 params.iterations, gap, report["wall_s"][-1])
        if progress is not None:
            progress(n + 1, params.iterations, gap)
        routes = HabitualRoutes(params.interval_s, paths, _compiled(cells, shares),
                                profile, params.cost_bin_s)
        if gap <= params.gap_tolerance or n + 1 == params.iterations:
            break
        step = 1.0 / (n + 2)
        for cell_shares, target in zip(shares, best, strict=True):
            for pid in cell_shares:
                cell_shares[pid] *= 1.0 - step
            cell_shares[target] = cell_shares.get(target, 0.0) + step
            for pid in [p for p, s in cell_shares.items() if s < _PRUNE_SHARE]:
                del cell_shares[pid]
        today = HabitualRoutes(params.interval_s, paths, _compiled(cells, shares))
    return routes, report


def _profile(world: Any, network: Network, horizon: float, bin_s: float) -> np.ndarray:
    log = world.traversals.to_numpy()
    _, open_link, open_in = world.traffic.open_traversals()
    return link_time_profile(
        np.concatenate([log["link"], open_link]), np.concatenate([log["t_in"], open_in]),
        np.concatenate([log["t_out"], np.full(open_link.size, horizon)]),
        free_flow_s=network.free_flow_time_s, horizon_s=horizon, bin_s=bin_s)


def _gap_and_best(network: Network, profile: np.ndarray, bin_s: float, interval_s: float,
                  cells: list[Cell], weight: np.ndarray, shares: list[dict[int, float]],
                  paths: list[tuple[int, ...]],
                  register: Callable[[tuple[int, ...]], int]) -> tuple[float, list[int]]:
    """The day's relative gap and each cell's cheapest path (registered in ``paths``).

    Costs are means over the cell's sampled departures (`sample_departures`). Candidates
    are the cell's set plus the best path for each sampled instant; the cheapest of all
    is the cell's best (the profile's bins are not FIFO everywhere, so a searched path
    can lose to one already in the set).
    """
    cell_array = np.asarray(cells, dtype=np.int64)
    departs = sample_departures(cell_array[:, 2], interval_s, bin_s)
    found = candidate_paths(network, profile, bin_s, cell_array, departs)
    owner: list[int] = []
    members: list[int] = []
    for c, cell_shares in enumerate(shares):
        ids = list(cell_shares)
        for path in found[c]:
            pid = register(path)
            if pid not in cell_shares:
                ids.append(pid)
        owner.extend([c] * len(ids))
        members.extend(ids)
    owner_a = np.asarray(owner, dtype=np.int64)
    costs = mean_path_costs([paths[p] for p in members], departs[owner_a], profile, bin_s)
    share = np.array([shares[c].get(p, 0.0) for c, p in zip(owner, members, strict=True)])
    experienced = np.bincount(owner_a, weights=share * costs, minlength=len(cells))
    order = np.lexsort((costs, owner_a))  # by cell, cheapest first (stable: set order)
    first = np.ones(order.size, dtype=bool)
    first[1:] = owner_a[order[1:]] != owner_a[order[:-1]]
    cheapest_at = order[first]
    cheapest = costs[cheapest_at]
    total = float((weight * experienced).sum())
    excess = float((weight * (experienced - cheapest)).sum())
    return (excess / total if total > 0 else 0.0), [members[i] for i in cheapest_at]


def _compiled(cells: list[Cell],
              shares: list[dict[int, float]]) -> dict[Cell, tuple[np.ndarray, np.ndarray]]:
    return {cell: (np.fromiter(s.keys(), dtype=np.int64, count=len(s)),
                   np.fromiter(s.values(), dtype=np.float64, count=len(s)))
            for cell, s in zip(cells, shares, strict=True)}
