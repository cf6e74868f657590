"""The edge queue against queueing theory, and the FIFO kernels against their oracles.

Statistical checks drive the real `ServerPool` window by window (carry-over included) and
require the theoretical mean wait to lie inside a 99 % Student-t confidence interval over
seeded replications: Erlang C for M/M/c, Pollaczek-Khinchine for M/D/1 and M/G/1, and the
embedded Markov chain N(t + D) = max(N(t) - c, 0) + Poisson(lambda D) for M/D/c.
Exact checks (Hypothesis) prove the vectorised and compiled recursions equal to plain
loops, the windowed pool equal to one window, and the pool's accounting consistent.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from v2x_sim.compute.queueing import (
    QUEUE,
    fifo_departures,
    multi_server_fifo,
    multi_server_fifo_reference,
)
from v2x_sim.compute.servers import ServerPool, Stream
from v2x_sim.compute.service import draw_service_s
from v2x_sim.scenario.v2x_sections import ServiceDistribution, ServiceParams

SEEDS = range(12)
"""Replication seeds, fixed: each case runs one replication per seed."""
CONFIDENCE = 0.99
WINDOW_S = 1.0
HORIZON_S = 1000.0
"""Horizon of the exact checks: past every departure, so every message is delivered."""
RUN_MARGIN_S = 60.0
"""Horizon of a statistical run beyond its last window: every departure falls inside."""
MEAN_SERVICE_S = 1e-3
WARM_UP_SHARE = 0.1
"""Share of the windows served before measuring starts (the queue starts empty)."""
CUSTOMERS = {0.5: 300_000, 0.8: 500_000, 0.9: 1_000_000}
"""Arrivals per replication by utilisation: heavier traffic relaxes more slowly."""

EXPONENTIAL = ServiceParams(mean_s=MEAN_SERVICE_S, distribution=ServiceDistribution.EXPONENTIAL)
DETERMINISTIC = ServiceParams(mean_s=MEAN_SERVICE_S,
                              distribution=ServiceDistribution.DETERMINISTIC)


# ---------------------------------------------------------------------------- oracles
def erlang_c(cores: int, offered: float) -> float:
    """Erlang C: probability an arrival waits in M/M/c with offered load a = lambda / mu.

    Stable recursion through Erlang B, B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), then
    C = c B / (c - a (1 - B)); no factorials or powers that overflow.
    """
    blocking = 1.0
    for k in range(1, cores + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return cores * blocking / (cores - offered * (1.0 - blocking))


def mmc_wait_s(rate_hz: float, mean_service_s: float, cores: int) -> float:
    """M/M/c mean wait: W_q = C(c, a) / (c mu - lambda)."""
    mu = 1.0 / mean_service_s
    return erlang_c(cores, rate_hz / mu) / (cores * mu - rate_hz)


def mg1_wait_s(rate_hz: float, service: ServiceParams) -> float:
    """Pollaczek-Khinchine: W_q = lambda E[S^2] / (2 (1 - rho)).

    E[S^2] written out here, not taken from the code under test: D^2 (deterministic),
    2 m^2 (exponential), m^2 (1 + cv^2) (lognormal with mean m and variation cv).
    """
    rho = rate_hz * service.mean_s
    m = service.mean_s
    second = {ServiceDistribution.DETERMINISTIC: m**2, ServiceDistribution.EXPONENTIAL: 2 * m**2,
              ServiceDistribution.LOGNORMAL: m**2 * (1 + service.cv**2)}[service.distribution]
    return rate_hz * second / (2.0 * (1.0 - rho))


def mdc_wait_s(rate_hz: float, service_s: float, cores: int, states: int = 800) -> float:
    """M/D/c mean wait from the number in system N sampled every D (Crommelin).

    All (at most c) customers in service at t leave by t + D, nobody else does, and every
    arrival in (t, t + D] is still there: N(t + D) = max(N(t) - c, 0) + Poisson(lambda D).
    That holds from any t, so the chain's stationary law is the time-stationary law of N;
    then L_q = E[max(N - c, 0)] and W_q = L_q / lambda (Little). ``states`` truncates N.
    """
    pmf = stats.poisson.pmf(np.arange(states), rate_hz * service_s)
    step = np.zeros((states, states))
    for n in range(states):
        low = max(n - cores, 0)
        step[n, low:] = pmf[: states - low]
        step[n, -1] += 1.0 - step[n].sum()
    system = step.T - np.eye(states)
    system[-1, :] = 1.0
    rhs = np.zeros(states)
    rhs[-1] = 1.0
    law = np.linalg.solve(system, rhs)
    return float(law @ np.maximum(np.arange(states) - cores, 0)) / rate_hz


def test_oracles_match_hand_values() -> None:
    """Erlang C: C(1, rho) = rho and C(2, 1) = 1/3 by hand; the M/D/c chain at c = 1
    reproduces Pollaczek-Khinchine rho / (2 mu (1 - rho)).
    """
    assert erlang_c(1, 0.8) == pytest.approx(0.8, rel=1e-12)
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0, rel=1e-12)
    for rho in (0.5, 0.8, 0.9):
        rate = rho / MEAN_SERVICE_S
        expected = rho / (2.0 / MEAN_SERVICE_S * (1.0 - rho))
        assert mg1_wait_s(rate, DETERMINISTIC) == pytest.approx(expected, rel=1e-12)
        assert mdc_wait_s(rate, MEAN_SERVICE_S, 1) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------- harness
def pool_replication(*, cores: int, rate_hz: float, service: ServiceParams, seed: int,
                     customers: int) -> tuple[float, float]:
    """Mean queueing wait and busy share of one replication through a `ServerPool`.

    Poisson arrivals: per 1 s window a Poisson count placed uniformly and sorted, passed
    as the window's batch (empty fixed stream) so arrivals past the window end carry over.
    The first `WARM_UP_SHARE` of the windows is served but not measured; the busy share
    is the mean `ServerPool.utilisation` over the measured windows' slots.
    """
    arrival_rng, service_rng = (np.random.default_rng(s)
                                for s in np.random.SeedSequence(seed).spawn(2))
    windows = math.ceil(customers / (rate_hz * WINDOW_S))
    pool = ServerPool("edge-test", cores, np.ones(1), windows * WINDOW_S + RUN_MARGIN_S,
                      slot_s=WINDOW_S)
    warm_up = int(windows * WARM_UP_SHARE)
    waited_before, served_before = 0.0, 0
    for w in range(windows):
        if w == warm_up:
            waited_before, served_before = pool.stats[0, QUEUE, 0], pool.counts[0, 0]
        start = w * WINDOW_S
        n = int(arrival_rng.poisson(rate_hz * WINDOW_S))
        arrival = np.sort(start + WINDOW_S * arrival_rng.random(n))
        batch = Stream(arrival, draw_service_s(service, n, service_rng),
                       np.zeros(n, np.int64), arrival)
        pool.serve(Stream(), batch, start, start + WINDOW_S)
    assert pool.counts[0, 2] == 0
    busy = pool.utilisation()[warm_up:windows]
    return (float((pool.stats[0, QUEUE, 0] - waited_before)
                  / (pool.counts[0, 0] - served_before)), float(busy.mean()))


@functools.cache
def replicated(*, cores: int, rate_hz: float, service: ServiceParams,
               customers: int) -> tuple[np.ndarray, np.ndarray]:
    """`pool_replication` once per seed in `SEEDS`: (mean waits, busy shares), cached."""
    runs = np.array([pool_replication(cores=cores, rate_hz=rate_hz, service=service,
                                      seed=seed, customers=customers) for seed in SEEDS])
    return runs[:, 0], runs[:, 1]


def replicated_waits_s(*, cores: int, rate_hz: float, service: ServiceParams,
                       customers: int) -> np.ndarray:
    """The replications' mean waits (seconds)."""
    return replicated(cores=cores, rate_hz=rate_hz, service=service, customers=customers)[0]


