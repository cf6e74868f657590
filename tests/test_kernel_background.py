"""Edge kernels beside the simulation (V2X_SIM_KERNEL_BACKGROUND=1) change no result.

A pool whose window carries no content has its kernel run on a background thread and is
read only after it finished (`ServerPool.sync`, through every state attribute); its
replay window for foreground messages is set before the kernel starts. So serving with
the background thread must give, window by window, the same hand-overs, the same
foreground start times and the same final state as serving each pool in turn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import five_pools, random_stream

from v2x_sim._core.env import KERNEL_BACKGROUND
from v2x_sim.cli import main
from v2x_sim.compute.servers import kernel_background, serve_pools

STATE = ("free_s", "counts", "stats", "hist", "busy_slots", "wait_slots")


def test_background_kernels_serve_exactly_as_one_pool_after_another() -> None:
    """Five pools, six windows; pool 2 carries content in even windows (served at once),
    the others never (their kernels run beside). After each window a foreground
    message asks every pool when it would start: the same instant both ways; the
    hand-overs and, at the end, every accumulator, the slot series and the carry are
    equal exactly. Some kernels really were left running (else nothing was tested)."""
    serial, beside = five_pools(6.0), five_pools(6.0)
    deferred = 0
    for window in range(6):
        rng = np.random.default_rng(window)
        fixed = [random_stream(rng, window, 300 + 50 * e, 0) for e in range(5)]
        batch = [random_stream(rng, window, 200, 1, payload=(e == 2 and window % 2 == 0))
                 for e in range(5)]
        one = [pool.serve(f, b, window, window + 1.0)
               for pool, f, b in zip(serial, fixed, batch, strict=True)]
        two = serve_pools(beside, fixed, batch, window + 1.0, background=True)
        deferred += sum(pool._deferred is not None for pool in beside)
        for h1, h2 in zip(one, two, strict=True):
            np.testing.assert_array_equal(h1.done_s, h2.done_s)
            np.testing.assert_array_equal(h1.payload, h2.payload)
        for at in (window + 0.3, window + 0.9):
            for a, b in zip(serial, beside, strict=True):
                assert a.start_time(at) == b.start_time(at)
    assert deferred >= 20  # four pools a window without content
    for a, b in zip(serial, beside, strict=True):
        for name in STATE:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(a.carry.arrival_s, b.carry.arrival_s)
        assert b._deferred is None  # reading the state took the results
    assert serial[0].counts.sum() > 0


@pytest.mark.parametrize(("value", "on"), [(None, False), ("", False), ("0", False),
                                           ("1", True)])
def test_background_switch_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv(KERNEL_BACKGROUND, raising=False)
    else:
        monkeypatch.setenv(KERNEL_BACKGROUND, value)
    assert kernel_background() is on


def test_a_run_with_background_kernels_writes_the_same_summary(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The full loop (edge nodes, aggregates to the cloud, warnings asking the edge's
    backlog) for five minutes, with and without the background thread: summary.json
    byte for byte, apart from nothing."""
    texts = []
    for value in ("0", "1"):
        monkeypatch.setenv(KERNEL_BACKGROUND, value)
        out = tmp_path / f"bg{value}"
        assert main(["run", "demo_zone", "-o", str(out), "-q", "--no-report",
                     "--set", "simulation.horizon_s=300", "--set", "v2x.tick_s=1.0"]) == 0
        texts.append((out / "summary.json").read_text())
    assert texts[0] == texts[1]
    summary = json.loads(texts[1])
    assert summary["trips_started"] > 0
