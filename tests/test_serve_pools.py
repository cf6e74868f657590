"""Serving the edge nodes together (one compiled call a window) gives what serving each does.

A `PoolGroup` keeps the pools' state in stacked and flat arrays and serves a window of
all of them in one call, one node after another; `pool_split.SplitPoolGroup` cuts the
nodes into parts, each such a group, served at once on threads. Against
the same windows served pool by pool (`ServerPool.serve`, the form it replaced), every
hand-over, accumulator, slot series, carry (with its content ids) and foreground start
time must be identical, bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import five_pools, random_stream

from v2x_sim.cli import main
from v2x_sim.compute.pool_group import PoolGroup
from v2x_sim.compute.pool_split import SplitPoolGroup, balanced_cuts, edge_queues
from v2x_sim.compute.servers import Handover, ServerPool, Stream, _run_kernel, kernel_threads
from v2x_sim.compute.streams import StreamSet

STATE = ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots")


def _same_pools(a: ServerPool, b: ServerPool) -> None:
    for name in STATE:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    for name in ("arrival_s", "service_s", "kind", "born_s"):
        assert getattr(a.carry, name).tobytes() == getattr(b.carry, name).tobytes(), name
    assert (a.carry.payload is None) == (b.carry.payload is None)
    if a.carry.payload is not None and b.carry.payload is not None:
        assert a.carry.payload.tobytes() == b.carry.payload.tobytes()


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("content", ["none", "some", "all"])
def test_a_group_serves_exactly_as_each_pool_in_turn(threads: int, content: str) -> None:
    """Five pools of 1, 2, 3, 8 and 2 cores, seven windows: a periodic pattern given as
    offsets (shifted by window starts whose sums round), new messages (content ids on
    none, some or all) and extra ones (content on two pools, as the aggregates), a busy
    window whose backlog crosses into the next ones, and an idle pool. The carry order
    on ties (carry, then new, then extra) is exercised by equal arrival times."""
    rng = np.random.default_rng(11)
    pattern = [random_stream(rng, 0.0, 300 + 200 * e, 0) for e in range(5)]
    for p in pattern:
        p.arrival_s = np.sort(p.arrival_s + rng.uniform(0.0, 0.3, len(p)))
    pattern[4] = Stream()  # a node without sensors
    each, grouped = five_pools(1300.0), five_pools(1300.0)
    group = edge_queues(grouped, threads, np.array([len(p) + 1 for p in pattern]))
    assert isinstance(group, SplitPoolGroup) == (threads > 1)
    handed = carried = 0
    for window in range(7):
        start = 1234.567 + 1.1 * window
        busy = 700 if window == 1 else 120
        batch = [random_stream(np.random.default_rng(50 + window), start + 0.2, busy, 1,
                               payload=content != "none") for _ in range(5)]
        batch[4] = Stream()
        if content == "some":
            for b in batch[:4]:
                assert b.payload is not None
                b.payload[::3] = -1
        extra = [Stream() for _ in range(5)]
        for e in (1, 3):  # two jobs, the first at the same instant as a new message
            at = np.array([batch[e].arrival_s[5], start + 0.9])
            extra[e] = Stream(at, np.array([0.001, 0.001]), np.full(2, 2, np.int64), at,
                              np.array([1000 + window, 2000 + window]))
        want = [pool.serve(p, Stream.merged(b, x), start, start + 1.0, fixed_shift_s=start)
                for pool, p, b, x in zip(each, pattern, batch, extra, strict=True)]
        got = group.serve(StreamSet.of(pattern), StreamSet.of(batch), StreamSet.of(extra),
                          start + 1.0, start)
        for e, h in enumerate(want):
            g = got.node(e)
            for name in ("done_s", "payload", "kind"):
                assert getattr(g, name).tobytes() == getattr(h, name).tobytes(), name
            handed += len(h)
        for a, b in zip(each, grouped, strict=True):
            _same_pools(a, b)
            for at in (start + 0.25, start + 0.99):
                assert a.start_time(at) == b.start_time(at)
            carried += len(a.carry)
    assert carried > 100  # messages did cross window ends into the carry
    assert each[3].counts[0, 0] > 1000
    assert each[4].counts.sum() == 0  # the idle pool served nothing
    # the extra jobs (28) always carry content, the new messages only if asked
    assert (handed > 28) == (content != "none")
    assert handed >= 28


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


@pytest.mark.parametrize("threads", [1, 2])
def test_a_node_with_an_unsorted_stream_is_served_on_its_own(threads: int) -> None:
    """A node one of whose streams is not sorted is left untouched by the group's call
    and served on its own; the others by the call: the same outcome as
    `ServerPool.serve` on each, in that window and the next ones."""
    rng = np.random.default_rng(5)
    each, grouped = five_pools(10.0), five_pools(10.0)
    # two parts cut after node 1 (6 against 3): the unsorted node 2 is a worker's
    group = edge_queues(grouped, threads, np.array([3, 3, 1, 1, 1]))
    for window in range(3):
        fixed = [random_stream(rng, window, 200, 0) for _ in range(5)]
        batch = [random_stream(rng, window, 100, 1, payload=True) for _ in range(5)]
        if window == 1:  # one pool's new messages out of order
            batch[2] = Stream(batch[2].arrival_s[::-1].copy(), batch[2].service_s,
                              batch[2].kind, batch[2].born_s[::-1].copy(), batch[2].payload)
        want = [pool.serve(f, b, window, window + 1.0)
                for pool, f, b in zip(each, fixed, batch, strict=True)]
        got = group.serve(StreamSet.of(fixed), StreamSet.of(batch), StreamSet.empty(5),
                          window + 1.0)
        for e, h in enumerate(want):
            assert got.node(e).done_s.tobytes() == h.done_s.tobytes()
        for a, b in zip(each, grouped, strict=True):
            _same_pools(a, b)
            assert a.start_time(window + 0.5) == b.start_time(window + 0.5)
    assert each[0].counts.sum() > 0


@pytest.mark.parametrize(("weights", "parts", "cuts"), [
    ([7, 6, 5, 5, 5, 6, 7, 6], 2, [0, 4, 8]),  # 23 against 24
    ([7, 6, 5, 5, 5, 6, 7, 6], 3, [0, 3, 6, 8]),  # 18, 16, 13 (a cut at 5: 18, 10, 19)
    ([100, 1, 1, 1], 2, [0, 1, 4]),  # one heavy node alone, never an empty part
    ([1, 1, 1, 100], 3, [0, 2, 3, 4]),  # room left for the parts still to come
    ([5, 5, 5], 3, [0, 1, 2, 3]),
])
def test_balanced_cuts_by_hand(weights: list[int], parts: int, cuts: list[int]) -> None:
    assert balanced_cuts(np.array(weights), parts) == cuts


@pytest.mark.parametrize("parts", [0, 4])
def test_balanced_cuts_refuses_impossible_parts(parts: int) -> None:
    with pytest.raises(ValueError, match=f"cannot cut 3 nodes into {parts} parts"):
        balanced_cuts(np.ones(3), parts)


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_in_a_part_reaches_the_caller_and_the_next_window_runs(failing: int) -> None:
    """A part that raises (the caller's, or a worker's on its thread) raises in `serve`;
    every other part's outcome is taken too, so the next window's results belong to
    the next window."""
    rng = np.random.default_rng(8)
    each, grouped = five_pools(10.0), five_pools(10.0)
    group = edge_queues(grouped, 2, np.ones(5))
    assert isinstance(group, SplitPoolGroup)
    fixed = [random_stream(rng, 0.0, 50, 0) for _ in range(5)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(group.groups[failing], "serve", lambda *_: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            group.serve(StreamSet.of(fixed), StreamSet.empty(5), StreamSet.empty(5), 1.0)
    # the other part served window 0, the failed one did not: the same on the reference
    lo, hi = group.cuts[failing], group.cuts[failing + 1]
    for e, (pool, f) in enumerate(zip(each, fixed, strict=True)):
        if not lo <= e < hi:
            pool.serve(f, Stream(), 0.0, 1.0)
    fixed = [random_stream(rng, 1.0, 50, 0) for _ in range(5)]
    batch = [random_stream(rng, 1.0, 30, 1, payload=True) for _ in range(5)]
    want = [pool.serve(f, b, 1.0, 2.0) for pool, f, b in zip(each, fixed, batch, strict=True)]
    got = group.serve(StreamSet.of(fixed), StreamSet.of(batch), StreamSet.empty(5), 2.0)
    for e, h in enumerate(want):
        assert got.node(e).done_s.tobytes() == h.done_s.tobytes()
        assert len(h) == 30
    for a, b in zip(each, grouped, strict=True):
        _same_pools(a, b)


def test_pools_that_differ_in_horizon_cannot_form_a_group() -> None:
    pools = [ServerPool("a", 1, np.array([0.01]), 10.0), ServerPool("b", 1, np.array([0.01]), 20.0)]
    with pytest.raises(ValueError, match="pool b differs from a"):
        PoolGroup(pools)


@pytest.mark.parametrize(("value", "threads"), [(None, 1), ("", 1), ("2", 2), ("64", 64)])
def test_kernel_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             value: str | None, threads: int) -> None:
    if value is None:
        monkeypatch.delenv("V2X_SIM_KERNEL_THREADS", raising=False)
    else:
        monkeypatch.setenv("V2X_SIM_KERNEL_THREADS", value)
    assert kernel_threads() == threads


def test_a_run_on_two_kernel_threads_writes_the_same_summary(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The full loop (edge nodes, aggregates to the cloud, warnings asking the edge's
    backlog) for five minutes on one and on two kernel threads: summary.json byte for
    byte."""
    texts = []
    for value in ("1", "2"):
        monkeypatch.setenv("V2X_SIM_KERNEL_THREADS", value)
        out = tmp_path / f"threads{value}"
        assert main(["run", "demo_zone", "-o", str(out), "-q", "--no-report",
                     "--set", "simulation.horizon_s=300", "--set", "v2x.tick_s=1.0"]) == 0
        texts.append((out / "summary.json").read_text())
    assert texts[0] == texts[1]
    assert json.loads(texts[1])["trips_started"] > 0
