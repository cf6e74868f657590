"""The BSM window in one compiled call equals the step-by-step path, bit for bit.

`comms.bsm_window` fuses placement, channel load, PC5 fates, backhaul, the air delays'
histogram and the grouping by edge node; results for a fixed seed must not move, so on
every window of a run its streams, the channel load, the per-RSU totals, the latency
book and the PC5 generator's state afterwards must equal the step-by-step path's.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from v2x_sim import load_scenario
from v2x_sim.comms.bsm_window import pairwise_sum
from v2x_sim.compute.bsm_flow import BsmFlow
from v2x_sim.world import build_world

IDENTITY = Path(__file__).parent / "golden" / "identity_scenario.yaml"


def _recorded_run(horizon_s: float) -> tuple[BsmFlow, list[tuple[Any, ...]]]:
    """The identity scenario's BSM flow before its first window, and every window's input."""
    world = build_world(load_scenario(IDENTITY, simulation={"horizon_s": horizon_s}))
    assert world.v2x is not None
    bsm = world.v2x.flows.bsm
    before = copy.deepcopy(bsm)
    windows: list[tuple[Any, ...]] = []
    real = bsm.window

    def record(senders: Any, start_s: float, end_s: float, faults: Any) -> Any:
        windows.append((tuple(a.copy() for a in senders), start_s, end_s, faults))
        return real(senders, start_s, end_s, faults)

    bsm.window = record  # type: ignore[method-assign]
    world.env.run(until=horizon_s)
    return before, windows


def test_one_call_equals_the_steps_on_every_window_of_a_run() -> None:
    # the first 290 s of the identity run: before its fault windows (those take the
    # step path in both), with BSM traffic building up from an empty road
    before, windows = _recorded_run(290.0)
    assert before._one_call  # the path a default run takes
    steps, one = copy.deepcopy(before), copy.deepcopy(before)
    steps._one_call = False
    heard = 0
    for senders, start_s, end_s, faults in windows:
        assert faults is None
        want = steps.window(senders, start_s, end_s, None)
        got = one.window(senders, start_s, end_s, None)
        for name in ("arrival_s", "service_s", "kind", "born_s", "bounds"):
            g, w = getattr(got, name), getattr(want, name)
            assert g.dtype == w.dtype, name
            assert g.tobytes() == w.tobytes(), (name, start_s)
        assert one.cbr.tobytes() == steps.cbr.tobytes()
        heard += len(got)
    assert heard > 10_000  # the windows carried traffic (~250 s of it)
    for name in ("cbr_sum", "cbr_max", "received"):
        assert getattr(one, name).tobytes() == getattr(steps, name).tobytes(), name
    assert one.rng_pc5.bit_generator.state == steps.rng_pc5.bit_generator.state
    g_book, w_book = one.book, steps.book
    assert g_book.sent.tolist() == w_book.sent.tolist()
    assert g_book.lost.tolist() == w_book.lost.tolist()
    assert g_book.lost_reasons == w_book.lost_reasons
    for kind, hops in enumerate(w_book.hist):
        for hop, histogram in enumerate(hops):
            assert g_book.hist[kind][hop] == histogram, (kind, hop)  # counts, n, sum, max


@pytest.mark.parametrize("sizes", [range(0, 300), [511, 1024, 1025, 7_001, 65_537, 250_003]])
def test_the_compiled_sum_is_numpys_pairwise_sum(sizes: Any) -> None:
    rng = np.random.default_rng(7)
    for n in sizes:
        # magnitudes over 12 decades: any other order of additions rounds differently
        values = 10.0 ** rng.uniform(-6.0, 6.0, n)
        assert pairwise_sum(values) == float(values.sum()), n


def test_a_plain_running_sum_would_differ() -> None:
    """The check above can fail: a left-to-right sum misses numpy's last bits here."""
    values = 10.0 ** np.random.default_rng(7).uniform(-6.0, 6.0, 7_001)
    running = 0.0
    for v in values.tolist():
        running += v
    assert running != float(values.sum())
