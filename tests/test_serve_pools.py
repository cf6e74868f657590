"""Serving independent pools on two threads gives exactly what serving them in turn gives."""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.compute.servers import ServerPool, Stream, kernel_threads, serve_pools


def _stream(rng: np.random.Generator, start: float, n: int, kind: int,
            payload: bool = False) -> Stream:
    born = np.sort(start + rng.random(n))
    arrival = born + rng.exponential(0.002, n)
    order = np.argsort(arrival, kind="stable")
    return Stream(arrival[order], rng.exponential(0.004, n), np.full(n, kind, np.int64),
                  born[order], np.arange(n, dtype=np.int64) if payload else None)


def _pools() -> list[ServerPool]:
    return [ServerPool(f"edge-{e}", cores, np.array([0.01, 0.02, 0.05]), 4.0)
            for e, cores in enumerate((1, 2, 3, 8, 2))]


def test_two_threads_serve_exactly_as_one_after_another() -> None:
    serial, threaded = _pools(), _pools()
    for window in range(4):
        rng = np.random.default_rng(window)
        fixed = [_stream(rng, window, 300 + 50 * e, 0) for e in range(5)]
        batch = [_stream(rng, window, 200, 1, payload=(e == 2)) for e in range(5)]
        one = [pool.serve(f, b, window, window + 1.0)
               for pool, f, b in zip(serial, fixed, batch, strict=True)]
        two = serve_pools(threaded, fixed, batch, window + 1.0, threads=2)
        for h1, h2 in zip(one, two, strict=True):
            assert np.array_equal(h1.done_s, h2.done_s)
            assert np.array_equal(h1.payload, h2.payload)
    handed = sum(len(h) for h in two)
    assert handed > 0  # the content-carrying stream was handed over
    for a, b in zip(serial, threaded, strict=True):
        for name in ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(a.carry.arrival_s, b.carry.arrival_s)
    assert serial[0].counts.sum() > 0


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("2", 2), ("0", 1), ("x", 1)])
def test_kernel_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             value: str | None, threads: int) -> None:
    if value is None:
        monkeypatch.delenv("V2X_SIM_KERNEL_THREADS", raising=False)
    else:
        monkeypatch.setenv("V2X_SIM_KERNEL_THREADS", value)
    assert kernel_threads() == threads


def _no_content(stream: Stream) -> Stream:
    """The same messages marked as carrying no content (-1): the general path serves them."""
    return Stream(stream.arrival_s, stream.service_s, stream.kind, stream.born_s,
                  np.full(len(stream), -1, np.int64))


def test_the_one_call_path_serves_exactly_as_the_general_path() -> None:
    """Streams without content take one compiled call (merge, kernel, new carry).

    Content ids of -1 mean "no content" but send the same messages down the general
    path (merge, kernel and carry as separate steps): every accumulator, the carry
    across windows and a foreground message's start time must be identical.
    """
    plain, general = _pools(), _pools()
    carried = 0
    for window in range(6):
        rng = np.random.default_rng(100 + window)
        # a busy window then quiet ones: the carry holds messages across windows
        n = 900 if window == 1 else 150
        fixed = [_stream(rng, window, n + 40 * e, 0) for e in range(5)]
        batch = [_stream(rng, window + 0.5, n // 2, 1) for e in range(5)]
        for pool, f, b in zip(plain, fixed, batch, strict=True):
            assert not len(pool.serve(f, b, window, window + 1.0))
        for pool, f, b in zip(general, fixed, batch, strict=True):
            assert not len(pool.serve(f, _no_content(b), window, window + 1.0))
        for a, b in zip(plain, general, strict=True):
            for name in ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
            for name in ("arrival_s", "service_s", "kind", "born_s"):
                assert np.array_equal(getattr(a.carry, name), getattr(b.carry, name)), name
            for at in (window + 0.3, window + 0.97):
                assert a.start_time(at) == b.start_time(at)
            carried += len(a.carry)
    assert carried > 100  # messages did cross window boundaries
    assert plain[0].counts.sum() > 1000
