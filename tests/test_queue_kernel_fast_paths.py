"""The queue kernel's fast paths give bit for bit what plain per-message updates give.

`serve_streams` keeps the most frequent kind's sums and counts in local variables, the
current busy and waiting slot in a running sum, and bins latencies from exact tables
(`kernel_bins._bin_exact`). Each is exact only if it adds the same floats in the same
order as the plain form: here a plain-Python kernel (the code before the fast paths,
message by message: per-kind sums in place, every interval through the slot spreading,
`_bin` for every bin) serves the same windows, and every accumulator must be equal,
not close.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from v2x_sim.compute.kernel_bins import _BIN_START, _EXACT, _bin, _bin_exact, bin_of
from v2x_sim.compute.queueing import _slot_start, serve_streams
from v2x_sim.metrics.histogram import N_BINS


def spread(slots: np.ndarray, slot_s: float, start: float, end: float) -> None:
    """Overlap of [start, end) with each slot, added slot by slot (`queueing._spread`)."""
    k = int(start / slot_s)
    while k < slots.shape[0] and start < end:
        slot_end = (k + 1) * slot_s
        stop = end if end < slot_end else slot_end
        slots[k] += stop - start
        start = slot_end
        k += 1


def plain_kernel(a: tuple, b: tuple, free: list[float], window_end: float, horizon: float,
                 deadline: np.ndarray, acc: dict, slot_s: float, shift: float) -> None:
    """The kernel's per-message updates without any fast path, in plain Python."""
    rows = []
    ia = ib = 0
    while True:  # stream a first on ties; each stream cut at its first late arrival
        ta = ia < len(a[0]) and a[0][ia] + shift < window_end
        tb = ib < len(b[0]) and b[0][ib] < window_end
        if ta and (not tb or a[0][ia] + shift <= b[0][ib]):
            rows.append((a[0][ia] + shift, a[1][ia], a[2][ia], a[3][ia] + shift))
            ia += 1
        elif tb:
            rows.append((b[0][ib], b[1][ib], b[2][ib], b[3][ib]))
            ib += 1
        else:
            break
    counts, stats, hist = acc["counts"], acc["stats"], acc["hist"]
    for arrival, service, kind, born in rows:
        j = min(range(len(free)), key=free.__getitem__)
        begin = arrival if arrival > free[j] else free[j]
        done = begin + service
        free[j] = done
        wait = begin - arrival
        spread(acc["busy"], slot_s, begin, min(done, horizon))
        if wait > 0.0:
            spread(acc["wait"], slot_s, arrival, min(begin, horizon))
        if done > horizon:
            counts[kind, 2] += 1
            continue
        total = done - born
        counts[kind, 0] += 1
        counts[kind, 1] += int(total > deadline[kind])
        for hop, value in enumerate((wait, service, total)):
            stats[kind, hop, 0] += value
            stats[kind, hop, 1] = max(stats[kind, hop, 1], value)
        hist[kind, 0, 0 if wait < 1e-7 else int(_bin(wait))] += 1
        hist[kind, 1, int(_bin(service))] += 1
        hist[kind, 2, int(_bin(total))] += 1


@st.composite
def window_stream(draw: st.DrawFn, kinds: list[int], start: float) -> tuple:
    """A sorted stream over [start, start + 1.5) s: arrival, service, kind, born."""
    n = draw(st.integers(0, 60))
    arrival = start + np.sort(np.array(draw(st.lists(st.floats(0.0, 1.5), min_size=n,
                                                     max_size=n))))
    service = np.array(draw(st.lists(st.sampled_from([0.0, 1e-3, 1.3e-4, 0.02, 0.35]),
                                     min_size=n, max_size=n)))
    kind = np.array(draw(st.lists(st.sampled_from(kinds), min_size=n, max_size=n)),
                    dtype=np.int64)
    born = arrival - np.array(draw(st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n)))
    return arrival, service, kind, born


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data(), st.integers(1, 4), st.sampled_from([1.0, 0.1, 0.25, 0.3]))
def test_fast_paths_equal_plain_updates_bit_for_bit(data: st.DataObject, cores: int,
                                                    slot_s: float) -> None:
    """Windows of 1 s, stream a mostly one kind (the hot one; sometimes another), stream
    b mixed kinds, the horizon inside the last window, slots of 1 s and of 0.1 s (not a
    binary fraction: slot starts found float by float): counts, sums, maxima, histograms
    and slot series equal the plain kernel's exactly, over several calls."""
    n_kinds, horizon = 3, 3.7
    deadline = np.array([0.01, 0.1, 0.5])
    n_slots = int(np.ceil(horizon / slot_s - 1e-9))
    mine = {"counts": np.zeros((n_kinds, 3), np.int64), "stats": np.zeros((n_kinds, 3, 2)),
            "hist": np.zeros((n_kinds, 3, N_BINS), np.int64), "busy": np.zeros(n_slots),
            "wait": np.zeros(n_slots)}
    plain = {k: v.copy() for k, v in mine.items()}
    free = np.zeros(cores)
    plain_free = [0.0] * cores
    for w in range(4):
        a = data.draw(window_stream([0, 0, 0, 2], 0.0), label=f"a{w}")  # offsets + shift
        b = data.draw(window_stream([0, 1, 2], float(w)), label=f"b{w}")
        used_a, used_b, _, _ = serve_streams(
            a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], free, w + 1.0, horizon, deadline,
            mine["counts"], mine["stats"], mine["hist"], slot_s, mine["busy"], mine["wait"],
            None, None, float(w))
        plain_kernel(a, b, plain_free, w + 1.0, horizon, deadline, plain, slot_s, float(w))
        assert used_a == int((a[0] + w < w + 1.0).sum())
        assert used_b == int((b[0] < w + 1.0).sum())
        assert sorted(free.tolist()) == sorted(plain_free)
    for key in mine:
        np.testing.assert_array_equal(mine[key], plain[key], err_msg=key)


