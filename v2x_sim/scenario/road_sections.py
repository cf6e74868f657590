"""The ``road`` section: which network to build (generators or files) and how links behave.

Defaults cite their source (see ``../shared/DOMAIN.md``); speeds in km/h and flows in
veh/h per lane, converted to SI once, where the network is built.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from v2x_sim.scenario.base import (
    PositiveFloat,
    Section,
)
from v2x_sim.scenario.signal_sections import SignalSection


class RoadClassParams(Section):
    """Geometry and capacity of one road class in a generated network."""

    lanes: Annotated[int, Field(strict=True, ge=1, le=8)]
    free_speed_kmh: PositiveFloat
    capacity_vph_per_lane: PositiveFloat
    jam_density_vpkm_per_lane: PositiveFloat = 140.0  # ~7.1 m per vehicle (SUMO 7.5 m)


def _arterial() -> RoadClassParams:
    # Urban arterial: 1,800 veh/h/lane (HCM), 50 km/h.
    return RoadClassParams(lanes=2, free_speed_kmh=50.0, capacity_vph_per_lane=1800.0)


def _expressway() -> RoadClassParams:
    # Expressway: 2,200 veh/h/lane (HCM), 100 km/h.
    return RoadClassParams(lanes=3, free_speed_kmh=100.0, capacity_vph_per_lane=2200.0)


def _ramp() -> RoadClassParams:
    return RoadClassParams(lanes=1, free_speed_kmh=60.0, capacity_vph_per_lane=1800.0)


def _urban_expressway() -> RoadClassParams:
    # Urban expressway inside the zone: 80 km/h, 2,200 veh/h/lane (HCM).
    return RoadClassParams(lanes=3, free_speed_kmh=80.0, capacity_vph_per_lane=2200.0)


def _interchange_ramp() -> RoadClassParams:
    # Two-lane ramps: single-lane ramps starve the spine's interchanges at zone demand.
    return RoadClassParams(lanes=2, free_speed_kmh=60.0, capacity_vph_per_lane=1800.0)


class GridParams(Section):
    """A rows x cols arterial grid, two-way links; node id = row * cols + col."""

    rows: Annotated[int, Field(strict=True, ge=1, le=200)] = 5
    cols: Annotated[int, Field(strict=True, ge=1, le=200)] = 5
    spacing_m: PositiveFloat = 500.0
    arterial: RoadClassParams = Field(default_factory=_arterial)

    @model_validator(mode="after")
    def _at_least_two_nodes(self) -> GridParams:
        if self.rows * self.cols < 2:
            raise ValueError("a grid needs at least two nodes (rows * cols >= 2)")
        return self


class CorridorParams(Section):
    """An expressway with a parallel arterial and connectors, both directions.

    Expressway nodes are ``0..segments``, arterial nodes ``segments+1..2*segments+1``
    (arterial node ``segments+1+i`` lies beside expressway node ``i``).
    """

    segments: Annotated[int, Field(strict=True, ge=1, le=200)] = 6
    segment_length_m: PositiveFloat = 1000.0
    offset_m: PositiveFloat = 600.0
    expressway: RoadClassParams = Field(default_factory=_expressway)
    arterial: RoadClassParams = Field(default_factory=_arterial)
    connector: RoadClassParams = Field(default_factory=_ramp)


class DemoZoneParams(Section):
    """The zone: an arterial grid with an expressway spine through its middle.

    The defaults give about 200 km of road counting both directions, like the real
    zone. ``scale`` multiplies rows and columns (by its square root) to grow or shrink it.
    """

    rows: Annotated[int, Field(strict=True, ge=2, le=200)] = 7
    cols: Annotated[int, Field(strict=True, ge=2, le=200)] = 11
    spacing_m: PositiveFloat = 700.0
    interchange_every: Annotated[int, Field(strict=True, ge=1)] = 2
    scale: PositiveFloat = 1.0
    arterial: RoadClassParams = Field(default_factory=_arterial)
    expressway: RoadClassParams = Field(default_factory=_urban_expressway)
    ramp: RoadClassParams = Field(default_factory=_interchange_ramp)


class NetworkFiles(Section):
    """A network read from files (paths relative to the YAML).

    Either ``nodes`` and ``links`` (``nodes.csv`` and ``links.csv``, as the importers
    write them) or ``network``: the ``network.csv`` of an earlier run. ``connections``:
    the movements allowed at nodes (`v2x_sim.road.connections`): ``auto`` reads a
    ``connections.csv`` beside the links file when there is one, a path reads that
    file, null none.
    """

    nodes: str | None = None
    links: str | None = None
    network: str | None = None
    connections: str | None = Field(
        default="auto", description="Movements allowed at nodes (turn restrictions and "
        "lanes per movement): auto (connections.csv beside the links file, if any), a "
        "path, or null (every movement allowed, lanes from geometry).")

    @model_validator(mode="after")
    def _one_source(self) -> NetworkFiles:
        pair = self.nodes is not None and self.links is not None
        if self.network is not None and (self.nodes is not None or self.links is not None):
            raise ValueError("give either nodes and links, or network, not both")
        if self.network is None and not pair:
            raise ValueError("needs nodes and links (nodes.csv, links.csv), or network "
                             "(a run's network.csv)")
        return self


class RoadSection(Section):
    """Which network to build, and how links behave."""

    generator: Literal["grid", "corridor", "demo_zone", "file"] = "grid"
    grid: GridParams = Field(default_factory=GridParams)
    corridor: CorridorParams = Field(default_factory=CorridorParams)
    demo_zone: DemoZoneParams = Field(default_factory=DemoZoneParams)
    file: NetworkFiles | None = None
    fundamental_diagram: Literal["triangular", "greenshields"] = "triangular"
    signals: SignalSection = Field(default_factory=SignalSection)
    u_turns: Literal["dead_ends", "anywhere"] = Field(
        default="dead_ends", description="Where vehicles may turn back onto the road they "
        "came by: only at dead ends, or anywhere (as before).")

    @model_validator(mode="after")
    def _file_given(self) -> RoadSection:
        if self.generator == "file" and self.file is None:
            raise ValueError("generator 'file' needs file: {nodes: ..., links: ...} or "
                             "file: {network: ...}")
        return self
