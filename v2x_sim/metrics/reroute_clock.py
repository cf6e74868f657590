"""Per incident: how long until advice, and a driver, first took a way around it.

The clock of an incident starts when the incident starts (not when the platform learns
of it: the measurement is the whole chain, detection included) and stops at its end.
Advice *counts* for an incident when it would move a vehicle whose remaining route runs
through the incident's link onto one that does not; the first such advice sent gives
``first_advice_s``, the first such advice a driver followed ``first_reroute_s``. Any
other reroute (around congestion elsewhere, or after a queue-tail warning) is not a
reaction to this incident and leaves its clock running.

Plain numbers only (link indices, seconds): the control loop reports advice through
`RerouteClocks.advised` and `RerouteClocks.followed`; the world starts and stops clocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class IncidentClock:
    """One incident's timeline (seconds of simulated time; NaN: never happened)."""

    link: int
    start_s: float
    end_s: float = math.inf
    first_advice_s: float = math.nan
    first_reroute_s: float = math.nan

    def time_to_first_advice_s(self) -> float:
        """From the incident's start to the first advice around it (NaN: none)."""
        return self.first_advice_s - self.start_s

    def time_to_first_reroute_s(self) -> float:
        """From the incident's start to the first followed advice around it (NaN: none)."""
        return self.first_reroute_s - self.start_s


class RerouteClocks:
    """The clocks of every incident of a run, in start order."""

    def __init__(self) -> None:
        self.clocks: list[IncidentClock] = []

    def start(self, link: int, now_s: float) -> None:
        """An incident starts on ``link`` now."""
        self.clocks.append(IncidentClock(link=link, start_s=now_s))

    def end(self, link: int, now_s: float) -> None:
        """The (earliest still running) incident on ``link`` ends now."""
        for clock in self.clocks:
            if clock.link == link and math.isinf(clock.end_s):
                clock.end_s = now_s
                return

    def waiting(self, now_s: float, *, followed: bool) -> list[IncidentClock]:
        """Active incidents still without a first advice (or a first followed one)."""
        return [c for c in self.clocks if c.start_s <= now_s < c.end_s
                and math.isnan(c.first_reroute_s if followed else c.first_advice_s)]

    def advised(self, now_s: float, old_routes: Sequence[Sequence[int]],
                new_routes: Sequence[Sequence[int]]) -> None:
        """Advice sent now: per vehicle its remaining route and the advised one."""
        for clock in self.waiting(now_s, followed=False):
            if _moves_off(clock.link, old_routes, new_routes):
                clock.first_advice_s = now_s

    def followed(self, now_s: float, old_route: Sequence[int], new_route: Sequence[int]) -> None:
        """A driver switched now from ``old_route`` to ``new_route`` (links still ahead)."""
        for clock in self.waiting(now_s, followed=True):
            if _moves_off(clock.link, [old_route], [new_route]):
                clock.first_reroute_s = now_s


def _moves_off(link: int, old_routes: Sequence[Sequence[int]],
               new_routes: Sequence[Sequence[int]]) -> bool:
    """Does any vehicle leave a route through ``link`` for one avoiding it?"""
    return any(link in old and link not in new
               for old, new in zip(old_routes, new_routes, strict=True))
