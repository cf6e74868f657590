"""The compiled placement of a window's BSMs equals the numpy steps it replaced, bit for bit.

`comms.bsm_senders.bsm_senders` runs the send times, positions on links, coverage cells
and channel load of a window in one compiled loop; results for a fixed seed must not
move, so every array must equal `bsm_senders_reference` (the numpy composition of
`flows.send_times`, `flows.offsets_on_link` and the coverage lookups) exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.comms.bsm_senders import bsm_senders, bsm_senders_reference
from v2x_sim.comms.flows import send_times

CELL_M = 25.0


def coverage(rng: np.random.Generator, length_m: np.ndarray, n_rsu: int) -> tuple:
    n_cells = np.maximum(1, np.ceil(length_m / CELL_M).astype(np.int64))
    first = np.concatenate(([0], np.cumsum(n_cells)[:-1]))
    total = int(n_cells.sum())
    nearest = rng.integers(-1, n_rsu, total)  # -1: a cell no RSU covers
    distance = rng.uniform(0.0, 500.0, total)
    heard = rng.integers(-1, n_rsu, (total, 4))
    return CELL_M, first, n_cells, nearest, distance, heard


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_compiled_placement_equals_the_numpy_steps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_links, n_rsu, n = 40, 30, 900
    length = rng.uniform(5.0, 900.0, n_links)
    cells = coverage(rng, length, n_rsu)
    ids = rng.choice(100_000, n, replace=False).astype(np.int64)
    ids[0] = 0  # phase 0 exactly
    link = rng.integers(0, n_links, n)
    start, end = 1234.0 + seed * 0.7, 1235.0 + seed * 0.7
    entered = start - rng.uniform(0.0, 60.0, n)
    ready = entered + rng.uniform(-5.0, 80.0, n)  # some done (in the exit queue), some not
    ready[:20] = entered[:20]  # zero duration: at the link's end
    for period in (0.1, 0.3, 1.0):
        got = bsm_senders(ids, link, entered, ready, (start, end, period), length, cells, n_rsu)
        want = bsm_senders_reference(ids, link, entered, ready, (start, end, period), length,
                                     cells, n_rsu)
        assert got[1] == want[1]
        for g, w in zip(got[:1] + got[2:], want[:1] + want[2:], strict=True):
            assert g.dtype == w.dtype
            assert g.tobytes() == w.tobytes()


def test_sends_counts_and_coverage_by_hand() -> None:
    """Two vehicles, 10 Hz, one 1 s window: 20 BSMs; one link half covered."""
    # link 0: 100 m, cells of 25 m: [0, 25) [25, 50) covered by RSU 3, [50, 100) not
    length = np.array([100.0])
    cells = (CELL_M, np.array([0]), np.array([4]), np.array([3, 3, -1, -1]),
             np.array([10.0, 20.0, 30.0, 40.0]), np.array([[3, -1], [3, 1], [-1, -1],
                                                          [1, -1]]))
    ids = np.array([5, 8])
    link = np.array([0, 0])
    # vehicle 0 stands still at 0 m... it entered at 100 s, earliest exit at 200 s, so at
    # 100.x s it is within the first metres; vehicle 1 is past its earliest exit: at 100 m
    entered = np.array([100.0, 0.0])
    ready = np.array([200.0, 50.0])
    transmitters, sent, rsu, born, cell = bsm_senders(
        ids, link, entered, ready, (100.0, 101.0, 0.1), length, cells, 5)
    assert sent == 20
    # at the start vehicle 0 is in cell 0 (RSUs 3), vehicle 1 in cell 3 (RSU 1)
    assert transmitters.tolist() == [0, 1, 0, 1, 0]
    # only vehicle 0's ten BSMs (all within 1 m of the entry) are covered: cell 0, RSU 3
    assert rsu.tolist() == [3] * 10
    assert cell.tolist() == [0] * 10
    who, at = send_times(ids, 0.1, 100.0, 101.0)
    assert born.tolist() == at[who == 0].tolist()