def confidence_interval(samples: np.ndarray) -> tuple[float, float]:
    """Two-sided Student-t interval for the mean at `CONFIDENCE`."""
    half = (stats.t.ppf(0.5 + CONFIDENCE / 2.0, samples.size - 1)
            * samples.std(ddof=1) / math.sqrt(samples.size))
    return float(samples.mean() - half), float(samples.mean() + half)


def assert_theory_inside(samples: np.ndarray, theory: float) -> None:
    """The theoretical value lies in the 99 % interval of the replication means."""
    low, high = confidence_interval(samples)
    assert low <= theory <= high, (
        f"theory {theory:.6g} outside 99 % CI [{low:.6g}, {high:.6g}] "
        f"(mean {samples.mean():.6g} over {samples.size} seeds)")


# ---------------------------------------------------------------------------- theory
@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("cores", [1, 4, 8])
def test_edge_queue_mmc_wait_matches_erlang_c(cores: int, rho: float) -> None:
    """M/M/c through the edge pool: W_q = C(c, a) / (c mu - lambda) lies in the 99 % CI."""
    rate = rho * cores / MEAN_SERVICE_S
    waits = replicated_waits_s(cores=cores, rate_hz=rate, service=EXPONENTIAL,
                               customers=CUSTOMERS[rho])
    assert_theory_inside(waits, mmc_wait_s(rate, MEAN_SERVICE_S, cores))


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("cores", [1, 4, 8])
def test_edge_queue_busy_share_matches_offered_load(cores: int, rho: float) -> None:
    """M/M/c through the edge pool: the time-mean busy share of the cores
    (`ServerPool.utilisation`) has rho = lambda / (c mu) inside its 99 % CI.
    """
    rate = rho * cores / MEAN_SERVICE_S
    _, busy = replicated(cores=cores, rate_hz=rate, service=EXPONENTIAL,
                         customers=CUSTOMERS[rho])
    assert_theory_inside(busy, rho)


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
def test_edge_queue_md1_wait_matches_pollaczek_khinchine(rho: float) -> None:
    """M/D/1 through the edge pool: W_q = rho / (2 mu (1 - rho)) lies in the 99 % CI."""
    rate = rho / MEAN_SERVICE_S
    waits = replicated_waits_s(cores=1, rate_hz=rate, service=DETERMINISTIC,
                               customers=CUSTOMERS[rho])
    assert_theory_inside(waits, rho * MEAN_SERVICE_S / (2.0 * (1.0 - rho)))


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("cores", [4, 8])
def test_edge_queue_mdc_wait_matches_embedded_chain(cores: int, rho: float) -> None:
    """M/D/c through the edge pool: the exact chain's W_q (`mdc_wait_s`) lies in the CI."""
    rate = rho * cores / MEAN_SERVICE_S
    waits = replicated_waits_s(cores=cores, rate_hz=rate, service=DETERMINISTIC,
                               customers=CUSTOMERS[rho])
    assert_theory_inside(waits, mdc_wait_s(rate, MEAN_SERVICE_S, cores))