def test_exact_bin_tables_were_built() -> None:
    """`_bin` never decreases (checked at every grid point of its log2 table when the
    tables were built): otherwise the kernel falls back to `_bin` and loses its speed."""
    assert _EXACT


def test_exact_bins_equal_the_fast_logarithm_at_and_around_every_bin_start() -> None:
    """At each bin's first float, the float below and the float above, and on 200,000
    log-uniform values from 1e-8 s to 3e4 s (and 0, inf): `_bin_exact` == `_bin`."""
    starts = _BIN_START[1:-1]
    rng = np.random.default_rng(7)
    values = np.concatenate([starts, np.nextafter(starts, 0.0), np.nextafter(starts, np.inf),
                             10.0 ** rng.uniform(-8.0, 4.5, 200_000),
                             [0.0, 1e-7, 1e-3, 1.0, 1e4, np.inf]])
    got = np.array([_bin_exact(v) for v in values.tolist()])
    want = np.array([_bin(v) for v in values.tolist()])
    np.testing.assert_array_equal(got, want)
    # each start is where `_bin` steps up by exactly one bin
    below = np.array([_bin(v) for v in np.nextafter(starts, 0.0).tolist()])
    np.testing.assert_array_equal(np.array([_bin(v) for v in starts.tolist()]), below + 1)


def test_the_numpy_twin_that_builds_the_tables_bins_exactly_as_the_compiled_kernel() -> None:
    """`bin_of` (numpy, used at import) against `_bin` (compiled): at every bin start and
    its neighbours, at every grid point of the log2 table in the bins' range and the float
    below it, and on 200,000 log-uniform values; any difference would misplace tables."""
    starts = _BIN_START[1:-1]
    rng = np.random.default_rng(11)
    bits = np.arange(-30, 17, dtype=np.int64)[:, None] + 1022
    grid = ((bits << 52) | (np.arange(4096, dtype=np.int64)[None, :] << 40)).ravel()
    values = np.concatenate([starts, np.nextafter(starts, 0.0), np.nextafter(starts, np.inf),
                             grid.view(np.float64), (grid - 1).view(np.float64),
                             10.0 ** rng.uniform(-8.0, 4.5, 200_000),
                             [0.0, 5e-324, 1e-7, 1e-3, 1.0, 1e4, 1e300, np.inf]])
    want = np.array([_bin(v) for v in values.tolist()])
    np.testing.assert_array_equal(bin_of(values), want)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 100_000), st.sampled_from([1.0, 0.1, 0.3, 0.7, 2.5]))
def test_slot_start_is_the_first_time_the_slot_division_puts_in_slot_k(k: int,
                                                                       slot_s: float) -> None:
    """`_slot_start(k)` is the smallest t with int(t / slot_s) >= k: that float maps to
    slot k, the float below it to k - 1 (with 0.1 s slots, k x 0.1 is often a float or
    two away from it)."""
    t = _slot_start(k, slot_s)
    assert int(t / slot_s) == k
    assert int(np.nextafter(t, 0.0) / slot_s) == k - 1


def test_importing_the_kernels_compiles_and_runs_none_of_them() -> None:
    """The tables are built in numpy: after importing the kernel modules, no compiled
    function of theirs has a compiled signature (a traffic-only run never starts numba's
    compiler). Building the tables with a compiled function at import gave one."""
    code = ("from numba.core.dispatcher import Dispatcher\n"
            "from v2x_sim.compute import group_kernel, kernel_bins, pool_group, queueing\n"
            "from v2x_sim.compute import servers, streams\n"
            "modules = (group_kernel, kernel_bins, pool_group, queueing, servers, streams)\n"
            "print(sum(len(f.signatures) for m in modules for f in vars(m).values()\n"
            "          if isinstance(f, Dispatcher)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip() == "0"
