"""The edge nodes' window on two (or more) threads: contiguous parts, one persistent worker each.

The edge nodes are independent queues, and their message counts per window are close
to even and nearly fixed (the sensor frames, ~92 % of them on the zone, repeat the
same pattern every window). So the nodes are cut once into contiguous parts of about
equal work (`balanced_cuts`), each part a `PoolGroup` of its own. A window hands every
part but the first to a persistent worker thread, serves the first on the calling
thread meanwhile, and waits for the others (`start` returns that join, so the caller
can do other work first): one hand-over and one join per worker and window, with no
pool of numba threads to wake (numba's work queue, tried before, woke its workers in
two rounds per call and left the calling thread idle). The compiled kernel releases
the GIL, so the parts run at once; the Python around each part's call is short. Each
node's arithmetic is what the single group does, so results are identical; the
hand-overs are joined in node order, as one group gives them.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim.compute.pool_group import GroupHandover, PoolGroup
from v2x_sim.compute.servers import ServerPool
from v2x_sim.compute.streams import StreamSet

IntArray = NDArray[np.int64]


def balanced_cuts(weights: NDArray[Any], parts: int) -> list[int]:
    """Cut positions splitting nodes ``0..n`` into ``parts`` contiguous runs of near-equal weight.

    Greedy on the running total: part ``k`` ends where the cumulative weight first
    reaches ``k/parts`` of the total (never leaving a part empty). With weights
    [7, 6, 5, 5, 5, 6, 7, 6] and two parts the cut is after node 3 (23 against 24).

    Raises:
        ValueError: fewer nodes than parts, or fewer than one part.
    """
    n = len(weights)
    if parts < 1 or parts > n:
        raise ValueError(f"cannot cut {n} nodes into {parts} parts")
    total = np.cumsum(np.asarray(weights, dtype=np.float64))
    cuts = [0]
    for k in range(1, parts):
        share = total[-1] * k / parts
        # the prefix closest to the share, leaving room for the parts still to come
        at = int(np.searchsorted(total, share))
        if at < n and at > 0 and share - total[at - 1] < total[at] - share:
            at -= 1
        cuts.append(min(max(at + 1, cuts[-1] + 1), n - (parts - k)))
    cuts.append(n)
    return cuts


def _part(streams: StreamSet, a: int, b: int) -> StreamSet:
    """Nodes ``a..b`` of ``streams`` (views; their payload kept even where empty)."""
    lo, hi = int(streams.bounds[a]), int(streams.bounds[b])
    return StreamSet(streams.arrival_s[lo:hi], streams.service_s[lo:hi], streams.kind[lo:hi],
                     streams.born_s[lo:hi], streams.bounds[a:b + 1] - lo,
                     None if streams.payload is None else streams.payload[lo:hi])


def _work(jobs: queue.SimpleQueue[Any], done: queue.SimpleQueue[Any]) -> None:
    """A worker thread's loop: run each job, hand back (ok, result or exception)."""
    while (job := jobs.get()) is not None:
        fn, args = job
        try:
            done.put((True, fn(*args)))
        except BaseException as error:  # handed to the caller, which raises it
            done.put((False, error))


class _Worker:
    """One persistent daemon thread that runs the jobs it is given, one at a time."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=_work, args=(self._jobs, self._done), daemon=True,
                         name="v2x-sim-edge-part").start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start ``fn(*args)`` on the thread."""
        self._jobs.put((fn, args))

    def outcome(self) -> tuple[bool, Any]:
        """Wait for the job: (True, its result) or (False, the exception it raised)."""
        return self._done.get()  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Let the thread end (after any job it runs)."""
        self._jobs.put(None)


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()


class SplitPoolGroup:
    """`PoolGroup.serve` with the nodes in contiguous parts served at once on threads.

    Args:
        pools: the edge nodes' pools (as `PoolGroup` takes them).
        parts: how many parts (threads, counting the caller's); at most one per pool.
        weights: each pool's expected messages per window (the parts balance them).
    """

    def __init__(self, pools: list[ServerPool], parts: int, weights: NDArray[Any]) -> None:
        self.cuts = balanced_cuts(weights, parts)
        self.groups = [PoolGroup(pools[a:b]) for a, b in pairwise(self.cuts)]
        self.pools = pools
        self._workers = [_Worker() for _ in self.groups[1:]]
        # the threads end with the group (they hold no reference to it)
        weakref.finalize(self, _stop_all, self._workers)

    def start(self, fixed: StreamSet, batch: StreamSet, extra: StreamSet,
              window_end_s: float, fixed_shift_s: float = 0.0) -> Callable[[], GroupHandover]:
        """Begin `serve`: the workers' parts start, the caller's part is served now.

        Returns the join: call it (once) for the hand-over. Meanwhile the caller may do
        work that touches none of these pools (the workers' kernels hold no GIL).
        """
        spans = list(pairwise(self.cuts))
        for worker, group, (a, b) in zip(self._workers, self.groups[1:], spans[1:], strict=True):
            worker.submit(group.serve, _part(fixed, a, b), _part(batch, a, b),
                          _part(extra, a, b), window_end_s, fixed_shift_s)
        a, b = spans[0]
        try:
            first = self.groups[0].serve(_part(fixed, a, b), _part(batch, a, b),
                                         _part(extra, a, b), window_end_s, fixed_shift_s)
        except BaseException:
            for worker in self._workers:  # the next window must not find these results
                worker.outcome()
            raise
        return lambda: self._join(first)

    def _join(self, first: GroupHandover) -> GroupHandover:
        """Wait for every worker's part; the parts' hand-overs joined in node order."""
        outcomes = [worker.outcome() for worker in self._workers]
        for ok, value in outcomes:
            if not ok:
                raise value
        return _joined([first, *(value for _, value in outcomes)])

    def serve(self, fixed: StreamSet, batch: StreamSet, extra: StreamSet,
              window_end_s: float, fixed_shift_s: float = 0.0) -> GroupHandover:
        """`PoolGroup.serve` for every pool: the same hand-over, in node order."""
        return self.start(fixed, batch, extra, window_end_s, fixed_shift_s)()


def _joined(parts: list[GroupHandover]) -> GroupHandover:
    """The parts' hand-overs as one, nodes in order (each part's bounds shifted on)."""
    bounds = [np.zeros(1, np.int64)]
    for part in parts:
        bounds.append(part.bounds[1:] + bounds[-1][-1])
    return GroupHandover(np.concatenate([p.done_s for p in parts]),
                         np.concatenate([p.payload for p in parts]),
                         np.concatenate([p.kind for p in parts]), np.concatenate(bounds))


def edge_queues(pools: list[ServerPool], threads: int,
                weights: NDArray[Any]) -> PoolGroup | SplitPoolGroup:
    """The edge nodes' pools served together: on one thread, or split over ``threads``."""
    parts = min(threads, len(pools))
    if parts <= 1:
        return PoolGroup(pools)
    return SplitPoolGroup(pools, parts, weights)
