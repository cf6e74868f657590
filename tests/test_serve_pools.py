"""Serving independent pools on two threads gives exactly what serving them in turn gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import five_pools, random_stream

from v2x_sim.compute.servers import (
    Handover,
    ServerPool,
    Stream,
    _run_kernel,
    kernel_threads,
    serve_pools,
)


def test_two_threads_serve_exactly_as_one_after_another() -> None:
    serial, threaded = five_pools(4.0), five_pools(4.0)
    for window in range(4):
        rng = np.random.default_rng(window)
        fixed = [random_stream(rng, window, 300 + 50 * e, 0) for e in range(5)]
        batch = [random_stream(rng, window, 200, 1, payload=(e == 2)) for e in range(5)]
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


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("", 1), ("2", 2), ("64", 64)])
def test_kernel_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             value: str | None, threads: int) -> None:
    if value is None:
        monkeypatch.delenv("V2X_SIM_KERNEL_THREADS", raising=False)
    else:
        monkeypatch.setenv("V2X_SIM_KERNEL_THREADS", value)
    assert kernel_threads() == threads


def _step_by_step(pool: ServerPool, fixed: Stream, batch: Stream, end_s: float) -> Handover:
    """`ServerPool.serve` through the step-by-step path (merge, kernel, carry apart)."""
    job = pool._prepare_general(fixed, batch, end_s)
    return pool._finish(job, _run_kernel(job))


@pytest.mark.parametrize("content", ["none", "some", "all"])
def test_the_one_call_path_serves_exactly_as_the_step_by_step_path(content: str) -> None:
    """A pool's window runs as one compiled call (merge, kernel, new carry, hand-over).

    The same windows through the step-by-step path (the form it replaced, kept for
    unsorted input) must leave every accumulator, the carry and its content ids, a
    foreground message's start time and the content handed over identical: without
    content, with some messages carrying content ids (others -1), and with all.
    """
    one_call, steps = five_pools(4.0), five_pools(4.0)
    carried = handed = 0
    for window in range(6):
        rng = np.random.default_rng(100 + window)
        # a busy window then quiet ones: the carry holds messages across windows
        n = 900 if window == 1 else 150
        fixed = [random_stream(rng, window, n + 40 * e, 0) for e in range(5)]
        batch = [random_stream(rng, window + 0.5, n // 2, 1, payload=content != "none")
                 for e in range(5)]
        if content == "some":
            for b in batch:
                assert b.payload is not None
                b.payload[::3] = -1
        for a, b, f, m in zip(one_call, steps, fixed, batch, strict=True):
            h1 = a.serve(f, m, window, window + 1.0)
            h2 = _step_by_step(b, f, m, window + 1.0)
            for name in ("done_s", "payload", "kind"):
                assert getattr(h1, name).tobytes() == getattr(h2, name).tobytes(), name
            handed += len(h1)
            for name in ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
            for name in ("arrival_s", "service_s", "kind", "born_s"):
                assert np.array_equal(getattr(a.carry, name), getattr(b.carry, name)), name
            assert (a.carry.payload is None) == (b.carry.payload is None)
            if a.carry.payload is not None and b.carry.payload is not None:
                assert np.array_equal(a.carry.payload, b.carry.payload)
            for at in (window + 0.3, window + 0.97):
                assert a.start_time(at) == b.start_time(at)
            carried += len(a.carry)
    assert carried > 100  # messages did cross window boundaries
    assert one_call[0].counts.sum() > 1000
    assert (handed > 500) == (content != "none")


@pytest.mark.parametrize("content", [False, True])
def test_a_pattern_shifted_in_the_kernel_serves_as_its_shifted_copy(content: bool) -> None:
    """Periodic frames are given once as offsets from a window's start (`fixed_shift_s`).

    Against the same windows with the offsets added beforehand (the arrays the flows
    built before), every accumulator, the carry (frames arriving after the window's end
    are shifted into it), a foreground message's start time and the content handed over
    must be identical, at window starts whose sums round (not whole seconds), through
    `ServerPool.serve` and through `serve_pools` on two threads.
    """
    rng = np.random.default_rng(7)
    # a window's frames: sent in [0, 1), arriving up to 0.3 s later (some after the end)
    pattern = [random_stream(rng, 0.0, 400 + 300 * e, 0) for e in range(5)]
    for p in pattern:
        p.arrival_s = np.sort(p.arrival_s + rng.uniform(0.0, 0.3, len(p)))
    shifted, copied, threaded = five_pools(1300.0), five_pools(1300.0), five_pools(1300.0)
    carried = handed = 0
    for window in range(5):
        start = 1234.567 + 1.1 * window
        batch = [random_stream(np.random.default_rng(window), start + 0.2,
                               150 + 500 * (window == 1), 1, payload=content)
                 for _ in range(5)]
        copies = [Stream(p.arrival_s + start, p.service_s, p.kind, p.born_s + start)
                  for p in pattern]
        got = [pool.serve(p, b, start, start + 1.0, fixed_shift_s=start)
               for pool, p, b in zip(shifted, pattern, batch, strict=True)]
        want = [pool.serve(c, b, start, start + 1.0)
                for pool, c, b in zip(copied, copies, batch, strict=True)]
        two = serve_pools(threaded, pattern, batch, start + 1.0, threads=2,
                          fixed_shift_s=start)
        for h1, h2, h3 in zip(got, want, two, strict=True):
            for name in ("done_s", "payload", "kind"):
                assert getattr(h1, name).tobytes() == getattr(h2, name).tobytes(), name
                assert getattr(h3, name).tobytes() == getattr(h2, name).tobytes(), name
            handed += len(h1)
        for a, b, c in zip(shifted, copied, threaded, strict=True):
            for name in ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots"):
                assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
                assert getattr(c, name).tobytes() == getattr(b, name).tobytes(), name
            for name in ("arrival_s", "service_s", "kind", "born_s"):
                assert getattr(a.carry, name).tobytes() == getattr(b.carry, name).tobytes()
            for at in (start + 0.25, start + 0.99):
                assert a.start_time(at) == b.start_time(at) == c.start_time(at)
            carried += int(np.count_nonzero(a.carry.kind == 0))
    assert carried > 50  # frames did cross window ends into the carry
    assert shifted[3].counts[0, 0] > 1000
    assert (handed > 0) == content
