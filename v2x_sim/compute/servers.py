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

import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.env import KERNEL_BACKGROUND, KERNEL_THREADS, env_count, env_flag
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
    replay: Stream | None = None  # the carry merged with the batch, when merged beforehand


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
    """Threads that serve independent pools at once (``V2X_SIM_KERNEL_THREADS``, default 1).

    Two threads run the kernels of different pools on two cores at once, which can only
    pay where a core is idle (not measured on an idle machine; on the shared 2-core
    machine two A/Bs disagreed: +9 % wall at load ~3, -27 % at load 4-6), so the
    default is one; results are the same either way.
    Study workers always use one (their processes already fill the CPUs).
    """
    threads = env_count(KERNEL_THREADS)
    return 1 if threads is None else threads


def kernel_background() -> bool:
    """Whether edge kernels run beside the simulation (``V2X_SIM_KERNEL_BACKGROUND=1``).

    Off by default: it can only pay where a core is idle (see `serve_pools`); results
    are the same either way. Study workers always run without it.
    """
    return env_flag(KERNEL_BACKGROUND)


_executor: ThreadPoolExecutor | None = None
_executor_threads = 0
_beside: ThreadPoolExecutor | None = None  # the one thread of background kernels
_SWITCH_S = 1e-4  # the interpreter's switch interval while kernels run beside


def _run_jobs(jobs: list[_Job]) -> list[Any]:
    """`_run_kernel` on each job, in order (the background thread's task)."""
    return [_run_kernel(job) for job in jobs]


def _serve_beside(pools: list[ServerPool], jobs: list[_Job]) -> list[Handover]:
    """Serve pools whose window carries content now; start the others' kernels beside.

    A pool without content in this window (no aggregate in its queue: most edge nodes in
    most windows) hands nothing to the platform, so nothing in the simulation waits for
    its kernel until the pool is next read. Its kernel runs on a background thread (it
    releases the GIL) while the simulation goes on; any read of the pool's state waits
    for it first (`ServerPool.sync`), and its replay window (`start_time`) is set now,
    from the merged carry and batch (`_prepare(premerge=True)`). Pools with content are
    served at once, as without the background thread, so hand-overs are not delayed.
    """
    global _beside
    out: list[Handover] = []
    later: list[tuple[ServerPool, _Job]] = []
    for pool, job in zip(pools, jobs, strict=True):
        other, before = job.replay, job.free_before
        if other is None or before is None or other.payload is not None or (
                job.fixed.payload is not None):
            out.append(pool._finish(job, _run_kernel(job)))
        else:
            later.append((pool, job))
            pool._window = (job.fixed, other, before, job.shift_s)
            out.append(Handover())
    if later:
        if _beside is None:
            # the background thread needs the GIL briefly before and after each kernel
            # call, and Python hands it over only every switch interval (5 ms by
            # default: most of a window's wall time), so the interval is shortened for
            # the rest of the process (measured: without it 1.13x the CPU time)
            sys.setswitchinterval(min(sys.getswitchinterval(), _SWITCH_S))
            _beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="v2x-beside")
        task = _beside.submit(_run_jobs, [job for _, job in later])
        for index, (pool, job) in enumerate(later):
            pool._deferred = (job, task, index)
    return out


