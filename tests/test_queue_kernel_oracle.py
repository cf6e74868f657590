"""The production queue kernel, message by message, against a plain-Python FIFO.

`compute.queueing.serve_streams` is what the simulator calls for every periodic message
(through `ServerPool.serve`). Here both of its streams are filled, windows cut the
streams (messages left for the next call, carried by the pool), the horizon leaves
messages in flight, and c = 1..8 cores. Each message gets its own kind index, so the
kernel's per-kind accumulators hold that one message's wait, processing time, latency,
lateness, fate and histogram bins, which are compared with the oracle below: FIFO by
arrival over both streams (the first stream first on equal arrivals), each message
taking the core that frees first.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from v2x_sim.compute.queueing import PROCESSING, QUEUE, TOTAL, _bin, serve_streams
from v2x_sim.compute.servers import ServerPool, Stream
from v2x_sim.metrics.histogram import N_BINS, bin_edges, bin_index

EDGES = bin_edges()


def reference_fifo(messages: list[tuple[float, float, float]], free: list[float]
                   ) -> tuple[list[tuple[float, float]], list[float]]:
    """Plain c-server FIFO over (arrival, service, born) in service order.

    Returns (begin, done) per message and the cores' free times afterwards.
    """
    free = list(free)
    out = []
    for arrival, service, _ in messages:
        j = min(range(len(free)), key=free.__getitem__)
        begin = max(arrival, free[j])
        free[j] = begin + service
        out.append((begin, begin + service))
    return out, free


def assert_same_bin(kernel_bin: int, value: float) -> None:
    """The kernel's bin equals `bin_index`, except within 1e-7 (relative) of a bin edge,
    where the neighbouring bin is allowed."""
    expected = int(bin_index(value)) if value >= 1e-7 else 0
    if kernel_bin == expected:
        return
    assert abs(kernel_bin - expected) == 1, (value, kernel_bin, expected)
    edge = EDGES[max(kernel_bin, expected)]
    assert abs(value - edge) <= 1e-7 * edge, (value, kernel_bin, expected)


def assert_message(k: int, counts: np.ndarray, stats: np.ndarray, hist: np.ndarray, *,
                   arrival: float, service: float, born: float, begin: float, done: float,
                   horizon_s: float, deadline_s: float) -> None:
    """Kind ``k`` holds exactly one message with these times."""
    if done > horizon_s:
        assert counts[k].tolist() == [0, 0, 1], (k, counts[k])
        assert not stats[k].any()
        assert not hist[k].any()
        return
    wait, total = begin - arrival, done - born
    assert counts[k].tolist() == [1, int(total > deadline_s), 0], (k, counts[k], total)
    assert stats[k, QUEUE, 0] == wait
    assert stats[k, PROCESSING, 0] == service
    assert stats[k, TOTAL, 0] == total
    assert stats[k, QUEUE, 1] == max(wait, 0.0)
    assert stats[k, TOTAL, 1] == max(total, 0.0)
    for hop, value in ((QUEUE, wait), (PROCESSING, service), (TOTAL, total)):
        assert hist[k, hop].sum() == 1
        assert_same_bin(int(np.flatnonzero(hist[k, hop])[0]), value)


# ---------------------------------------------------------------------------- strategies
@st.composite
def stream_draw(draw: st.DrawFn, first_kind: int, max_size: int = 25) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A sorted stream on quarter seconds (ties likely), services in [0, 2] s (zeros
    allowed), generation up to 1 s before arrival, its own kind per message."""
    n = draw(st.integers(1, max_size))
    arrival = np.sort(np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)),
                               dtype=np.float64)) / 4.0
    service = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 2.0)),
                                     min_size=n, max_size=n)))
    age = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    return arrival, service, arrival - age, first_kind + np.arange(n, dtype=np.int64)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data(), st.integers(1, 8))
