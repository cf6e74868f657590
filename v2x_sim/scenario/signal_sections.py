"""Scenario section for signal plans: fixed, Webster or from a file; amber, all-red, offsets.

Timing defaults and where they come from:

- ``amber_s`` 4 s: ITE change interval y = t + v / (2 a) = 1 + 13.9 / (2 x 3.05) = 3.3 s at
  50 km/h, rounded up to the common 4 s.
- ``all_red_s`` 1 s: a typical red clearance for a 20 m junction at 50 km/h.
- ``startup_lost_s`` 2 s: HCM 2010 default start-up lost time l1.
- ``amber_usable_share`` 0.5: HCM's extension of effective green into the change interval
  is e = 2 s; 2 s of a 4 s amber.

With these, each phase loses l1 + amber + all-red - usable amber = 2 + 4 + 1 - 2 = 5 s, so
a two-phase junction loses 10 s a cycle, as the first build's ``lost_time_s: 10`` did.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from v2x_sim.scenario.base import NonNegativeFloat, PositiveFloat, Probability, Section

PHASES = 2
"""Phases per junction: approaches are grouped by heading, east-west and north-south."""


class SignalPlanKind(StrEnum):
    """Where a junction's timing comes from."""

    FIXED = "fixed"
    WEBSTER = "webster"
    FILE = "file"


class OffsetMode(StrEnum):
    """How the cycles of neighbouring junctions are aligned."""

    NONE = "none"
    GREEN_WAVE = "green_wave"


class Heading(StrEnum):
    """Direction of travel a green wave serves."""

    EAST = "east"
    WEST = "west"
    NORTH = "north"
    SOUTH = "south"


class WebsterParams(Section):
    """Bounds on Webster's optimum cycle C0 = (1.5 L + 5) / (1 - Y).

    ``min_green_s`` is a displayed green; a phase whose share of ``C - L`` would fall
    below it gets it, the others share the rest in proportion to their flow ratios.
    Oversaturated junctions (Y >= 1, where the formula has no finite answer) get
    ``max_cycle_s``.
    """

    min_cycle_s: PositiveFloat = 40.0
    max_cycle_s: PositiveFloat = 120.0  # HCM: cycles beyond 120-150 s rarely pay off
    min_green_s: PositiveFloat = 7.0

    @model_validator(mode="after")
    def _ordered(self) -> WebsterParams:
        if self.min_cycle_s >= self.max_cycle_s:
            raise ValueError("min_cycle_s must be shorter than max_cycle_s")
        return self


class OffsetParams(Section):
    """Offsets between junctions.

    ``green_wave``: the phase serving ``heading`` starts its effective green at
    ``d / speed`` (modulo the cycle) at every junction, ``d`` being the junction's
    distance along ``heading`` from the first signalised junction, so a platoon
    travelling at ``speed_kmh`` meets green everywhere. The opposite direction is not
    coordinated. With Webster plans every junction then runs the longest Webster cycle
    (a wave needs one common cycle), keeping its own splits.
    """

    mode: OffsetMode = OffsetMode.NONE
    heading: Heading = Heading.EAST
    speed_kmh: PositiveFloat = 50.0


class SignalSection(Section):
    """Signals at arterial junctions (never on the expressway).

    At a junction with at least ``min_approaches`` incoming links, none of them
    expressway, approaches are grouped into two phases by heading (east-west first,
    then north-south). Each phase shows green, then ``amber_s``, then ``all_red_s``.
    Vehicles may leave during the *effective* green: from ``startup_lost_s`` after the
    green starts until ``amber_usable_share`` of the amber has passed, at the
    saturation headway.

    ``plan``: ``fixed`` gives every junction ``cycle_s`` with equal greens; ``webster``
    sizes each junction's cycle and splits from the demand (see `WebsterParams`);
    ``file`` reads ``file`` (one row per signalised approach link). ``lost_time_s`` is
    the first build's parameter: when set, it replaces amber, all-red and start-up loss
    by an all-red of ``lost_time_s / 2`` per phase (the old plan, exactly).
    """

    enabled: bool = True
    plan: SignalPlanKind = SignalPlanKind.FIXED
    cycle_s: PositiveFloat = 90.0
    amber_s: NonNegativeFloat = 4.0
    all_red_s: NonNegativeFloat = 1.0
    startup_lost_s: NonNegativeFloat = 2.0
    amber_usable_share: Probability = 0.5
    lost_time_s: NonNegativeFloat | None = None
    min_approaches: Annotated[int, Field(strict=True, ge=2)] = 3
    webster: WebsterParams = Field(default_factory=WebsterParams)
    offsets: OffsetParams = Field(default_factory=OffsetParams)
    file: str | None = None

    def intervals(self) -> tuple[float, float, float, float]:
        """``(amber_s, all_red_s, startup_lost_s, amber_used_s)`` of every phase."""
        if self.lost_time_s is not None:
            return 0.0, self.lost_time_s / PHASES, 0.0, 0.0
        return (self.amber_s, self.all_red_s, self.startup_lost_s,
                self.amber_s * self.amber_usable_share)

    def lost_per_phase_s(self) -> float:
        """Time a phase loses: start-up loss + amber + all-red - usable amber."""
        amber, all_red, startup, used = self.intervals()
        return startup + amber + all_red - used

    @model_validator(mode="after")
    def _timings_fit(self) -> SignalSection:
        amber, all_red, startup, used = self.intervals()
        if self.lost_time_s is not None and self.lost_time_s >= self.cycle_s:
            raise ValueError("lost_time_s must be shorter than cycle_s")
        if self.plan == SignalPlanKind.FIXED:
            green = self.cycle_s / PHASES - amber - all_red
            if green - startup + used <= 0.0:
                raise ValueError(
                    f"cycle_s {self.cycle_s:g} leaves no effective green: each of the "
                    f"{PHASES} phases needs more than amber + all-red + startup_lost_s - "
                    f"usable amber = {amber + all_red + startup - used:g} s")
        if self.plan == SignalPlanKind.WEBSTER:
            if self.webster.min_green_s - startup + used <= 0.0:
                raise ValueError("webster.min_green_s must exceed startup_lost_s minus the "
                                 "usable amber (its effective green would be empty)")
            needed = PHASES * (self.webster.min_green_s + amber + all_red)
            if self.webster.max_cycle_s < needed:
                raise ValueError(f"webster.max_cycle_s must fit {PHASES} minimum greens "
                                 f"with their amber and all-red ({needed:g} s)")
        if self.plan == SignalPlanKind.FILE:
            if self.file is None:
                raise ValueError("plan 'file' needs file: signals.csv")
            if self.offsets.mode != OffsetMode.NONE:
                raise ValueError("a plan from a file carries its own offsets (offset_s "
                                 "column); leave offsets.mode at 'none'")
        return self
