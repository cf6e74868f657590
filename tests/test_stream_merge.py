"""`Stream.merged`: the compiled interleave equals placing each message by hand.

Every message of the second stream lands after the first stream's messages arriving no
later than it (ties: the first stream first); when the second stream is not sorted the
numpy path runs and both paths give the same as the hand placement.
"""

from __future__ import annotations

import numpy as np
import pytest

from v2x_sim.compute.servers import Stream


def _stream(arrival: list[float], tag: int, payload: bool = False) -> Stream:
    n = len(arrival)
    return Stream(np.array(arrival, dtype=np.float64), np.full(n, 0.001 * tag),
                  np.full(n, tag, dtype=np.int64), np.array(arrival) - 0.5,
                  np.arange(n, dtype=np.int64) + 100 * tag if payload else None)


def _by_hand(first: list[float], second: list[float]) -> list[tuple[float, int]]:
    """(arrival, stream) in merged order: second[i] goes after every first <= it."""
    out: list[tuple[float, int]] = []
    i_first = 0
    for value in second:
        while i_first < len(first) and first[i_first] <= value:
            out.append((first[i_first], 1))
            i_first += 1
        out.append((value, 2))
    out += [(v, 1) for v in first[i_first:]]
    return out


@pytest.mark.parametrize("payload", [False, True])
def test_merged_places_ties_after_the_first_stream(payload: bool) -> None:
    first = [0.1, 0.2, 0.2, 0.5]
    second = [0.0, 0.2, 0.3, 0.5, 0.9]
    merged = Stream.merged(_stream(first, 1, payload), _stream(second, 2))
    expected = _by_hand(first, second)
    assert merged.arrival_s.tolist() == [a for a, _ in expected]
    assert merged.kind.tolist() == [k for _, k in expected]
    assert merged.service_s.tolist() == [0.001 * k for _, k in expected]
    assert merged.born_s.tolist() == [a - 0.5 for a, _ in expected]
    if payload:
        assert merged.payload is not None
        assert merged.payload.tolist() == [-1, 100, 101, 102, -1, -1, 103, -1, -1]
    else:
        assert merged.payload is None


def test_random_sorted_streams_merge_by_hand() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        first = np.sort(rng.integers(0, 20, rng.integers(1, 30)) / 10.0).tolist()
        second = np.sort(rng.integers(0, 20, rng.integers(1, 30)) / 10.0).tolist()
        merged = Stream.merged(_stream(first, 1), _stream(second, 2))
        expected = _by_hand(first, second)
        assert list(zip(merged.arrival_s.tolist(), merged.kind.tolist(),
                        strict=True)) == expected


def test_an_unsorted_second_stream_takes_the_numpy_path_with_the_same_placement() -> None:
    # 0.35 then 0.05: positions 3 + 0 and 0 + 1; the first stream fills 0, 2 and 4
    merged = Stream.merged(_stream([0.1, 0.2, 0.3], 1), _stream([0.35, 0.05], 2))
    assert merged.arrival_s.tolist() == [0.1, 0.05, 0.2, 0.35, 0.3]
    assert merged.kind.tolist() == [1, 2, 1, 2, 1]
