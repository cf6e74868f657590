"""Webster's signal timing: the optimum cycle and green splits from the demand.

Per junction and phase, the critical flow ratio is y = max over its approaches of
q / s (q the approach's demand, s its saturation flow: capacity per lane x lanes). With
Y = sum of the critical ratios and L the lost time per cycle (each phase loses start-up
loss + amber + all-red - usable amber), Webster's optimum cycle is

    C0 = (1.5 L + 5) / (1 - Y),

clamped to ``[min_cycle_s, max_cycle_s]`` (``max_cycle_s`` when Y >= 1; never shorter
than two minimum greens with their amber and all-red), and the
effective greens share C - L in proportion to the critical ratios, g_i = (C - L) y_i / Y,
no phase getting less than ``min_green_s`` (displayed). Webster, F. V. (1958), Traffic
signal settings, Road Research Technical Paper 39.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network
from v2x_sim.road.signals import (
    SignalPlan,
    assemble_plan,
    junction_offsets,
    no_signals,
    signal_junctions,
)
from v2x_sim.scenario.signal_sections import PHASES, OffsetMode, SignalSection

FloatArray = NDArray[np.float64]


def webster_cycle_s(lost_s: float, flow_ratio_sum: float) -> float:
    """Webster's optimum cycle C0 = (1.5 L + 5) / (1 - Y); inf when Y >= 1."""
    if flow_ratio_sum >= 1.0:
        return float("inf")
    return (1.5 * lost_s + 5.0) / (1.0 - flow_ratio_sum)


def webster_greens_s(cycle_s: float, lost_s: float, ratios: FloatArray,
                     min_green_s: float) -> FloatArray:
    """Effective greens sharing C - L in proportion to ``ratios``, each >= ``min_green_s``.

    Phases whose proportional share falls below the minimum get the minimum; the rest
    share what remains in proportion to their ratios (repeated until none falls short).
    Without any demand the greens are equal.
    """
    available = cycle_s - lost_s
    ratios = np.asarray(ratios, dtype=np.float64)
    weights = ratios if ratios.sum() > 0 else np.ones_like(ratios)
    fixed = np.zeros(ratios.size, dtype=bool)
    greens = np.zeros(ratios.size)
    for _ in range(ratios.size):
        free = ~fixed
        share = available - min_green_s * fixed.sum()
        total = weights[free].sum()
        greens[free] = (share * weights[free] / total if total > 0
                        else share / free.sum())
        greens[fixed] = min_green_s
        short = free & (greens < min_green_s)
        if not short.any():
            break
        fixed |= short
    return greens


def approach_flow_ratios(network: Network, flow_vph: FloatArray) -> FloatArray:
    """Flow ratio q / s per link: demand over saturation flow (capacity per lane x lanes)."""
    saturation_vph = network.capacity_vps_per_lane * network.lanes * 3600.0
    return np.asarray(flow_vph, dtype=np.float64) / saturation_vph


def webster_plan(network: Network, config: SignalSection, flow_vph: FloatArray) -> SignalPlan:
    """Webster cycle and splits at every signalised junction for the link flows given.

    Args:
        network: the road network.
        config: the signal section (intervals, Webster bounds, offsets).
        flow_vph: demand per link the plan is sized for (veh/h).
    """
    if not config.enabled:
        return no_signals(network)
    junctions = signal_junctions(network, config.min_approaches)
    amber, all_red, startup, used = config.intervals()
    params = config.webster
    lost = PHASES * config.lost_per_phase_s()
    ratio = approach_flow_ratios(network, flow_vph)
    shortest = max(params.min_cycle_s, PHASES * (params.min_green_s + amber + all_red))
    critical = np.zeros((len(junctions), PHASES))
    cycles = np.zeros(len(junctions))
    for j, junction in enumerate(junctions):
        for phase in range(PHASES):
            critical[j, phase] = ratio[junction.approaches[junction.phase == phase]].max()
        c0 = webster_cycle_s(lost, float(critical[j].sum()))
        cycles[j] = min(max(c0, shortest), params.max_cycle_s)
    if config.offsets.mode != OffsetMode.NONE and cycles.size:
        cycles[:] = cycles.max()  # a green wave needs one common cycle
    min_effective = params.min_green_s - startup + used
    greens = np.zeros((len(junctions), PHASES))
    for j in range(len(junctions)):
        effective = webster_greens_s(cycles[j], lost, critical[j], min_effective)
        greens[j] = effective + startup - used
    offsets = junction_offsets(network, junctions, cycles, greens, config)
    return assemble_plan(network, junctions, cycles, greens, offsets, config)
