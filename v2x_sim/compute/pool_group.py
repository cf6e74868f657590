"""The edge nodes' server pools served together: one compiled call per window.

The edge nodes are independent queues. A `PoolGroup` keeps the state of all of them in
stacked arrays (each `ServerPool`'s free times, accumulators and slot series are views
of its rows, so everything that reads a pool reads what the group wrote) and its carries
and last window in flat arrays (`streams.StreamSet` layout), and serves a window of every
node in one call of `group_kernel.serve_group`: no per-pool arguments, calls or arrays
in Python (`pool_split.SplitPoolGroup` serves parts of the nodes, each a group of its
own, on two threads at once). A node one of whose streams is not sorted is left
untouched by the call and served on its own through `ServerPool.serve` (the path that
handles it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim.compute.group_kernel import serve_group
from v2x_sim.compute.servers import Handover, ServerPool
from v2x_sim.compute.streams import EMPTY_F, EMPTY_I, Stream, StreamSet

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class GroupHandover:
    """The content-carrying messages a window of the group finished, node by node.

    Node ``e``'s are positions ``bounds[e]:bounds[e + 1]`` (its fixed stream's first,
    then the others', each in stream order: what `ServerPool.serve` hands over).
    """

    done_s: FloatArray
    payload: IntArray
    kind: IntArray
    bounds: IntArray

    def node(self, e: int) -> Handover:
        """Node ``e``'s hand-over."""
        a, b = int(self.bounds[e]), int(self.bounds[e + 1])
        return Handover(self.done_s[a:b], self.payload[a:b], self.kind[a:b])

    def of_kind(self, kind: int, horizon_s: float = np.inf) -> tuple[FloatArray, IntArray]:
        """(departure, content id) of one kind's messages done by ``horizon_s``, node order."""
        keep = (self.kind == kind) & (self.done_s <= horizon_s)
        return self.done_s[keep], self.payload[keep]


def _parts(stream: StreamSet) -> tuple[FloatArray, FloatArray, IntArray, FloatArray,
                                       IntArray, IntArray]:
    """A `StreamSet` as the kernel takes it (an empty payload array: no content)."""
    return (stream.arrival_s, stream.service_s, stream.kind, stream.born_s,
            EMPTY_I if stream.payload is None else stream.payload, stream.bounds)


