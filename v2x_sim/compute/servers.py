"""Server pools (an edge node, the cloud platform): c cores behind one FIFO queue.

Background messages arrive in batches, one window of simulated time at a time, and are
served by the compiled Kiefer-Wolfowitz kernel (`queueing.serve_streams`); messages
arriving after the window wait in a carry buffer for the next one, so the FIFO order is
exact across windows. A foreground message (a hazard report) asks `start_time`: it
replays the window's arrivals before it from the state at the window's start, so it
waits behind exactly the background backlog present when it arrives. Foreground
messages are rare; they do not delay the background in return (documented
approximation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.env import KERNEL_THREADS, env_count
from v2x_sim._core.jit import njit
from v2x_sim.compute.queueing import serve_streams
from v2x_sim.compute.streams import EMPTY_F, EMPTY_I, Stream, _merge
from v2x_sim.metrics.histogram import N_BINS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Handover:
    """Content-carrying messages a `ServerPool.serve` call finished, in no set order.

    Attributes:
        done_s: departure (end of service) of each; may lie past the horizon (then the
            message is still in flight at the end and hands nothing over).
        payload: the content id it carries.
        kind: its message kind code.
    """

    done_s: FloatArray = field(default_factory=lambda: EMPTY_F)
    payload: IntArray = field(default_factory=lambda: EMPTY_I)
    kind: IntArray = field(default_factory=lambda: EMPTY_I)

    def __len__(self) -> int:
        return len(self.done_s)

    def of_kind(self, kind: int, horizon_s: float = np.inf) -> tuple[FloatArray, IntArray]:
        """(departure, content id) of one kind's messages done by ``horizon_s``."""
        keep = (self.kind == kind) & (self.done_s <= horizon_s)
        return self.done_s[keep], self.payload[keep]


@dataclass(frozen=True)
class _Job:
    """One pool's kernel call for one window: its streams, outputs and arguments.

    A one-call job has ``other`` None: the merge of the carry with the batch, the kernel,
    the new carry and the content handed over all run in one compiled call
    (`_serve_window`), whose result `_run_kernel` returns whole.
    """

    fixed: Stream
    other: Stream | None
    done_a: FloatArray | None
    done_b: FloatArray | None
    args: tuple[Any, ...]
    batch: Stream | None = None  # a one-call job's batch and the free times before it
    free_before: FloatArray | None = None
    shift_s: float = 0.0  # added to the fixed stream's times (`ServerPool.serve`)


def _run_kernel(job: _Job) -> Any:
    """The compiled kernel on one job (releases the GIL while it runs)."""
    if job.other is None:
        return _serve_window(*job.args)
    used_a, used_b, _, _ = serve_streams(*job.args)
    return int(used_a), int(used_b)


def _shifted(stream: Stream, shift_s: float) -> Stream:
    """``stream`` with ``shift_s`` added to its arrival and generation times."""
    if shift_s == 0.0:
        return stream
    return Stream(stream.arrival_s + shift_s, stream.service_s, stream.kind,
                  stream.born_s + shift_s, stream.payload)


def _columns(stream: Stream) -> tuple[Any, ...]:
    """A stream as `_serve_window` takes it: four arrays, payload ids, whether it has them."""
    has = stream.payload is not None
    return (stream.arrival_s, stream.service_s, stream.kind, stream.born_s,
            stream.payload if has else EMPTY_I, has)


@njit(cache=True, nogil=True)
def _content_of(payload, done, kind, n):  # type: ignore[no-untyped-def]  # pragma: no cover
    """(departure, content id, kind) of the first ``n`` messages that carry content."""
    keep = payload[:n] >= 0
    return done[:n][keep], payload[:n][keep], kind[:n][keep]