@pytest.mark.parametrize("cv", [0.5, 2.0])
@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_edge_queue_mg1_lognormal_wait_matches_pollaczek_khinchine(rho: float,
                                                                   cv: float) -> None:
    """M/G/1, lognormal service from `draw_service_s`: lambda E[S^2] / (2 (1 - rho)) in CI."""
    service = ServiceParams(mean_s=MEAN_SERVICE_S, distribution=ServiceDistribution.LOGNORMAL,
                            cv=cv)
    rate = rho / MEAN_SERVICE_S
    waits = replicated_waits_s(cores=1, rate_hz=rate, service=service,
                               customers=CUSTOMERS[rho])
    assert_theory_inside(waits, mg1_wait_s(rate, service))


# ---------------------------------------------------------------------------- strategies
@st.composite
def arrival_runs(draw: st.DrawFn, max_size: int = 40) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Sorted arrivals (ties likely: quarter seconds), services (zero allowed), kinds."""
    n = draw(st.integers(0, max_size))
    quarters = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    services = draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))
    kinds = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return (np.sort(np.array(quarters, dtype=np.float64)) / 4.0,
            np.array(services, dtype=np.float64), np.array(kinds, dtype=np.int64))


@st.composite
def windowed(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int],
                                       list[float]]:
    """An arrival run split arbitrarily into batches, with valid window ends.

    Batch k holds positions cuts[k]:cuts[k + 1]; window k ends anywhere between the end
    of window k - 1 and the first arrival of any later batch (so no message can be given
    to the pool after a later one was served), the last one after every arrival.
    """
    arrival, service, kind = draw(arrival_runs())
    n = arrival.size
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    bounds = [0, *cuts, n]
    ends: list[float] = []
    low = 0.0
    for k in range(len(bounds) - 2):
        later = arrival[bounds[k + 1]:]
        high = float(later[0]) if later.size else low + 2.0
        end = low + draw(st.floats(0.0, 1.0)) * (high - low)
        end = min(max(end, low), high)
        ends.append(end)
        low = end
    ends.append(max(low, float(arrival[-1]) if n else 0.0) + 1.0)
    return arrival, service, kind, bounds, ends


def stream_of(arrival: np.ndarray, service: np.ndarray, kind: np.ndarray) -> Stream:
    """A stream whose messages were born on arrival."""
    return Stream(arrival, service, kind, arrival.copy())


def serve_windows(pool: ServerPool, run: tuple, upto: int | None = None) -> list[float]:
    """Serve the batches of a `windowed` draw (the first ``upto`` windows); window starts."""
    arrival, service, kind, bounds, ends = run
    starts = [0.0, *ends[:-1]]
    last = len(ends) if upto is None else upto
    for k in range(last):
        part = slice(bounds[k], bounds[k + 1])
        pool.serve(Stream(), stream_of(arrival[part], service[part], kind[part]),
                   starts[k], ends[k])
    return starts


DEADLINES_S = np.array([0.5, 1.0, 2.0])


# ---------------------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(arrival_runs(), st.floats(0.0, 5.0))
def test_fifo_departures_equals_lindley_loop(run: tuple, free_at_s: float) -> None:
    """fifo_departures equals the plain loop d[n] = max(a[n], d[n-1]) + s[n], d[-1] = free."""
    arrival, service, _ = run
    expected = []
    previous = free_at_s
    for a, s in zip(arrival.tolist(), service.tolist(), strict=True):
        previous = max(a, previous) + s
        expected.append(previous)
    got = fifo_departures(arrival, service, free_at_s)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(arrival_runs(), st.integers(1, 6), st.data())
def test_multi_server_fifo_equals_reference(run: tuple, cores: int,
                                            data: st.DataObject) -> None:
    """The compiled Kiefer-Wolfowitz kernel equals the plain-Python loop exactly."""
    arrival, service, _ = run
    free = np.array(data.draw(st.lists(st.floats(0.0, 5.0), min_size=cores,
                                       max_size=cores)))
    start, depart, free_after = multi_server_fifo(arrival, service, free)
    ref_start, ref_depart, ref_free = multi_server_fifo_reference(arrival, service, free)
    np.testing.assert_array_equal(start, ref_start)
    np.testing.assert_array_equal(depart, ref_depart)
    np.testing.assert_array_equal(free_after, ref_free)
    assert np.all(start >= arrival)


@settings(max_examples=200, deadline=None)
@given(windowed(), st.integers(1, 6))
def test_windowed_pool_equals_one_window(run: tuple, cores: int) -> None:
    """A sorted sequence split across serve windows (with carry) is served exactly as in
    one window: same per-kind counts, wait/processing/latency sums and maxima, histograms,
    busy and waiting time per slot, and server free times; nothing is left in the carry.
    """
    arrival, service, kind, _, ends = run
    windows = ServerPool("split", cores, DEADLINES_S, HORIZON_S)
    serve_windows(windows, run)
    whole = ServerPool("whole", cores, DEADLINES_S, HORIZON_S)
    whole.serve(Stream(), stream_of(arrival, service, kind), 0.0, ends[-1])
    np.testing.assert_array_equal(windows.counts, whole.counts)
    np.testing.assert_array_equal(windows.stats, whole.stats)
    np.testing.assert_array_equal(windows.hist, whole.hist)
    np.testing.assert_array_equal(windows.busy_slots, whole.busy_slots)
    np.testing.assert_array_equal(windows.wait_slots, whole.wait_slots)
    np.testing.assert_array_equal(windows.free_s, whole.free_s)
    assert len(windows.carry) == 0
    assert windows.counts[:, 0].sum() == arrival.size


@st.composite
def two_sorted_streams(draw: st.DrawFn) -> tuple[Stream, Stream]:
    """Two sorted streams on half seconds (ties within and across), labelled by index."""
    sizes = (draw(st.integers(0, 30)), draw(st.integers(0, 30)))
    streams = []
    offset = 0
    for n in sizes:
        arrival = np.sort(np.array(draw(st.lists(st.integers(0, 20), min_size=n,
                                                 max_size=n)), dtype=np.float64)) / 2.0
        label = np.arange(offset, offset + n)
        streams.append(Stream(arrival, label.astype(np.float64), label % 3,
                              -label.astype(np.float64)))
        offset += n
    return streams[0], streams[1]


@settings(max_examples=300, deadline=None)
@given(two_sorted_streams())
def test_stream_merged_is_stable_sort_of_concatenation(pair: tuple[Stream, Stream]) -> None:
    """Stream.merged(a, b) equals a stable sort of a then b by arrival (a first on ties)."""
    first, second = pair
    merged = Stream.merged(first, second)
    order = np.argsort(np.concatenate([first.arrival_s, second.arrival_s]), kind="stable")
    for column in ("arrival_s", "service_s", "kind", "born_s"):
        expected = np.concatenate([getattr(first, column), getattr(second, column)])[order]
        np.testing.assert_array_equal(getattr(merged, column), expected)


def overlap_per_slot(begin_s: np.ndarray, end_s: np.ndarray, slot_s: float,
                     horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of the intervals [begin, end) inside each slot [k slot, (k+1) slot) cut
    at the horizon; returns (overlaps, slot lengths).
    """
    edges = np.minimum(np.arange(math.ceil(horizon_s / slot_s) + 1) * slot_s, horizon_s)
    low, high = edges[:-1], edges[1:]
    inside = (np.minimum(end_s[:, None], high) - np.maximum(begin_s[:, None], low))
    return np.clip(inside, 0.0, None).sum(axis=0), high - low


