"""Signal plans: which approach links end at a signal, and when they may discharge.

A junction is signalised when it has at least ``min_approaches`` incoming links, none of
them expressway, and its approaches fall in both phases: phase 0 takes the mostly
east-west approaches, phase 1 the mostly north-south ones. Each junction runs a program
of cycle C: phase 0 shows green G0 from 0, then amber A, then all-red R; phase 1 shows
green G1 from G0 + A + R, then A and R; C = G0 + G1 + 2 (A + R).

The movement engine reads only the *effective* green of each approach: vehicles may
leave from ``startup_lost_s`` after the displayed green starts until the usable part of
the amber has passed, at the saturation headway. So the effective green is
g = G - l1 + e (l1 start-up lost time, e the usable amber) and the green share becomes
the approach's capacity share; Webster's uniform delay emerges from the red instead of
being added. Offsets shift a junction's whole program.

Protected left-turn phases need turn movements (lane groups per movement at a link's
exit), which the link model does not have yet; a plan file's ``to_link`` rows are kept
(`SignalPlan.movements`) for then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from v2x_sim.road.network import Network, RoadClass
from v2x_sim.scenario.signal_sections import PHASES, Heading, OffsetMode, SignalSection

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MovementTiming:
    """A movement-specific row of a plan file (``to_link`` set), kept until movements exist.

    Attributes:
        link, to_link: link indices of the approach and the outgoing link.
        green_start_s, green_s, amber_s, all_red_s: displayed timing within the program.
    """

    link: int
    to_link: int
    green_start_s: float
    green_s: float
    amber_s: float
    all_red_s: float


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """Per-link signal timing; ``cycle_s == 0`` means unsignalised.

    The first three arrays are the interface the rest of the model reads; the others
    describe how they came about (for ``signals.csv`` and for readers that want the
    displayed intervals).

    Attributes:
        cycle_s: cycle length per link.
        green_start_s: start of the link's effective green in the run's clock, modulo
            the cycle (its junction's offset included).
        green_s: effective green per cycle: the time vehicles may leave.
        amber_s: amber after the link's displayed green.
        all_red_s: all-red after the amber.
        offset_s: the junction's program offset (when its cycle starts, modulo C).
        startup_lost_s: start-up lost time between displayed and effective green start.
        amber_used_s: part of the amber vehicles still use.
        movements: movement-specific rows from a plan file (not used by the link model).
    """

    cycle_s: FloatArray
    green_start_s: FloatArray
    green_s: FloatArray
    amber_s: FloatArray
    all_red_s: FloatArray
    offset_s: FloatArray
    startup_lost_s: FloatArray
    amber_used_s: FloatArray
    movements: tuple[MovementTiming, ...] = field(default=())

    @property
    def signalised(self) -> NDArray[np.bool_]:
        """Which links end at a signal."""
        return self.cycle_s > 0

    @property
    def random_arrival_wait_s(self) -> FloatArray:
        """Mean wait at each link's signal of a lone vehicle arriving at a random instant.

        ``r^2 / (2 C)`` with ``r = C - g`` the effective red (it arrives in the red with
        probability ``r / C`` and then waits ``r / 2`` on average): Webster's uniform
        delay without a queue. 0 where unsignalised.
        """
        cycle = np.where(self.signalised, self.cycle_s, 1.0)
        red = np.maximum(cycle - self.green_s, 0.0)
        return np.where(self.signalised, red * red / (2.0 * cycle), 0.0)

    @property
    def displayed_green_s(self) -> FloatArray:
        """Displayed green per link: effective green + start-up loss - usable amber."""
        return np.where(self.signalised,
                        self.green_s + self.startup_lost_s - self.amber_used_s, 0.0)

    @property
    def displayed_start_s(self) -> FloatArray:
        """Start of the displayed green within the junction's program (offset removed)."""
        cycle = np.where(self.signalised, self.cycle_s, 1.0)
        start = (self.green_start_s - self.startup_lost_s - self.offset_s) % cycle
        return np.where(self.signalised, start, 0.0)


def no_signals(network: Network) -> SignalPlan:
    """A plan with every link unsignalised."""
    n = network.n_links
    return SignalPlan(cycle_s=np.zeros(n), green_start_s=np.zeros(n), green_s=np.zeros(n),
                      amber_s=np.zeros(n), all_red_s=np.zeros(n), offset_s=np.zeros(n),
                      startup_lost_s=np.zeros(n), amber_used_s=np.zeros(n))


@dataclass(frozen=True, slots=True)
class Junction:
    """A signalised junction: its node index, approach links and their phase (0 or 1)."""

    node: int
    approaches: NDArray[np.int64]
    phase: NDArray[np.int64]


def signal_junctions(network: Network, min_approaches: int) -> list[Junction]:
    """The junctions that get a signal and the phase of each approach (see module doc)."""
    heading = network.heading_rad()
    north_south = (np.abs(np.cos(heading)) < np.abs(np.sin(heading))).astype(np.int64)
    junctions = []
    for node in range(network.n_nodes):
        incoming = network.incoming(node)
        if len(incoming) < min_approaches:
            continue
        if np.any(network.road_class[incoming] == RoadClass.EXPRESSWAY):
            continue
        phase = north_south[incoming]
        if phase.all() or not phase.any():
            continue
        junctions.append(Junction(node, incoming, phase))
    return junctions


def assemble_plan(network: Network, junctions: list[Junction], cycle_s: FloatArray,
                  green_s: NDArray[np.float64], offset_s: FloatArray,
                  config: SignalSection) -> SignalPlan:
    """A plan from per-junction cycles, displayed greens per phase and offsets.

    Args:
        network: the road network.
        junctions: the signalised junctions.
        cycle_s: cycle per junction.
        green_s: displayed green per junction and phase, shape (junctions, 2).
        offset_s: program offset per junction.
        config: the signal section (amber, all-red, start-up loss, usable amber).
    """
    amber, all_red, startup, used = config.intervals()
    plan = no_signals(network)
    for j, junction in enumerate(junctions):
        links, phase = junction.approaches, junction.phase
        starts = np.array([0.0, green_s[j, 0] + amber + all_red])
        plan.cycle_s[links] = cycle_s[j]
        plan.green_s[links] = green_s[j, phase] - startup + used
        plan.green_start_s[links] = (starts[phase] + startup + offset_s[j]) % cycle_s[j]
        plan.amber_s[links] = amber
        plan.all_red_s[links] = all_red
        plan.offset_s[links] = offset_s[j] % cycle_s[j]
        plan.startup_lost_s[links] = startup
        plan.amber_used_s[links] = used
    return plan


def fixed_time_plan(network: Network, config: SignalSection) -> SignalPlan:
    """Every junction: ``cycle_s``, equal displayed greens, offsets as configured."""
    if not config.enabled:
        return no_signals(network)
    junctions = signal_junctions(network, config.min_approaches)
    amber, all_red, _, _ = config.intervals()
    green = config.cycle_s / PHASES - amber - all_red
    cycles = np.full(len(junctions), config.cycle_s)
    greens = np.full((len(junctions), PHASES), green)
    offsets = junction_offsets(network, junctions, cycles, greens, config)
    return assemble_plan(network, junctions, cycles, greens, offsets, config)


_UNIT = {Heading.EAST: (1.0, 0.0), Heading.WEST: (-1.0, 0.0),
         Heading.NORTH: (0.0, 1.0), Heading.SOUTH: (0.0, -1.0)}


def junction_offsets(network: Network, junctions: list[Junction], cycle_s: FloatArray,
                     green_s: NDArray[np.float64], config: SignalSection) -> FloatArray:
    """Program offset per junction: zero, or a green wave along ``offsets.heading``.

    For a green wave the phase serving the heading (east-west for east and west) starts
    its effective green at ``d / v`` modulo the cycle, where ``d`` is the junction's
    distance along the heading from the first signalised junction and ``v`` the
    progression speed; the program offset is that instant minus the phase's effective
    start within the program.
    """
    offsets = np.zeros(len(junctions))
    params = config.offsets
    if params.mode == OffsetMode.NONE or not junctions:
        return offsets
    ux, uy = _UNIT[params.heading]
    nodes = np.array([j.node for j in junctions])
    along = network.x_m[nodes] * ux + network.y_m[nodes] * uy
    arrive = (along - along.min()) / (params.speed_kmh / 3.6)
    amber, all_red, startup, _ = config.intervals()
    phase = 0 if params.heading in (Heading.EAST, Heading.WEST) else 1
    program_start = startup if phase == 0 else green_s[:, 0] + amber + all_red + startup
    return np.asarray((arrive - program_start) % cycle_s, dtype=np.float64)