def test_serve_streams_matches_the_reference_message_by_message(data: st.DataObject,
                                                                 cores: int) -> None:
    """One kernel call, both streams non-empty, the window end cutting both streams and
    the horizon cutting service: per message the wait, processing time, latency since
    generation, lateness against its own deadline and fate (delivered or in flight)
    equal the oracle's, and so do the consumed counts, busy and waiting sums, and the
    cores' free times after the call."""
    a = data.draw(stream_draw(0), label="stream a")
    b = data.draw(stream_draw(len(a[0])), label="stream b")
    n = len(a[0]) + len(b[0])
    free = np.array(data.draw(st.lists(st.floats(0.0, 3.0), min_size=cores, max_size=cores)))
    window_end = data.draw(st.floats(0.0, 12.0), label="window end")
    horizon = data.draw(st.floats(0.0, 20.0), label="horizon")
    deadline = np.array(data.draw(st.lists(st.floats(0.0, 4.0), min_size=n, max_size=n)))

    # the oracle: arrivals before the window end, by arrival, stream a first on ties
    rows = [(float(s[0][i]), tag, i) for tag, s in enumerate((a, b))
            for i in range(len(s[0])) if s[0][i] < window_end]
    rows.sort()
    streams = (a, b)
    messages = [(float(streams[tag][0][i]), float(streams[tag][1][i]),
                 float(streams[tag][2][i])) for _, tag, i in rows]
    times, free_after = reference_fifo(messages, free.tolist())

    counts = np.zeros((n, 3), np.int64)
    stats = np.zeros((n, 3, 2))
    hist = np.zeros((n, 3, N_BINS), np.int64)
    kernel_free = free.copy()
    used_a, used_b, busy, waited = serve_streams(
        a[0], a[1], a[3], a[2], b[0], b[1], b[3], b[2], kernel_free, window_end, horizon,
        deadline, counts, stats, hist)

    assert used_a == int((a[0] < window_end).sum())
    assert used_b == int((b[0] < window_end).sum())
    assert sorted(kernel_free.tolist()) == sorted(free_after)  # identical cores: a multiset
    assert np.isclose(busy, math.fsum(m[1] for m in messages), rtol=1e-12, atol=1e-12)
    assert np.isclose(waited, sum(t[0] - m[0] for t, m in zip(times, messages, strict=True)),
                      rtol=1e-12, atol=1e-12)
    served = set()
    for (_, tag, i), (arrival, service, born), (begin, done) in zip(rows, messages, times,
                                                                    strict=True):
        k = int(streams[tag][3][i])
        served.add(k)
        assert_message(k, counts, stats, hist, arrival=arrival, service=service, born=born,
                       begin=begin, done=done, horizon_s=horizon, deadline_s=deadline[k])
    for k in set(range(n)) - served:  # left for the next window: untouched
        assert not counts[k].any()
        assert not stats[k].any()
        assert not hist[k].any()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data(), st.integers(1, 8))
def test_serve_streams_per_kind_sums_maxima_and_bins(data: st.DataObject, cores: int) -> None:
    """Kinds shared by many messages (kind = message number mod 3, as in production):
    per kind, the delivered, late and in-flight counts, the sums and maxima of wait,
    processing and latency, and the histograms equal the oracle's aggregates."""
    a = data.draw(stream_draw(0), label="stream a")
    b = data.draw(stream_draw(len(a[0])), label="stream b")
    horizon = data.draw(st.floats(0.0, 20.0), label="horizon")
    deadline = np.array([0.5, 1.5, 3.0])
    rows = sorted([(float(s[0][i]), tag, i) for tag, s in enumerate((a, b))
                   for i in range(len(s[0]))])
    streams = (a, b)
    messages = [(float(streams[tag][0][i]), float(streams[tag][1][i]),
                 float(streams[tag][2][i])) for _, tag, i in rows]
    times, _ = reference_fifo(messages, [0.0] * cores)
    counts = np.zeros((3, 3), np.int64)
    stats = np.zeros((3, 3, 2))
    hist = np.zeros((3, 3, N_BINS), np.int64)
    expect_counts = np.zeros((3, 3), np.int64)
    values: list[list[list[float]]] = [[[], [], []] for _ in range(3)]
    for (_, tag, i), (arrival, service, born), (begin, done) in zip(rows, messages, times,
                                                                    strict=True):
        k = int(streams[tag][3][i]) % 3
        if done > horizon:
            expect_counts[k, 2] += 1
            continue
        expect_counts[k, 0] += 1
        expect_counts[k, 1] += int(done - born > deadline[k])
        for hop, value in ((QUEUE, begin - arrival), (PROCESSING, service),
                           (TOTAL, done - born)):
            values[k][hop].append(value)
    serve_streams(a[0], a[1], a[3] % 3, a[2], b[0], b[1], b[3] % 3, b[2], np.zeros(cores),
                  np.inf, horizon, deadline, counts, stats, hist)
    np.testing.assert_array_equal(counts, expect_counts)
    for k in range(3):
        for hop in (QUEUE, PROCESSING, TOTAL):
            got = values[k][hop]
            assert np.isclose(stats[k, hop, 0], math.fsum(got), rtol=1e-12, atol=1e-12)
            assert stats[k, hop, 1] == max(got, default=0.0)
            assert hist[k, hop].sum() == len(got)
            expected_bins = np.bincount([int(bin_index(v)) if v >= 1e-7 else 0 for v in got],
                                        minlength=N_BINS)
            # equal except for values within 1e-7 of an edge (checked per message above)
            assert np.abs(hist[k, hop] - expected_bins).sum() <= 2 * sum(
                min(abs(v - e) for e in EDGES[1:-1]) <= 1e-7 * v for v in got if v > 0)