@settings(max_examples=200, deadline=None)
@given(windowed(), st.integers(1, 6), st.sampled_from([0.25, 0.5, 1.0, 2.0]),
       st.integers(1, 60))
def test_utilisation_is_busy_share_within_unit_interval(run: tuple, cores: int,
                                                        slot_s: float, slots: int) -> None:
    """At any load (overload included), utilisation per slot is the core time busy inside
    the slot over cores x slot length, hence within [0, 1]; queue_length is the waiting
    time inside the slot over its length (oracle: the reference FIFO's start times).
    Horizons here are whole numbers of slots (the next test covers a cut last slot).
    """
    arrival, service = run[0], run[1]
    horizon_s = slots * slot_s
    pool = ServerPool("edge", cores, DEADLINES_S, horizon_s, slot_s=slot_s)
    serve_windows(pool, run)
    start, depart, _ = multi_server_fifo_reference(arrival, service, np.zeros(cores))
    busy, length = overlap_per_slot(start, depart, slot_s, horizon_s)
    waiting, _ = overlap_per_slot(arrival, start, slot_s, horizon_s)
    util = pool.utilisation()
    assert np.all(util >= 0.0)
    assert np.all(util <= 1.0 + 1e-12)
    np.testing.assert_allclose(util, busy / (cores * length), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pool.queue_length(), waiting / length, rtol=1e-9, atol=1e-12)


