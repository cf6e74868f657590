"""Fixed-time signal plans for arterial junctions.

At a junction with at least ``min_approaches`` incoming links, all of them arterial or
ramp (never expressway), incoming links are split into two phases by heading: mostly
east-west or mostly north-south. Phase 0 is green for ``G = (C - lost) / 2`` from the
start of the cycle, phase 1 for ``G`` starting at ``C / 2``. A junction whose approaches
all fall in one phase gets no signal. A link leaves only while green, at its saturation
headway, so the green share becomes its capacity share (the uniform delay of Webster's
formula emerges from the red time instead of being added).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network, RoadClass
from v2x_sim.scenario.sections import SignalSection


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """Per-link signal timing; ``cycle_s == 0`` means unsignalised.

    Attributes:
        cycle_s: cycle length per link.
        green_start_s: start of the link's green within the cycle.
        green_s: green duration per cycle.
    """

    cycle_s: NDArray[np.float64]
    green_start_s: NDArray[np.float64]
    green_s: NDArray[np.float64]

    @property
    def signalised(self) -> NDArray[np.bool_]:
        """Which links end at a signal."""
        return self.cycle_s > 0


def no_signals(network: Network) -> SignalPlan:
    """A plan with every link unsignalised."""
    zeros = np.zeros(network.n_links)
    return SignalPlan(zeros, zeros.copy(), zeros.copy())


def fixed_time_plan(network: Network, config: SignalSection) -> SignalPlan:
    """Two-phase fixed-time signals at the qualifying junctions of ``network``."""
    plan = no_signals(network)
    if not config.enabled:
        return plan
    heading = network.heading_rad()
    east_west = np.abs(np.cos(heading)) >= np.abs(np.sin(heading))
    green = (config.cycle_s - config.lost_time_s) / 2.0
    for node in range(network.n_nodes):
        incoming = network.incoming(node)
        if len(incoming) < config.min_approaches:
            continue
        if np.any(network.road_class[incoming] == RoadClass.EXPRESSWAY):
            continue
        phases = east_west[incoming]
        if phases.all() or not phases.any():
            continue
        plan.cycle_s[incoming] = config.cycle_s
        plan.green_s[incoming] = green
        plan.green_start_s[incoming] = np.where(phases, 0.0, config.cycle_s / 2.0)
    return plan


def next_green_s(t: float, cycle_s: float, green_start_s: float, green_s: float) -> float:
    """Earliest time >= t at which the link is green (t itself when green now)."""
    phase = (t - green_start_s) % cycle_s
    return t if phase < green_s or cycle_s - phase <= 1e-6 else t + (cycle_s - phase)