def test_serve_streams_interleaves_the_streams_by_arrival() -> None:
    """One core, unit services. Stream a arrives at 0 and 2, stream b at 1: FIFO serves
    a0 [0, 1), b [1, 2), a1 [2, 3), so nobody waits and each latency is 1 s. Serving all
    of stream a first would make b wait 2 s (served [3, 4))."""
    counts = np.zeros((3, 3), np.int64)
    stats = np.zeros((3, 3, 2))
    hist = np.zeros((3, 3, N_BINS), np.int64)
    free = np.zeros(1)
    arr_a, arr_b = np.array([0.0, 2.0]), np.array([1.0])
    serve_streams(arr_a, np.ones(2), np.array([0, 1]), arr_a, arr_b, np.ones(1), np.array([2]),
                  arr_b, free, 10.0, 10.0, np.full(3, 5.0), counts, stats, hist)
    assert stats[:, QUEUE, 0].tolist() == [0.0, 0.0, 0.0]
    assert stats[:, TOTAL, 0].tolist() == [1.0, 1.0, 1.0]
    assert free.tolist() == [3.0]


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(st.floats(0.0, 2e4), st.floats(1e-8, 1e-6), st.floats(1e-4, 10.0),
                 st.sampled_from(EDGES[1:-1].tolist())))
def test_kernel_bin_equals_bin_index(value: float) -> None:
    """The kernel's fast logarithm bins like `bin_index`, except within 1e-7 of an edge."""
    assert_same_bin(int(_bin(value)), value)


def test_kernel_bin_on_hand_values() -> None:
    """50 bins per decade from 1e-7 s: 1 ms = 10^-3 is 4 decades up, the lower edge of
    bin 4 x 50 + 1 = 201; 1.5 ms is log10(1.5) x 50 = 8.8 bins further: bin 209; 1 s:
    bin 351; below 1e-7 s: bin 0; 1e4 s and above: the overflow bin N_BINS - 1 = 551."""
    assert int(_bin(1.0e-3 * (1 + 1e-6))) == 201
    assert int(_bin(1.5e-3)) == 209
    assert int(_bin(1.0 * (1 + 1e-6))) == 351
    assert int(_bin(5e-8)) == 0
    assert int(_bin(1e4)) == N_BINS - 1 == 551


def test_a_wait_just_above_the_first_edge_gets_its_log_bin() -> None:
    """One core; two messages at 0 s, the first served in 150 ns: the second waits
    1.5e-7 s, log10(1.5) x 50 = 8.8 bins above 1e-7 s: bin 9 (only waits under 1e-7 s
    go to bin 0)."""
    counts = np.zeros((2, 3), np.int64)
    stats = np.zeros((2, 3, 2))
    hist = np.zeros((2, 3, N_BINS), np.int64)
    serve_streams(np.zeros(2), np.array([1.5e-7, 1e-3]), np.array([0, 1]), np.zeros(2),
                  np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(1),
                  1.0, 10.0, np.ones(2), counts, stats, hist)
    assert stats[1, QUEUE, 0] == 1.5e-7
    assert np.flatnonzero(hist[1, QUEUE]).tolist() == [9]
    assert np.flatnonzero(hist[0, QUEUE]).tolist() == [0]


