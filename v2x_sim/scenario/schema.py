"""The scenario: one validated, immutable description of everything a run needs."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, model_validator

from v2x_sim._core.errors import ScenarioError
from v2x_sim.scenario.fault_sections import FaultWindow
from v2x_sim.scenario.road_sections import RoadSection
from v2x_sim.scenario.routing_section import RoutingSection
from v2x_sim.scenario.sections import (
    MAX_LINK_BINS,
    DemandSection,
    IncidentEntry,
    OutputSection,
    Section,
    SimulationSection,
    VehiclesSection,
)
from v2x_sim.scenario.v2x_sections import (
    ChannelsSection,
    CloudSection,
    ControlSection,
    EdgeSection,
    MessagesSection,
    RoadsideSection,
    SweepSection,
    V2XSection,
)

SCALE_MIN = 0.25
"""Smallest ``scale`` accepted: a quarter of the scenario."""
SCALE_MAX = 4.0
"""Largest ``scale`` accepted: four times the scenario (the zone grows with it)."""


class Scenario(Section):
    """A complete scenario. Build it with `v2x_sim.load_scenario` or from a dict.

    Relative file paths inside it (network CSVs, trip files) are resolved against
    ``base_dir``, the folder of the YAML it came from.
    """

    name: str = "scenario"
    description: str = ""
    v2x_sim_version: str | None = Field(
        default=None, description="Written into resolved scenarios by results; informational."
    )
    scale: Annotated[float, Field(strict=True, ge=SCALE_MIN, le=SCALE_MAX)] = Field(
        default=1.0, description="Grow or shrink the scenario: demand rates, devices placed "
        "by count (by spacing on a fixed network) and, for the demo_zone generator, the "
        "zone's area, times this factor (0.25 to 4). Edge nodes, the cloud, listed trips "
        "and shuttle lines stay as they are.")
    simulation: SimulationSection = Field(default_factory=SimulationSection)
    road: RoadSection = Field(default_factory=RoadSection)
    demand: DemandSection = Field(default_factory=DemandSection)
    vehicles: VehiclesSection = Field(default_factory=VehiclesSection)
    incidents: list[IncidentEntry] = Field(default_factory=list)
    routing: RoutingSection = Field(default_factory=RoutingSection)
    v2x: V2XSection = Field(default_factory=V2XSection)
    control: ControlSection = Field(default_factory=ControlSection)
    sweep: SweepSection | None = None
    roadside: RoadsideSection = Field(default_factory=RoadsideSection)
    channels: ChannelsSection = Field(default_factory=ChannelsSection)
    edge: EdgeSection = Field(default_factory=EdgeSection)
    cloud: CloudSection = Field(default_factory=CloudSection)
    messages: MessagesSection = Field(default_factory=MessagesSection)
    faults: list[FaultWindow] = Field(
        default_factory=list, description="Timed windows in which RSUs, sensors, edge nodes, "
        "the cloud, backhaul, WAN or the cellular link fail (see fault_sections).")
    output: OutputSection = Field(default_factory=OutputSection)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _applied_scale: float = PrivateAttr(default=1.0)

    @model_validator(mode="after")
    def _faults_need_v2x(self) -> Scenario:
        if self.faults and not self.v2x.enabled:
            raise ScenarioError("faults", f"{len(self.faults)} windows", "faults act on the "
                                "V2X model's messages: set v2x.enabled: true")
        return self

    @model_validator(mode="after")
    def _link_bins_bounded(self) -> Scenario:
        bin_s = self.output.link_bin_s
        if self.v2x.enabled and bin_s < self.v2x.tick_s:
            raise ScenarioError("output.link_bin_s", bin_s, f"must be at least v2x.tick_s "
                                f"({self.v2x.tick_s:g} s): link series are not finer than "
                                "the flows' windows")
        end_s = self.simulation.latest_end_s
        bins = math.ceil(end_s / bin_s)
        if bins > MAX_LINK_BINS:
            what = "horizon" if end_s == self.simulation.horizon_s else "horizon and drain"
            raise ScenarioError("output.link_bin_s", bin_s, f"gives {bins:,} bins over the "
                                f"{end_s:g} s {what}; at most "
                                f"{MAX_LINK_BINS:,} per link: use at least "
                                f"{end_s / MAX_LINK_BINS:g} s")
        return self

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in this scenario are resolved against."""
        return self._base_dir

    def resolve_path(self, relative: str) -> Path:
        """A path from the scenario, resolved against its folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self._base_dir / path

    def with_base_dir(self, base_dir: Path) -> Scenario:
        """The same scenario resolving relative paths against ``base_dir``."""
        copy = self.model_copy()
        # absolute, so paths resolved from it (and written into results) stay valid
        # wherever the working directory is later
        copy._base_dir = Path(os.path.abspath(base_dir))
        return copy

    def to_plain(self) -> dict[str, Any]:
        """A JSON/YAML-friendly dict of every field, defaults included."""
        return self.model_dump(mode="json")
