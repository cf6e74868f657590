"""FIFO queues in bulk: the exact recursions, compiled where they cannot be vectorised.

One server (Lindley): ``d[n] = max(a[n], d[n-1]) + s[n]``, which numpy evaluates with a
cumulative sum and a running maximum. ``c`` identical servers sharing one FIFO queue
(Kiefer-Wolfowitz): customer ``n`` starts at ``max(a[n], earliest free server)``; that
recursion has no closed vectorised form, so it runs as a loop compiled by numba (about
ten nanoseconds per message). `multi_server_fifo_reference` is the same loop in plain
Python: tests prove the compiled kernel equal to it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim._core.jit import njit
from v2x_sim.compute.kernel_bins import _EXACT, _bin, _bin_exact, _bits_float, _float_bits

FloatArray = NDArray[np.float64]

# hop columns of the per-kind statistics written by `serve_streams`
QUEUE, PROCESSING, TOTAL = 0, 1, 2


def fifo_departures(arrival_s: FloatArray, service_s: FloatArray,
                    free_at_s: float = 0.0) -> FloatArray:
    """One FIFO server: d[n] = max(a[n], d[n-1]) + s[n], in three numpy calls.

    With S[n] = s[0] + ... + s[n], d[n] = S[n] + max(free_at, max_{m<=n}(a[m] - S[m-1])).
    """
    cum = np.cumsum(service_s)
    before = np.concatenate(([0.0], cum[:-1]))
    return cum + np.maximum.accumulate(np.maximum(arrival_s - before, free_at_s))


def multi_server_fifo_reference(arrival_s: FloatArray, service_s: FloatArray,
                                free_at_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Plain-Python c-server FIFO: the oracle for the compiled kernel.

    Returns (start_s, departure_s, free_at_after) where ``free_at_s`` holds the time each
    of the c servers becomes free before the first arrival.
    """
    free = [float(f) for f in free_at_s]
    start, depart = [], []
    for a, s in zip(arrival_s.tolist(), service_s.tolist(), strict=True):
        j = min(range(len(free)), key=free.__getitem__)
        begin = max(a, free[j])
        free[j] = begin + s
        start.append(begin)
        depart.append(begin + s)
    return np.array(start), np.array(depart), np.array(free)


@njit(cache=True)
def _multi_server(arrival_s, service_s, free):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = arrival_s.shape[0]
    c = free.shape[0]
    start = np.empty(n)
    depart = np.empty(n)
    for i in range(n):
        j = 0
        for k in range(1, c):
            if free[k] < free[j]:
                j = k
        begin = arrival_s[i] if arrival_s[i] > free[j] else free[j]
        start[i] = begin
        depart[i] = begin + service_s[i]
        free[j] = depart[i]
    return start, depart