# ---------------------------------------------------------------------------- the pool
@st.composite
def windowed_streams(draw: st.DrawFn) -> dict:
    """Windows [t_k, t_{k+1}) on whole seconds, each with a fixed and a batch stream
    arriving in [t_k, t_k + 3) (so many arrive after the window and are carried).
    Arrivals are a whole second plus a tag (2 k + s + 1) / 32 unique to window k and
    stream s: ties happen only inside one window's stream, where order is the stream's."""
    windows = draw(st.integers(1, 5))
    ends = np.cumsum(draw(st.lists(st.integers(1, 3), min_size=windows, max_size=windows)))
    starts = np.concatenate(([0], ends[:-1]))
    parts, kind = [], 0
    for k in range(windows):
        pair = []
        for s in range(2):
            n = draw(st.integers(0, 8))
            whole = np.sort(np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                                     dtype=np.float64))
            arrival = starts[k] + whole + (2 * k + s + 1) / 32.0
            service = np.array(draw(st.lists(st.floats(0.0, 1.5), min_size=n, max_size=n)))
            age = np.array(draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n)))
            pair.append(Stream(arrival, service, kind + np.arange(n, dtype=np.int64),
                               arrival - age))
            kind += n
        parts.append(pair)
    return {"parts": parts, "starts": starts.astype(float), "ends": ends.astype(float),
            "n": kind}


def reference_order(parts: list, window_end: float) -> list[tuple[float, float, float, int]]:
    """Every message of the served windows arriving before the last window's end, by
    arrival (unique across window-stream groups), each group in its own order."""
    rows = []
    for k, pair in enumerate(parts):
        for s, stream in enumerate(pair):
            for i in range(len(stream)):
                if stream.arrival_s[i] < window_end:
                    rows.append((float(stream.arrival_s[i]), k, s, i, float(stream.service_s[i]),
                                 float(stream.born_s[i]), int(stream.kind[i])))
    rows.sort()
    return [(r[0], r[4], r[5], r[6]) for r in rows]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(windowed_streams(), st.integers(1, 8), st.floats(0.0, 20.0), st.data())
def test_server_pool_with_both_streams_matches_the_reference(run: dict, cores: int,
                                                             horizon: float,
                                                             data: st.DataObject) -> None:
    """`ServerPool.serve` window by window with both streams filled: every message that
    arrived before the last window's end is served as the oracle serves the whole sequence
    at once (carry-over between windows included); those arriving later wait in the carry
    (`pending`), those finishing after the horizon count as in flight."""
    n = run["n"]
    deadline = np.array(data.draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n)))
    pool = ServerPool("edge", cores, deadline, horizon)
    for (fixed, batch), start, end in zip(run["parts"], run["starts"], run["ends"],
                                          strict=True):
        pool.serve(fixed, batch, start, end)
    last_end = float(run["ends"][-1])
    messages = reference_order(run["parts"], last_end)
    times, free_after = reference_fifo([m[:3] for m in messages], [0.0] * cores)
    assert sorted(pool.free_s.tolist()) == sorted(free_after)
    for (arrival, service, born, k), (begin, done) in zip(messages, times, strict=True):
        assert_message(k, pool.counts, pool.stats, pool.hist, arrival=arrival,
                       service=service, born=born, begin=begin, done=done, horizon_s=horizon,
                       deadline_s=deadline[k])
    served = {m[3] for m in messages}
    pending = pool.pending()
    for k in range(n):
        assert pending[k] == (0 if k in served else 1), k
        if k not in served:
            assert not pool.counts[k].any()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(windowed_streams(), st.integers(1, 8), st.data())
def test_start_time_with_both_streams_matches_the_reference(run: dict, cores: int,
                                                            data: st.DataObject) -> None:
    """A foreground message at t inside the last window starts when the oracle, fed every
    message of both streams arriving before t, first frees a core (and never before t)."""
    pool = ServerPool("edge", cores, np.ones(max(run["n"], 1)), 1e3)
    for (fixed, batch), start, end in zip(run["parts"], run["starts"], run["ends"],
                                          strict=True):
        pool.serve(fixed, batch, start, end)
    low, high = float(run["starts"][-1]), float(run["ends"][-1])
    t = low + data.draw(st.floats(0.0, 1.0)) * (high - low)
    messages = reference_order(run["parts"], t)
    _, free = reference_fifo([m[:3] for m in messages], [0.0] * cores)
    assert pool.start_time(t) == max(t, min(free))