class PoolGroup:
    """Independent pools (the edge nodes) whose windows are served in one call.

    Args:
        pools: the pools, all with the same message kinds, horizon and slots (cores may
            differ). Their state arrays become views of the group's; their ``carry``
            and replay window are then read from the group.

    Raises:
        ValueError: the pools' kinds, horizons or slots differ.
    """

    def __init__(self, pools: list[ServerPool]) -> None:
        first = pools[0]
        for pool in pools:
            if (pool.deadline_s.tobytes() != first.deadline_s.tobytes()
                    or pool.horizon_s != first.horizon_s or pool.slot_s != first.slot_s
                    or pool.busy_slots.shape != first.busy_slots.shape):
                raise ValueError(f"pool {pool.name} differs from {first.name} in kinds, "
                                 "horizon or time slots: it cannot join their group")
        self.pools = pools
        cores = [pool.cores for pool in pools]
        self.free_bounds = np.zeros(len(pools) + 1, np.int64)
        self.free_bounds[1:] = np.cumsum(cores)
        self.free = np.concatenate([pool.free_s for pool in pools])
        self.counts = np.stack([pool.counts for pool in pools])
        self.stats = np.stack([pool.stats for pool in pools])
        self.hist = np.stack([pool.hist for pool in pools])
        self.busy = np.stack([pool.busy_slots for pool in pools])
        self.wait = np.stack([pool.wait_slots for pool in pools])
        self._carry = StreamSet.of([pool.carry for pool in pools])
        self._carry_has = np.array([pool.carry.payload is not None for pool in pools])
        self._windows: list[tuple[Stream, Stream, FloatArray, float]] | None = [
            pool._window for pool in pools]
        self._last: tuple[StreamSet, StreamSet, FloatArray, float] | None = None
        for e, pool in enumerate(pools):
            a, b = self.free_bounds[e], self.free_bounds[e + 1]
            pool.free_s = self.free[a:b]
            pool.counts, pool.stats, pool.hist = self.counts[e], self.stats[e], self.hist[e]
            pool.busy_slots, pool.wait_slots = self.busy[e], self.wait[e]
            pool._group, pool._node = self, e

    # ------------------------------------------------------------- what pools read
    def carry_of(self, e: int) -> Stream:
        """Node ``e``'s carry (messages that arrived after the last window)."""
        stream = self._carry.stream(e)
        if not self._carry_has[e]:
            stream.payload = None
        return stream

    def window_of(self, e: int) -> tuple[Stream, Stream, FloatArray, float]:
        """Node ``e``'s last window: (fixed, carry + batch, free times before, shift)."""
        last = self._last
        if last is None:  # (before the first window, or after one served pool by pool)
            return self._windows[e]  # type: ignore[index]
        fixed, other, free_before, shift = last
        a, b = self.free_bounds[e], self.free_bounds[e + 1]
        return fixed.stream(e), other.stream(e), free_before[a:b], shift

    # ------------------------------------------------------------------- serving
    def start(self, fixed: StreamSet, batch: StreamSet, extra: StreamSet,
              window_end_s: float, fixed_shift_s: float = 0.0) -> Callable[[], GroupHandover]:
        """`serve` now, its hand-over from the returned call (as `SplitPoolGroup.start`)."""
        handed = self.serve(fixed, batch, extra, window_end_s, fixed_shift_s)
        return lambda: handed

    def serve(self, fixed: StreamSet, batch: StreamSet, extra: StreamSet,
              window_end_s: float, fixed_shift_s: float = 0.0) -> GroupHandover:
        """`ServerPool.serve` for every pool: ``batch`` merged with ``extra`` joins the carry.

        ``fixed`` (e.g. the sensor frames, times as offsets when ``fixed_shift_s`` is
        the window's start), ``batch`` (BSMs) and ``extra`` (aggregates) hold one
        sorted stream per pool. Returns the content-carrying departures.
        """
        first = self.pools[0]
        free_before = self.free.copy()
        served, other, _, carry, handed = serve_group(
            (fixed.arrival_s, fixed.service_s, fixed.kind, fixed.born_s,
             EMPTY_I if fixed.payload is None else fixed.payload, fixed.bounds,
             fixed.payload is not None, float(fixed_shift_s)),
            (_parts(self._carry), _parts(batch), _parts(extra)), self._carry_has,
            (self.free, self.free_bounds, self.counts, self.stats, self.hist, self.busy,
             self.wait),
            (float(window_end_s), float(first.horizon_s), first.deadline_s,
             float(first.slot_s)))
        oa, os_, ok, ob, op, o_off = other
        merged = StreamSet(oa, os_, ok, ob, o_off, op)
        ca, cs, ck, cb, cp, c_off, c_has = carry
        new_carry = StreamSet(ca, cs, ck, cb, c_off, cp)
        together = GroupHandover(*handed)
        if not served.all():  # some node's stream was not sorted: that node on its own
            return self._serve_declined(served, (fixed, batch, extra), window_end_s,
                                        fixed_shift_s, (merged, free_before),
                                        (new_carry, c_has, together))
        self._last = (fixed, merged, free_before, float(fixed_shift_s))
        self._windows = None
        self._carry = new_carry
        self._carry_has = c_has
        return together

    def _serve_declined(self, served: NDArray[np.bool_],
                        streams: tuple[StreamSet, StreamSet, StreamSet], window_end_s: float,
                        fixed_shift_s: float, window: tuple[StreamSet, FloatArray],
                        done: tuple[StreamSet, NDArray[np.bool_], GroupHandover]
                        ) -> GroupHandover:
        """Finish a window in which some nodes were not served (a stream not sorted).

        Those nodes changed nothing in the compiled call; each is served here on its own
        through `ServerPool.serve` (the path that handles unsorted input), the others
        keep what the call gave them.
        """
        fixed, batch, extra = streams
        merged, free_before = window
        new_carry, c_has, together = done
        carries, windows, handed = [], [], []
        for e, pool in enumerate(self.pools):
            if served[e]:
                carry = new_carry.stream(e)
                if not c_has[e]:
                    carry.payload = None
                a, b = self.free_bounds[e], self.free_bounds[e + 1]
                carries.append(carry)
                windows.append((fixed.stream(e), merged.stream(e), free_before[a:b],
                                float(fixed_shift_s)))
                handed.append(together.node(e))
                continue
            old = self.carry_of(e)
            pool._group = None
            pool.carry = old
            handed.append(pool.serve(fixed.stream(e), Stream.merged(batch.stream(e),
                                                                    extra.stream(e)),
                                     0.0, window_end_s, fixed_shift_s))
            windows.append(pool._window)
            carries.append(pool.carry)
            pool._group = self
        self._carry = StreamSet.of(carries)
        self._carry_has = np.array([c.payload is not None for c in carries])
        self._windows = windows
        self._last = None
        bounds = np.zeros(len(handed) + 1, np.int64)
        bounds[1:] = np.cumsum([len(h) for h in handed])
        if not bounds[-1]:
            return GroupHandover(EMPTY_F, EMPTY_I, EMPTY_I, bounds)
        return GroupHandover(np.concatenate([h.done_s for h in handed]),
                             np.concatenate([h.payload for h in handed]),
                             np.concatenate([h.kind for h in handed]), bounds)
