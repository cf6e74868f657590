"""The cell table behind `metrics.bin_counts.count_bins`: exact only if a cell holds one edge.

`count_bins` takes the bin of a cell's first float from a table and moves on by at most
one bin; that is exact because a cell (0.4 % wide) never holds two bin edges (4.7 %
apart), which `_check_cells` verifies when the table is built. The counts themselves
are compared with `bin_index` at and around every edge in `test_histogram.py`.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.metrics.bin_counts import _CELL_SHIFT, _FIRST_KEY, _TABLE, _check_cells
from v2x_sim.metrics.histogram import HI_EXP, LO_EXP, N_BINS


def test_the_table_spans_the_binned_range_and_its_bins_never_decrease() -> None:
    keys = _FIRST_KEY + np.arange(_TABLE.size, dtype=np.int64)
    first = (keys << _CELL_SHIFT).view(np.float64)
    assert first[0] < 10.0 ** LO_EXP / 2.0  # from a binade below the first edge
    assert _TABLE[0] == 0
    assert _TABLE[-1] == N_BINS - 1
    assert first[-1] >= 10.0 ** HI_EXP
    assert np.all(np.diff(_TABLE) >= 0)
    assert set(np.unique(np.diff(_TABLE)).tolist()) <= {0, 1}


def test_a_table_whose_cells_hold_two_edges_is_refused() -> None:
    keys = _FIRST_KEY + np.arange(_TABLE.size, dtype=np.int64)
    _check_cells(keys, _TABLE)  # the real one passes
    for shift in (-2, 1):  # a cell reaching two bins past its first, or ending before it
        wrong = _TABLE.copy()
        wrong[_TABLE.size // 2] += shift
        with pytest.raises(RuntimeError, match="more than two bins"):
            _check_cells(keys, wrong)