@njit(cache=True, nogil=True)
def _serve_window(fa, fs, fk, fb, fp, f_has, ca, cs, ck, cb, cp, c_has,  # type: ignore[no-untyped-def]  # pragma: no cover
                  ba, bs, bk, bb, bp, b_has, free, window_end_s, horizon_s, deadline_s,
                  counts, stats, hist, slot_s, busy_slots, wait_slots, shift_s):
    """`ServerPool._prepare`, the kernel and `_finish` of one window in one call.

    ``other`` = the carry merged with the batch, served with the fixed stream through
    `serve_streams` (with each message's departure where some stream carries content);
    the messages left (arriving at or after ``window_end_s``) merged into the new carry,
    whose payload counts only if some id in it is >= 0. The same merges and the same
    kernel as the step-by-step form, in one call instead of five. Returns (served,
    other, new carry, the content handed over or None); ``served`` False, before any
    state changed, if a stream is not sorted (the caller then takes the step-by-step
    path, which handles that). ``shift_s`` is added to the fixed stream's arrival and
    generation times (a periodic pattern given as offsets from the window's start):
    only its messages left for the carry are ever shifted into arrays of their own.
    """
    merged, other, op, o_has = _merge(ca, cs, ck, cb, cp, c_has, ba, bs, bk, bb, bp, b_has)
    if not merged:
        return False, (other, op, o_has), (other, op, o_has), None
    oa, os_, ok, ob = other
    content = f_has or o_has
    # departures are kept only for a stream that carries content (none: zero length)
    done_a = np.full(fa.shape[0] if f_has else 0, np.nan)
    done_b = np.full(oa.shape[0] if o_has else 0, np.nan)
    if content:
        used_a, used_b, _, _ = serve_streams(
            fa, fs, fk, fb, oa, os_, ok, ob, free, window_end_s, horizon_s, deadline_s,
            counts, stats, hist, slot_s, busy_slots, wait_slots, done_a, done_b, shift_s)
    else:
        used_a, used_b, _, _ = serve_streams(
            fa, fs, fk, fb, oa, os_, ok, ob, free, window_end_s, horizon_s, deadline_s,
            counts, stats, hist, slot_s, busy_slots, wait_slots, None, None, shift_s)
    tail_a, tail_b = fa[used_a:], fb[used_a:]
    if shift_s != 0.0:
        tail_a, tail_b = tail_a + shift_s, tail_b + shift_s
    # tails of sorted streams are sorted, so this merge never declines
    _, carry, carry_p, carry_has = _merge(
        tail_a, fs[used_a:], fk[used_a:], tail_b, fp[used_a:] if f_has else fp,
        f_has, oa[used_b:], os_[used_b:], ok[used_b:], ob[used_b:],
        op[used_b:] if o_has else op, o_has)
    if carry_has:  # no content left to hand over: the cheaper path next time
        carry_has = (carry_p >= 0).any()
    if not content:
        return True, (other, op, o_has), (carry, carry_p, carry_has), None
    handed_f = _content_of(fp, done_a, fk, used_a if f_has else 0)
    handed_o = _content_of(op, done_b, ok, used_b if o_has else 0)
    handed = (np.concatenate((handed_f[0], handed_o[0])),
              np.concatenate((handed_f[1], handed_o[1])),
              np.concatenate((handed_f[2], handed_o[2])))
    return True, (other, op, o_has), (carry, carry_p, carry_has), handed


def kernel_threads() -> int:
    """Threads that serve the edge nodes at once (``V2X_SIM_KERNEL_THREADS``, default 1).

    With 2 the edge nodes are cut into two parts of about equal messages, the second
    served on a persistent worker thread while the caller serves the first
    (`pool_split.SplitPoolGroup`); that can only pay where a core is idle. Results are
    the same either way. Study workers always use one (their processes already fill
    the CPUs).
    """
    threads = env_count(KERNEL_THREADS)
    return 1 if threads is None else threads