def serve_pools(pools: list[ServerPool], fixed: list[Stream], batch: list[Stream],
                window_end_s: float, threads: int = 1,
                fixed_shift_s: float = 0.0, background: bool | None = None) -> list[Handover]:
    """`ServerPool.serve` for several independent pools, the kernels on ``threads``.

    The pools share nothing (each its own queue, accumulators and carry), so serving
    them at once gives exactly what serving them one after another gives. Only the
    compiled kernel runs in the threads (it releases the GIL); preparing and finishing
    stay in this thread, in pool order. With ``background``, the kernels of pools that
    hand nothing over in this window run beside the simulation instead
    (`_serve_beside`; ``threads`` is then not used); None: `kernel_background`.
    """
    global _executor, _executor_threads
    if background is None:
        background = kernel_background()
    # a pool with nothing waiting and nothing arriving has nothing to serve (its kernel
    # would change nothing): only its replay window is reset (`v2x.background: off`
    # leaves most edge nodes idle in most windows)
    idle = [not (len(f) or len(b) or len(pool.carry))
            for pool, f, b in zip(pools, fixed, batch, strict=True)]
    if any(idle):
        for pool, rest in zip(pools, idle, strict=True):
            if rest:
                pool._window = (Stream(), Stream(), pool.free_s.copy(), 0.0)
        working = [k for k, rest in enumerate(idle) if not rest]
        served = serve_pools([pools[k] for k in working], [fixed[k] for k in working],
                             [batch[k] for k in working], window_end_s, threads,
                             fixed_shift_s, background)
        out = [Handover() for _ in pools]
        for k, handed in zip(working, served, strict=True):
            out[k] = handed
        return out
    jobs = [pool._prepare(f, b, window_end_s, fixed_shift_s, premerge=background)
            for pool, f, b in zip(pools, fixed, batch, strict=True)]
    if background:
        return _serve_beside(pools, jobs)
    if threads <= 1 or len(jobs) <= 1:
        used = [_run_kernel(job) for job in jobs]
    else:
        if _executor is None or _executor_threads < threads:
            _executor = ThreadPoolExecutor(max_workers=threads,
                                           thread_name_prefix="v2x-kernel")
            _executor_threads = threads
        share = [jobs[k::threads] for k in range(threads)]
        futures = [_executor.submit(lambda part: [_run_kernel(j) for j in part], part)
                   for part in share[1:]]
        results = [[_run_kernel(j) for j in share[0]]] + [f.result() for f in futures]
        used = [results[i % threads][i // threads] for i in range(len(jobs))]
    return [pool._finish(job, u) for pool, job, u in zip(pools, jobs, used, strict=True)]


def _pool_state(name: str, doc: str) -> Any:
    """A `ServerPool` attribute that a kernel call changes, kept in ``name``.

    Reading it first waits for a kernel call left running beside the simulation
    (`ServerPool.sync`), so no reader ever sees a window half served.
    """
    def read(pool: ServerPool) -> Any:
        pool.sync()
        return getattr(pool, name)

    def write(pool: ServerPool, value: Any) -> None:
        setattr(pool, name, value)

    return property(read, write, doc=doc)


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
        # a kernel call running beside the simulation: (job, its task, index in the task)
        self._deferred: tuple[_Job, Future[list[Any]], int] | None = None
        self.free_s = np.zeros(cores)
        self.deadline_s = np.ascontiguousarray(deadline_s, dtype=np.float64)
        self.horizon_s = horizon_s
        n_kinds = len(deadline_s)
        self.counts = np.zeros((n_kinds, 3), np.int64)
        self.stats = np.zeros((n_kinds, 3, 2))
        self.hist = np.zeros((n_kinds, 3, N_BINS), np.int64)
        self.carry = Stream()
        self.slot_s = slot_s
        n_slots = max(1, int(np.ceil(horizon_s / slot_s - 1e-9)))
        self.slot_start_s = np.arange(n_slots) * slot_s
        self.slot_length_s = np.minimum(self.slot_start_s + slot_s, horizon_s) - self.slot_start_s
        self.busy_slots = np.zeros(n_slots)
        self.wait_slots = np.zeros(n_slots)
        # the last window's (fixed stream, carry + batch, free times before, fixed's shift)
        self._window: tuple[Stream, Stream, FloatArray, float] = (
            Stream(), Stream(), self.free_s.copy(), 0.0)

    # the state a kernel call changes (reading it waits for a call left running beside)
    free_s = _pool_state("_free_s", "When each core is free next (sorted after a window).")
    counts = _pool_state("_counts", "Per kind: delivered, late, in flight.")
    stats = _pool_state("_stats", "Per kind and hop: sum and maximum of the latencies.")
    hist = _pool_state("_hist", "Per kind and hop: log-binned latency counts.")
    carry = _pool_state("_carry", "Messages that arrived after the last window, waiting.")
    busy_slots = _pool_state("_busy_slots", "Busy server-seconds per time slot.")
    wait_slots = _pool_state("_wait_slots", "Waiting customer-seconds per time slot.")

    def sync(self) -> None:
        """Take the results of a kernel call left running beside the simulation, if any."""
        deferred = self._deferred
        if deferred is not None:
            self._deferred = None
            job, task, index = deferred
            self._finish(job, task.result()[index])

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
                 fixed_shift_s: float = 0.0, *, premerge: bool = False) -> _Job:
        """The window's kernel call (arguments only; nothing served yet).

        ``premerge``: the carry is merged with the batch here rather than in the
        compiled call, so the window's replay streams are known before it runs.
        """
        carry, joining = self.carry, batch
        replay = None
        if premerge:  # (a pair the compiled call would decline is left to it)
            merged, arrays, payload, has = _merge(*_columns(carry), *_columns(batch))
            if merged:
                arrival, service, kind, born = arrays
                replay = Stream(arrival, service, kind, born, payload if has else None)
                carry, joining = Stream(), replay
        return _Job(fixed, None, None, None, (
            *_columns(fixed), *_columns(carry), *_columns(joining), self.free_s, window_end_s,
            self.horizon_s, self.deadline_s, self.counts, self.stats, self.hist,
            self.slot_s, self.busy_slots, self.wait_slots, float(fixed_shift_s)), batch,
            self.free_s.copy(), float(fixed_shift_s), replay)

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