def multi_server_fifo(arrival_s: FloatArray, service_s: FloatArray,
                      free_at_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """C identical servers, one FIFO queue, arrivals sorted: (start, departure, free after).

    Kiefer-Wolfowitz: each customer takes the server that frees first, starting at
    ``max(arrival, that server's free time)``. Compiled; see `multi_server_fifo_reference`.
    """
    free = np.array(free_at_s, dtype=np.float64)
    start, depart = _multi_server(np.ascontiguousarray(arrival_s, dtype=np.float64),
                                  np.ascontiguousarray(service_s, dtype=np.float64), free)
    return start, depart, free



@njit(cache=True, nogil=True)
def _spread(slots, slot_s, start, end):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add the overlap of [start, end) with each slot to ``slots`` (past the end: dropped)."""
    k = int(start / slot_s)
    n = slots.shape[0]
    while k < n and start < end:
        slot_end = (k + 1) * slot_s
        stop = end if end < slot_end else slot_end
        slots[k] += stop - start
        start = slot_end
        k += 1


@njit(cache=True, nogil=True)
def _slot_start(k, slot_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The smallest time t >= 0 that `_spread` puts in slot k or later (int(t / slot_s) >= k).

    Near ``k * slot_s``, found by stepping one float at a time (a step or two at most).
    """
    if k <= 0:
        return 0.0
    t = k * slot_s
    while int(t / slot_s) < k:
        t = _bits_float(_float_bits(t) + 1)
    while t > 0.0:
        below = _bits_float(_float_bits(t) - 1)
        if int(below / slot_s) < k:
            break
        t = below
    return t


@njit(cache=True, nogil=True)
def _arriving_before(arrival, shift, end_s):  # type: ignore[no-untyped-def]  # pragma: no cover
    """How many leading ``arrival`` (plus ``shift``) lie before ``end_s``: the messages served.

    A scan, not a bisection, so that an unsorted stream is cut where the per-message
    test always cut it (at its first message not before ``end_s``).
    """
    n = 0
    while n < arrival.shape[0] and arrival[n] + shift < end_s:
        n += 1
    return n


@njit(cache=True, nogil=True)
def _latency_bin(x):  # type: ignore[no-untyped-def]  # pragma: no cover
    """`_bin(x)`, from the exact tables when they could be built (always, in practice)."""
    if _EXACT:
        return _bin_exact(x)
    return _bin(x)


@njit(cache=True, nogil=True)
def serve_streams(  # type: ignore[no-untyped-def]  # pragma: no cover
        arr_a, svc_a, kind_a, gen_a, arr_b, svc_b, kind_b, gen_b,
        free, window_end_s, horizon_s, deadline_s, counts, stats, hist,
        slot_s=1.0, busy_slots=None, wait_slots=None, done_a=None, done_b=None,
        shift_a=0.0):
    """Serve two sorted arrival streams, merged, through one c-server FIFO queue.

    Processes every message arriving before ``window_end_s`` (later ones are left for
    the next call) and accumulates, per message kind ``k``:

    * ``counts[k, 0]`` delivered (processing done by the horizon), ``counts[k, 1]``
      late (total latency above ``deadline_s[k]``), ``counts[k, 2]`` still in flight;
    * ``stats[k, hop, 0]`` sum and ``stats[k, hop, 1]`` max of the queueing wait,
      processing time and total latency since generation (hop = QUEUE, PROCESSING,
      TOTAL), and ``hist[k, hop, bin]`` their log-binned counts.

    ``free`` (server free times) is updated in place and left sorted: the cores are
    identical, so which core holds which free time is immaterial, and a sorted vector
    finds the first free core without scanning all c (the same start times as taking
    the lowest-numbered core that frees first, ~30 % faster overall). Inside, the
    sorted free times sit in a ring: the core that frees first leaves at the head and
    its new free time enters from the tail, which is already its place when it frees
    last (an idle or evenly loaded pool: no element moves; ~8 % of the kernel's time
    against shifting all c). When ``busy_slots`` and
    ``wait_slots`` are given, each message's service interval and waiting interval are
    spread over time slots of ``slot_s`` seconds (slot k = [k slot_s, (k+1) slot_s)),
    so a slot's busy server-seconds and waiting customer-seconds are exactly those that
    fell inside it, whichever call served the message. When ``done_a`` and ``done_b``
    are given, each served message's departure (end of its service, possibly past the
    horizon) is written at its position in its stream: the instant its content takes
    effect (only where the array reaches: an empty one for a stream without content).
    ``shift_a`` is added to stream a's arrival and generation times as they are read: a
    periodic pattern (offsets from a window's start) is served for any window without
    building its shifted arrays (the same sums as shifting them beforehand, so the same
    results; 0.0 leaves any time >= 0 unchanged). Returns (messages of stream a
    consumed, of stream b consumed, busy server-seconds, summed waiting seconds).

    Fast paths, each giving bit for bit what the plain per-message updates give:

    * the most frequent kind (stream a's, the sensor frames at an edge node) keeps its
      counts, sums and maxima in local variables, added in the same order and written
      back at the end (a float sum depends on its order, not on where it is kept);
    * service starts never decrease in a FIFO queue (nor do arrivals), so a message
      whose interval lies inside the slot of the previous one adds to a running sum of
      that slot, written back when a later message starts in a later slot; only an
      interval that reaches past its slot's end goes through `_spread`;
    * latency bins come from `kernel_bins._bin_exact` (`_bin`'s bins by table lookup);
    * how many messages of each stream arrive before ``window_end_s`` is counted once,
      so choosing the next message is one comparison.
    """
    n_kinds = counts.shape[0]
    last_service = np.full(n_kinds, -1.0)  # services repeat per kind: reuse their bin
    last_service_bin = np.zeros(n_kinds, np.int64)
    na = _arriving_before(arr_a, shift_a, window_end_s)
    nb = _arriving_before(arr_b, 0.0, window_end_s)
    c = free.shape[0]
    busy = 0.0
    waited = 0.0
    free.sort()  # cores are identical: only the multiset of free times matters
    ring = free.copy()  # sorted from position ``head`` on, wrapping around
    head = 0
    # the hot kind's accumulators (written back at the end)
    hot = kind_a[0] if na > 0 else (kind_b[0] if nb > 0 else -1)
    h = hot if hot >= 0 else 0
    h_deadline = deadline_s[h]
    h_delivered = 0
    h_late = 0
    h_sum_wait, h_sum_service, h_sum_total = stats[h, 0, 0], stats[h, 1, 0], stats[h, 2, 0]
    h_max_wait, h_max_service, h_max_total = stats[h, 0, 1], stats[h, 1, 1], stats[h, 2, 1]
    h_no_wait = 0  # messages of the hot kind in wait bin 0
    h_last_service = -1.0
    h_service_bin = 0
    h_same_service = 0  # messages since the service changed (all in h_service_bin)
    # running sums of the current busy and waiting slot (-1: none yet)
    n_slots = 0
    if busy_slots is not None:
        n_slots = busy_slots.shape[0]
    b_slot, b_next, b_end, b_sum = -1, -1.0, 0.0, 0.0
    w_slot, w_next, w_end, w_sum = -1, -1.0, 0.0, 0.0
    ia = 0
    ib = 0
    while True:
        if ia < na:
            next_a = arr_a[ia] + shift_a
            from_a = not (ib < nb and arr_b[ib] < next_a)  # stream a first on ties
        elif ib < nb:
            from_a = False
        else:
            break
        if from_a:
            arrival, service, kind, born = next_a, svc_a[ia], kind_a[ia], gen_a[ia] + shift_a
            at = ia
            ia += 1
        else:
            arrival, service, kind, born = arr_b[ib], svc_b[ib], kind_b[ib], gen_b[ib]
            at = ib
            ib += 1
        # the core that frees first is at the head; it leaves, and its new free time
        # enters at the tail (the slot it left) and moves down past later free times
        first = ring[head]
        begin = arrival if arrival > first else first
        done = begin + service
        slot = head
        head = head + 1 if head + 1 < c else 0
        for _ in range(c - 1):
            before = slot - 1 if slot > 0 else c - 1
            if ring[before] <= done:
                break
            ring[slot] = ring[before]
            slot = before
        ring[slot] = done
        if done_a is not None:  # a stream whose array is shorter keeps none past its end
            if from_a:
                if at < done_a.shape[0]:
                    done_a[at] = done
            elif at < done_b.shape[0]:
                done_b[at] = done
        wait = begin - arrival
        busy += service
        waited += wait
        if busy_slots is not None:  # time past the horizon is not in any slot
            end = min(done, horizon_s)
            if begin < end:
                if begin < b_next and end <= b_end:
                    b_sum += end - begin
                else:
                    if b_slot >= 0:
                        busy_slots[b_slot] = b_sum
                    _spread(busy_slots, slot_s, begin, end)
                    b_slot = int(begin / slot_s)
                    if b_slot < n_slots:
                        b_next = _slot_start(b_slot + 1, slot_s)
                        b_end = (b_slot + 1) * slot_s
                        b_sum = busy_slots[b_slot]
                    else:  # later starts are past every slot too
                        b_slot, b_next = -1, -1.0
            if wait > 0.0:
                end = min(begin, horizon_s)
                if arrival < end:
                    if arrival < w_next and end <= w_end:
                        w_sum += end - arrival
                    else:
                        if w_slot >= 0:
                            wait_slots[w_slot] = w_sum
                        _spread(wait_slots, slot_s, arrival, end)
                        w_slot = int(arrival / slot_s)
                        if w_slot < n_slots:
                            w_next = _slot_start(w_slot + 1, slot_s)
                            w_end = (w_slot + 1) * slot_s
                            w_sum = wait_slots[w_slot]
                        else:
                            w_slot, w_next = -1, -1.0
        if done > horizon_s:
            counts[kind, 2] += 1
            continue
        total = done - born
        if kind == hot:
            h_delivered += 1
            if total > h_deadline:
                h_late += 1
            if service != h_last_service:
                if h_same_service:
                    hist[h, 1, h_service_bin] += h_same_service
                h_last_service = service
                h_service_bin = _latency_bin(service)
                h_same_service = 0
            h_same_service += 1
            h_sum_wait += wait
            h_sum_service += service
            h_sum_total += total
            if wait > h_max_wait:
                h_max_wait = wait
            if service > h_max_service:
                h_max_service = service
            if total > h_max_total:
                h_max_total = total
            if wait < 1e-7:
                h_no_wait += 1
            else:
                hist[h, 0, _latency_bin(wait)] += 1
            hist[h, 2, _latency_bin(total)] += 1
            continue
        counts[kind, 0] += 1
        if total > deadline_s[kind]:
            counts[kind, 1] += 1
        if service != last_service[kind]:
            last_service[kind] = service
            last_service_bin[kind] = _latency_bin(service)
        stats[kind, 0, 0] += wait
        stats[kind, 1, 0] += service
        stats[kind, 2, 0] += total
        if wait > stats[kind, 0, 1]:
            stats[kind, 0, 1] = wait
        if service > stats[kind, 1, 1]:
            stats[kind, 1, 1] = service
        if total > stats[kind, 2, 1]:
            stats[kind, 2, 1] = total
        hist[kind, 0, 0 if wait < 1e-7 else _latency_bin(wait)] += 1
        hist[kind, 1, last_service_bin[kind]] += 1
        hist[kind, 2, _latency_bin(total)] += 1
    if busy_slots is not None:
        if b_slot >= 0:
            busy_slots[b_slot] = b_sum
        if w_slot >= 0:
            wait_slots[w_slot] = w_sum
    if hot >= 0:
        counts[h, 0] += h_delivered
        counts[h, 1] += h_late
        stats[h, 0, 0], stats[h, 1, 0], stats[h, 2, 0] = h_sum_wait, h_sum_service, h_sum_total
        stats[h, 0, 1], stats[h, 1, 1], stats[h, 2, 1] = h_max_wait, h_max_service, h_max_total
        hist[h, 0, 0] += h_no_wait
        if h_same_service:
            hist[h, 1, h_service_bin] += h_same_service
    for k in range(c):  # back to a plain sorted vector
        free[k] = ring[head + k if head + k < c else head + k - c]
    return ia, ib, busy, waited
