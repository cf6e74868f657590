"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor maps one picklable function over a list of tasks and yields results as
they finish, so the caller can store each run as soon as it is done (a killed study
keeps what it finished) and show progress. Dask is optional (``pip install
v2x-sim[dask]``) and imported only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from v2x_sim._core.errors import V2XSimError

Task = Any
Result = Any


def default_jobs() -> int:
    """All cores of this machine."""
    return os.cpu_count() or 1


def run_local(function: Callable[[Task], Result], tasks: list[Task],
              jobs: int) -> Iterator[tuple[Task, Result]]:
    """(task, result) pairs as they finish, on ``jobs`` worker processes (1: inline)."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, function(task)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(function, task): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()


def run_dask(function: Callable[[Task], Result], tasks: list[Task],
             address: str) -> Iterator[tuple[Task, Result]]:
    """(task, result) pairs from a Dask distributed scheduler.

    Args:
        function: the work per task (must be importable by the workers).
        tasks: one per run.
        address: a scheduler address (``tcp://host:8786``) or ``local`` to start a
            local cluster for the duration.
    """
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise V2XSimError("--dask needs the optional extra: pip install 'v2x-sim[dask]'"
                          ) from None
    cluster = LocalCluster(processes=True, dashboard_address=None) if address == "local" \
        else None
    try:
        client = Client(cluster if cluster is not None else address)
    except OSError as exc:
        raise V2XSimError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    try:
        futures = {client.submit(function, task, pure=False): i for i, task in enumerate(tasks)}
        for future in dask_completed(list(futures)):
            yield tasks[futures[future]], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(function: Callable[[Task], Result], tasks: list[Task], *, jobs: int,
            dask: str | None = None) -> Iterator[tuple[Task, Result]]:
    """Run tasks locally (``jobs`` processes) or on Dask when ``dask`` names a scheduler."""
    if dask:
        return run_dask(function, tasks, dask)
    return run_local(function, tasks, jobs)
