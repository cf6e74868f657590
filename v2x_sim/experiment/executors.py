"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor maps one picklable function over a list of tasks and yields results as
they finish, so the caller can store each run as soon as it is done (a killed study
keeps what it finished) and show progress. Dask is optional (``pip install
v2x-sim[dask]``) and imported only when asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from v2x_sim._core.cpus import usable_cpus
from v2x_sim._core.errors import V2XSimError

Task = Any
Result = Any
_DASK_TIMEOUT_S = 10


def default_jobs() -> int:
    """The CPUs this process may use (its affinity mask), not every core of the node."""
    return usable_cpus()


def _one_kernel_thread() -> None:
    """In a study's worker: serve edge nodes on one thread (the workers fill the CPUs)."""
    os.environ["V2X_SIM_KERNEL_THREADS"] = "1"


def run_local(function: Callable[[Task], Result], tasks: list[Task],
              jobs: int) -> Iterator[tuple[Task, Result]]:
    """(task, result) pairs as they finish, on ``jobs`` worker processes (1: inline).

    A worker's exception is raised here as it was raised there (our error types pickle
    intact); a worker that dies (killed, out of memory) becomes one `V2XSimError`.
    """
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, function(task)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                             initializer=_one_kernel_thread) as pool:
        futures = {pool.submit(function, task): task for task in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool:
            raise V2XSimError("a worker process ended abruptly (killed, or out of memory?); "
                              "finished runs are kept: run the same command again to "
                              "continue, or use fewer --jobs") from None
        finally:
            for future in futures:
                future.cancel()


def _connect(address: str) -> tuple[Any, Any]:
    """(client, cluster or None) for a scheduler address or ``local``."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise V2XSimError("--dask needs the optional extra: pip install 'v2x-sim[dask]'"
                          ) from None
    cluster = None
    try:
        if address == "local":
            # its workers report a failed task on their own stderr; the error reaches
            # the user once, as our one line
            cluster = LocalCluster(processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
        client = Client(cluster if cluster is not None else address, timeout=_DASK_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise V2XSimError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    return client, cluster


def _dask_map(client: Any, function: Callable[[Task], Result],
              tasks: list[Task]) -> Iterator[tuple[Task, Result]]:
    from dask.distributed import as_completed as dask_completed

    futures = {client.submit(function, task, pure=False): i for i, task in enumerate(tasks)}
    try:
        for future in dask_completed(list(futures)):
            yield tasks[futures[future]], future.result()
    finally:
        for future in futures:
            future.cancel()


Mapper = Callable[[Callable[[Task], Result], list[Task]], Iterator[tuple[Task, Result]]]
"""``mapper(function, tasks)`` -> (task, result) pairs as they finish."""


@contextlib.contextmanager
def open_executor(*, jobs: int, dask: str | None = None) -> Iterator[Mapper]:
    """Local processes, or a connection to Dask made now (so a bad address fails first).

    Args:
        jobs: worker processes when running locally (1: in this process).
        dask: a scheduler address (``tcp://host:8786``) or ``local`` to start a local
            cluster for the duration; None for local processes.
    """
    if not dask:
        yield lambda function, tasks: run_local(function, tasks, jobs)
        return
    client, cluster = _connect(dask)
    try:
        yield lambda function, tasks: _dask_map(client, function, tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_dask(function: Callable[[Task], Result], tasks: list[Task],
             address: str) -> Iterator[tuple[Task, Result]]:
    """(task, result) pairs from a Dask distributed scheduler (see `open_executor`)."""
    with open_executor(jobs=1, dask=address) as mapper:
        yield from mapper(function, tasks)


def execute(function: Callable[[Task], Result], tasks: list[Task], *, jobs: int,
            dask: str | None = None) -> Iterator[tuple[Task, Result]]:
    """Run tasks locally (``jobs`` processes) or on Dask when ``dask`` names a scheduler."""
    if dask:
        return run_dask(function, tasks, dask)
    return run_local(function, tasks, jobs)