def test_utilisation_counts_core_time_inside_each_slot() -> None:
    """One core, a 1.5 s job arriving at 0 (mean load 0.75 over two 1 s slots): the busy
    shares are [1.0, 0.5], whichever window served the job.
    """
    pool = ServerPool("edge", 1, np.ones(1), 2.0, slot_s=1.0)
    job = stream_of(np.array([0.0]), np.array([1.5]), np.zeros(1, np.int64))
    pool.serve(Stream(), job, 0.0, 1.0)
    pool.serve(Stream(), Stream(), 1.0, 2.0)
    np.testing.assert_allclose(pool.utilisation(), [1.0, 0.5], rtol=1e-12)


def test_utilisation_within_unit_interval_when_horizon_cuts_a_slot() -> None:
    """With a horizon that is not a whole number of slots, the last (shorter) slot's
    utilisation is still the busy share inside it, at most 1.
    """
    pool = ServerPool("edge", 1, np.ones(1), 1.5, slot_s=1.0)
    job = stream_of(np.array([1.0]), np.array([1.0]), np.zeros(1, np.int64))
    pool.serve(Stream(), job, 0.0, 1.0)
    pool.serve(Stream(), Stream(), 1.0, 1.5)
    np.testing.assert_allclose(pool.utilisation(), [0.0, 1.0], atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(windowed(), st.integers(1, 6))
def test_littles_law_is_an_identity_of_the_accounting(run: tuple, cores: int) -> None:
    """Time-mean number waiting over the run (queue_length x slot length / horizon)
    equals lambda x W_q of the same run, lambda = served / horizon, W_q = wait sum /
    served; likewise the busy slots add up to the processing-time sum.
    """
    arrival = run[0]
    pool = ServerPool("edge", cores, DEADLINES_S, HORIZON_S)
    serve_windows(pool, run)
    mean_queue = float((pool.queue_length() * pool.slot_length_s).sum() / HORIZON_S)
    served = int(pool.counts[:, 0].sum())
    assert served == arrival.size
    assert pool.counts[:, 2].sum() == 0
    if served == 0:
        assert mean_queue == 0.0
        return
    wait_mean_s = pool.stats[:, QUEUE, 0].sum() / served
    assert mean_queue == pytest.approx(served / HORIZON_S * wait_mean_s, rel=1e-9,
                                       abs=1e-12)
    busy_s = (pool.utilisation() * pool.cores * pool.slot_length_s).sum()
    assert busy_s == pytest.approx(float(pool.stats[:, 1, 0].sum()), rel=1e-9, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(windowed(), st.integers(1, 6), st.data())
def test_start_time_matches_reference_fifo_on_prefix(run: tuple, cores: int,
                                                     data: st.DataObject) -> None:
    """A foreground message at t (inside the last served window) starts when a FIFO of
    c servers, fed every background arrival before t from time 0, first frees a server,
    and never before t; asking does not change the pool.
    """
    arrival, service, _, _, ends = run
    upto = data.draw(st.integers(1, len(ends)), label="windows served")
    pool = ServerPool("edge", cores, DEADLINES_S, HORIZON_S)
    starts = serve_windows(pool, run, upto)
    low, high = starts[upto - 1], ends[upto - 1]
    t = low + data.draw(st.floats(0.0, 1.0), label="where in the window") * (high - low)
    t = min(max(t, low), high)
    before = arrival < t
    _, _, free = multi_server_fifo_reference(arrival[before], service[before],
                                             np.zeros(cores))
    free_before = pool.free_s.copy()
    got = pool.start_time(t)
    assert got == max(t, float(free.min()))
    assert got >= t
    np.testing.assert_array_equal(pool.free_s, free_before)
    assert pool.start_time(t) == got
