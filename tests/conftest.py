"""Shared helpers: tiny networks written as CSV files, scenarios as dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim.compute.servers import ServerPool, Stream
from v2x_sim.scenario import Scenario, scenario_from_dict


def write_line_network(folder: Path, links: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes 0..n on a straight line 1 km apart, links i -> i+1 with the given attributes.

    Each entry of ``links`` may set length_m, lanes, free_speed_mps,
    capacity_vph_per_lane, jam_density_vpkm_per_lane. Returns the ``road`` section.
    """
    nodes = ["id,x_m,y_m"] + [f"{i},{1000.0 * i},0" for i in range(len(links) + 1)]
    rows = ["id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane,"
            "jam_density_vpkm_per_lane"]
    for i, spec in enumerate(links):
        rows.append(
            f"{i},{i},{i + 1},{spec.get('length_m', 1000.0)},{spec.get('lanes', 1)},"
            f"{spec.get('free_speed_mps', 20.0)},{spec.get('capacity_vph_per_lane', 1800.0)},"
            f"{spec.get('jam_density_vpkm_per_lane', 140.0)}"
        )
    (folder / "nodes.csv").write_text("\n".join(nodes) + "\n")
    (folder / "links.csv").write_text("\n".join(rows) + "\n")
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def make_scenario(folder: Path, **sections: Any) -> Scenario:
    """A scenario from keyword sections, resolving files against ``folder``."""
    return scenario_from_dict(dict(sections), base_dir=folder)


@pytest.fixture(autouse=True, scope="session")
def _routes_cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Equilibria the tests compute go to a session folder, never to ~/.cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("V2X_SIM_CACHE", str(tmp_path_factory.mktemp("routes-cache")))
    yield
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def _compiled_bin_counter() -> None:
    """Load the compiled histogram counter once per test process, before any test.

    Its first call in a process loads numba's code generator (~1 s), which would
    otherwise land in whichever Hypothesis example counts a latency first and exceed
    that example's deadline.
    """
    from v2x_sim.metrics.histogram import LogHistogram

    LogHistogram().add([0.001])


@pytest.fixture
def line_scenario(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: ``line_scenario(links, **sections)`` on a line network in tmp_path."""

    def build(links: list[dict[str, Any]], **sections: Any) -> Scenario:
        road = write_line_network(tmp_path, links)
        return make_scenario(tmp_path, road=road, **sections)

    return build


def ring_road(folder: Path, lanes: int = 1) -> dict:
    """A one-way ring of four 1 km links at 20 m/s without signals, as a ``road:`` section.

    Writes ``nodes.csv`` and ``links.csv`` into ``folder``; shuttle and vending tests run
    lines and cruises round it.
    """
    xy = [(0, 0), (1000, 0), (1000, 1000), (0, 1000)]
    (folder / "nodes.csv").write_text(
        "id,x_m,y_m\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in enumerate(xy)))
    (folder / "links.csv").write_text(
        "id,from,to,length_m,lanes,free_speed_mps,capacity_vph_per_lane\n"
        + "".join(f"{i},{i},{(i + 1) % 4},1000,{lanes},20,1800\n" for i in range(4)))
    return {"generator": "file", "file": {"nodes": "nodes.csv", "links": "links.csv"},
            "signals": {"enabled": False}}


def random_stream(rng: np.random.Generator, start: float, n: int, kind: int,
                  payload: bool = False) -> Stream:
    """``n`` messages born uniformly in [start, start + 1) s, arriving ~2 ms later (sorted),
    ~4 ms of service each (exponential), all of ``kind``; ids 0..n-1 as content if asked."""
    born = np.sort(start + rng.random(n))
    arrival = born + rng.exponential(0.002, n)
    order = np.argsort(arrival, kind="stable")
    return Stream(arrival[order], rng.exponential(0.004, n), np.full(n, kind, np.int64),
                  born[order], np.arange(n, dtype=np.int64) if payload else None)


def five_pools(horizon_s: float) -> list[ServerPool]:
    """Five edge pools of 1, 2, 3, 8 and 2 cores (deadlines 10, 20, 50 ms by kind)."""
    return [ServerPool(f"edge-{e}", cores, np.array([0.01, 0.02, 0.05]), horizon_s)
            for e, cores in enumerate((1, 2, 3, 8, 2))]