class ServerPool:
    """c identical cores, one FIFO queue, per-kind latency accumulators.

    Args:
        name: for outputs ("edge-0", "cloud").
        cores: number of servers.
        deadline_s: deadline per message kind code.
        horizon_s: end of the run (later completions count as in flight).
        slot_s: length of the time slots of the utilisation and queue series.
    """

    def __init__(self, name: str, cores: int, deadline_s: FloatArray, horizon_s: float,
                 slot_s: float = 1.0) -> None:
        self.name = name
        self.cores = cores
        # a `pool_group.PoolGroup` this pool belongs to (it keeps the carry and window)
        self._group: Any = None
        self._node = 0
        self.free_s = np.zeros(cores)
        self.deadline_s = np.ascontiguousarray(deadline_s, dtype=np.float64)
        self.horizon_s = horizon_s
        n_kinds = len(deadline_s)
        self.counts = np.zeros((n_kinds, 3), np.int64)
        self.stats = np.zeros((n_kinds, 3, 2))
        self.hist = np.zeros((n_kinds, 3, N_BINS), np.int64)
        self._carry = Stream()
        self.slot_s = slot_s
        n_slots = max(1, int(np.ceil(horizon_s / slot_s - 1e-9)))
        self.slot_start_s = np.arange(n_slots) * slot_s
        self.slot_length_s = np.minimum(self.slot_start_s + slot_s, horizon_s) - self.slot_start_s
        self.busy_slots = np.zeros(n_slots)
        self.wait_slots = np.zeros(n_slots)
        self._own_window: tuple[Stream, Stream, FloatArray, float] = (
            Stream(), Stream(), self.free_s.copy(), 0.0)

    @property
    def carry(self) -> Stream:
        """Messages that arrived after the last window, waiting (sorted by arrival)."""
        return self._carry if self._group is None else self._group.carry_of(self._node)

    @carry.setter
    def carry(self, stream: Stream) -> None:
        self._carry = stream

    @property
    def _window(self) -> tuple[Stream, Stream, FloatArray, float]:
        """The last window's (fixed stream, carry + batch, free times before, fixed's shift)."""
        if self._group is None:
            return self._own_window
        return self._group.window_of(self._node)  # type: ignore[no-any-return]

    @_window.setter
    def _window(self, window: tuple[Stream, Stream, FloatArray, float]) -> None:
        self._own_window = window

    def serve(self, fixed: Stream, batch: Stream, window_start_s: float,
              window_end_s: float, fixed_shift_s: float = 0.0) -> Handover:
        """Serve every message arriving before ``window_end_s``; carry the rest.

        ``fixed`` and ``batch`` are each sorted (e.g. the periodic sensor frames and this
        window's vehicle messages); the carry from the last window joins ``batch``.
        ``fixed_shift_s`` is added to ``fixed``'s arrival and generation times: a
        periodic pattern given once as offsets is served at any window's start without
        building shifted copies of its arrays (the kernel adds it as it reads them).
        Returns the departures of the served messages that carry content.
        """
        job = self._prepare(fixed, batch, window_end_s, fixed_shift_s)
        return self._finish(job, _run_kernel(job))

    def _prepare(self, fixed: Stream, batch: Stream, window_end_s: float,
                 fixed_shift_s: float = 0.0) -> _Job:
        """The window's kernel call (arguments only; nothing served yet)."""
        return _Job(fixed, None, None, None, (
            *_columns(fixed), *_columns(self.carry), *_columns(batch), self.free_s,
            window_end_s, self.horizon_s, self.deadline_s, self.counts, self.stats,
            self.hist, self.slot_s, self.busy_slots, self.wait_slots, float(fixed_shift_s)),
            batch, self.free_s.copy(), float(fixed_shift_s))

    def _prepare_general(self, fixed: Stream, batch: Stream, window_end_s: float) -> _Job:
        """`_prepare` step by step, for streams the one compiled call declines (unsorted)."""
        other = Stream.merged(self.carry, batch)
        self._window = (fixed, other, self.free_s.copy(), 0.0)
        content = fixed.payload is not None or other.payload is not None
        done_a = np.full(len(fixed), np.nan) if content else None
        done_b = np.full(len(other), np.nan) if content else None
        return _Job(fixed, other, done_a, done_b, (
            fixed.arrival_s, fixed.service_s, fixed.kind, fixed.born_s,
            other.arrival_s, other.service_s, other.kind, other.born_s,
            self.free_s, window_end_s, self.horizon_s, self.deadline_s,
            self.counts, self.stats, self.hist, self.slot_s, self.busy_slots,
            self.wait_slots, done_a, done_b))

    def _finish(self, job: _Job, used: Any) -> Handover:
        """After the kernel: the new carry and the content-carrying departures."""
        fixed, other, done_a, done_b = job.fixed, job.other, job.done_a, job.done_b
        if other is None:  # a one-call job: the compiled call did the rest
            served, (arrays, payload, has), (carry, carry_p, carry_has), handed = used
            if not served or job.batch is None or job.free_before is None:
                # a stream was not sorted, nothing served: the general path handles it
                job = self._prepare_general(_shifted(fixed, job.shift_s),
                                            job.batch or Stream(), job.args[19])
                return self._finish(job, _run_kernel(job))
            arrival, service, kind, born = arrays
            self._window = (fixed, Stream(arrival, service, kind, born,
                                          payload if has else None),
                            job.free_before, job.shift_s)
            c_arrival, c_service, c_kind, c_born = carry
            self.carry = Stream(c_arrival, c_service, c_kind, c_born,
                                carry_p if carry_has else None)
            return Handover() if handed is None else Handover(*handed)
        used_a, used_b = used
        carry = Stream.merged(fixed.tail(used_a), other.tail(used_b))
        if carry.payload is not None and not (carry.payload >= 0).any():
            carry.payload = None  # no content left to hand over: the cheaper path
        self.carry = carry
        if done_a is None or done_b is None:
            return Handover()
        parts = []
        for stream, done, n in ((fixed, done_a, used_a), (other, done_b, used_b)):
            if stream.payload is not None:
                ids = stream.payload[:n]
                has = ids >= 0
                parts.append((done[:n][has], ids[has], stream.kind[:n][has]))
        return Handover(*(np.concatenate(c) for c in zip(*parts, strict=True)))

    def start_time(self, arrival_s: float) -> float:
        """When a foreground message arriving at ``arrival_s`` would start service.

        Replays the current window's background arrivals before it from the state at the
        window's start (scratch accumulators, nothing recorded).
        """
        fixed, other, free, shift_s = self._window
        free = free.copy()
        n_kinds = len(self.deadline_s)
        serve_streams(fixed.arrival_s, fixed.service_s, fixed.kind, fixed.born_s,
                      other.arrival_s, other.service_s, other.kind, other.born_s,
                      free, arrival_s, np.inf, self.deadline_s,
                      np.zeros((n_kinds, 3), np.int64), np.zeros((n_kinds, 3, 2)),
                      np.zeros((n_kinds, 3, N_BINS), np.int64), shift_a=shift_s)
        return max(arrival_s, float(free.min()))

    def restart_statistics(self) -> None:
        """Warm-up over: the latency accumulators start afresh (the slot series stay)."""
        self.counts[:] = 0
        self.stats[:] = 0
        self.hist[:] = 0

    def end_at(self, end_s: float) -> None:
        """The run ended at ``end_s`` (before the horizon it was built for, after a drain).

        Drops the time slots past ``end_s`` so utilisation and queue series stop there;
        busy time clipped to each kept slot's capacity.
        """
        n = max(1, int(np.ceil(end_s / self.slot_s - 1e-9)))
        if n >= self.slot_start_s.size:
            return
        self.horizon_s = end_s
        self.slot_start_s = self.slot_start_s[:n]
        self.slot_length_s = np.minimum(self.slot_start_s + self.slot_s, end_s) - self.slot_start_s
        self.busy_slots = np.minimum(self.busy_slots[:n], self.cores * self.slot_length_s)
        self.wait_slots = self.wait_slots[:n]

    def utilisation(self) -> FloatArray:
        """Busy share of the cores per time slot (server-seconds busy inside it / capacity).

        Within [0, 1] by construction; work of messages still queued at the horizon is
        not counted.
        """
        return self.busy_slots / (self.cores * self.slot_length_s)

    def queue_length(self) -> FloatArray:
        """Time-mean number of messages waiting (not in service) per time slot."""
        return self.wait_slots / self.slot_length_s

    def pending(self) -> IntArray:
        """Messages per kind still waiting in the carry buffer (in flight at the end)."""
        return np.bincount(self.carry.kind, minlength=len(self.deadline_s))
