"""Scenario section for the routes drivers take before any advice: their habits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from v2x_sim.scenario.base import PositiveFloat, Section


class Background(StrEnum):
    """How drivers choose their departure route."""

    FREE_FLOW = "free_flow"
    EQUILIBRIUM = "equilibrium"
    FILE = "file"


class EquilibriumParams(Section):
    """Day-to-day habitual routes by the method of successive averages (MSA).

    Each *day* simulates the scenario without incidents, V2X or rerouting, with every
    trip drawing its path from its origin-destination pair's path shares in its
    departure interval (``interval_s``). After a day, each pair's best path under the
    day's time-dependent link travel times (binned by entry time, ``cost_bin_s``) joins
    its path set, and the shares move towards it by 1 / (day + 1). ``iterations`` days
    are simulated, fewer when the relative gap falls to ``gap_tolerance``.
    """

    iterations: Annotated[int, Field(strict=True, ge=1, le=200)] = 12
    gap_tolerance: Annotated[float, Field(strict=True, ge=0, lt=1)] = 0.01
    interval_s: PositiveFloat = 900.0
    cost_bin_s: PositiveFloat = 300.0


class RouteFiles(Section):
    """Habitual routes from files (paths relative to the YAML).

    ``routes``: ``origin, destination, from_s, to_s, share, links`` (links as
    space-separated link ids). ``link_times`` (optional): ``link, t_start_s, t_end_s,
    travel_time_s``; pairs without routes take the best path on these times, or the
    free-flow shortest path when none are given.
    """

    routes: str
    link_times: str | None = None


class RoutingSection(Section):
    """Departure routes of every trip (advice may change them later).

    ``free_flow``: the free-flow shortest path, as if drivers had never driven here.
    ``equilibrium``: habitual routes of drivers who know the city's usual congestion,
    computed once per scenario and cached (``cache_dir``, default the ``V2X_SIM_CACHE``
    environment variable or ``~/.cache/v2x-sim``; ``cache: false`` recomputes).
    ``file``: routes read from ``file``.
    """

    background: Background = Background.FREE_FLOW
    equilibrium: EquilibriumParams = Field(default_factory=EquilibriumParams)
    file: RouteFiles | None = None
    cache: bool = True
    cache_dir: str | None = None

    @model_validator(mode="after")
    def _file_given(self) -> RoutingSection:
        if self.background == Background.FILE and self.file is None:
            raise ValueError("background 'file' needs file: {routes: routes.csv}")
        return self
