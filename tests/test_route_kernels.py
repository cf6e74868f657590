"""The compiled next-hop scans pick what a stable sort by (group, cost) puts first.

`route_kernels` replaced a `numpy.lexsort` per table; the routes every vehicle follows
come from these picks, so they must agree member for member, ties, infinities and
NaN included. The reference here is a plain sort of (group, cost, position) tuples.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from v2x_sim.road.network import build_network, cheapest_out_link
from v2x_sim.road.route_kernels import cheapest_finite_successor, cheapest_per_group


def _nan_last(cost: float) -> tuple[int, float]:
    return (1, 0.0) if math.isnan(cost) else (0, cost)


def _by_sort(groups: list[list[int]], via: list[float], *, finite: bool) -> list[int]:
    """Per group, the first member of its (cost, position) order; -1 if none (qualifies)."""
    out = []
    for members in groups:
        ranked = sorted(range(len(members)), key=lambda i: (_nan_last(via[members[i]]), i))
        pick = members[ranked[0]] if ranked else -1
        if finite and pick >= 0 and not math.isfinite(via[pick]):
            pick = -1
        out.append(pick)
    return out


def _csr(groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    members = np.array([m for g in groups for m in g], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum([len(g) for g in groups]))).astype(np.int64)
    return members, offsets


def test_hand_example_ties_infinity_and_nan() -> None:
    """Group 0: costs 5, 3, 3 -> the first 3 (member 1); group 1 empty -> -1; group 2
    (members 4 then 3): inf, inf -> the one listed first (4) for the out-link scan,
    none (-1) for the finite one; group 3: NaN, 7 -> member 6 (NaN ranks last)."""
    groups = [[0, 1, 2], [], [4, 3], [5, 6]]
    via = np.array([5.0, 3.0, 3.0, math.inf, math.inf, math.nan, 7.0])
    members, offsets = _csr(groups)
    assert cheapest_per_group(members, offsets, via).tolist() == [1, -1, 4, 6]
    # the finite scan adds cost[b] + dist[b]: cost 0 here, so the same values
    zero = np.zeros(len(via))
    assert cheapest_finite_successor(members, offsets, zero, via).tolist() == [1, -1, -1, 6]


costs = st.sampled_from([0.0, 1.0, 2.0, 2.5, math.inf, math.nan])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), max_size=5), min_size=1, max_size=8),
       st.lists(costs, min_size=12, max_size=12), st.lists(costs, min_size=12, max_size=12))
def test_both_scans_equal_a_stable_sort(groups: list[list[int]], cost: list[float],
                                        dist: list[float]) -> None:
    members, offsets = _csr(groups)
    via = [c + d for c, d in zip(cost, dist, strict=True)]
    assert cheapest_per_group(members, offsets, np.array(via)).tolist() == \
        _by_sort(groups, via, finite=False)
    assert cheapest_finite_successor(members, offsets, np.array(cost),
                                     np.array(dist)).tolist() == _by_sort(groups, via,
                                                                          finite=True)


def test_cheapest_out_link_on_parallel_links() -> None:
    """Node 0 has links 0 (cost 4), 1 (cost 2) and 3 (cost 2) to node 1: link 1 (the
    lower index of the tie); node 1 has link 2 only; node 2 has none (-1)."""
    net = build_network(
        x_m=[0.0, 100.0, 200.0], y_m=[0.0, 0.0, 0.0], from_node=[0, 0, 1, 0],
        to_node=[1, 1, 2, 1], length_m=[100.0] * 4, lanes=[1] * 4,
        free_speed_mps=[10.0] * 4, capacity_vps_per_lane=[0.5] * 4,
        jam_density_vpm_per_lane=[0.15] * 4, road_class=[0] * 4)
    table = cheapest_out_link(net, np.array([4.0, 2.0, 9.0, 2.0]))
    assert table.tolist() == [1, 2, -1]
