"""One frozen pydantic model per scenario section, with defaults and units in the names.

Defaults cite their source (see ``../shared/DOMAIN.md``). Speeds are given in km/h and
flows in veh/h in YAML because that is how planners think; they are converted to SI once,
where the network and demand are built.
"""

from __future__ import annotations

import importlib.util
from enum import StrEnum
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

from v2x_sim.scenario import road_sections as _road_sections
from v2x_sim.scenario import signal_sections as _signal_sections
from v2x_sim.scenario.base import (
    MAX_HORIZON_S,
    MAX_RATE_VPH,
    LinkId,
    NodeId,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    Section,
)

# The road section moved to `road_sections`; its models stay importable from here.
CorridorParams = _road_sections.CorridorParams
DemoZoneParams = _road_sections.DemoZoneParams
GridParams = _road_sections.GridParams
NetworkFiles = _road_sections.NetworkFiles
RoadClassParams = _road_sections.RoadClassParams
RoadSection = _road_sections.RoadSection
SignalSection = _signal_sections.SignalSection


class VehicleKind(StrEnum):
    """Vehicle classes of the zone."""

    CAR = "car"
    TRUCK = "truck"
    SHUTTLE = "shuttle"
    DELIVERY = "delivery"
    VENDING = "vending"


class SimulationSection(Section):
    """Clock, seed and modelling switches."""

    horizon_s: Annotated[float, Field(strict=True, gt=0, le=MAX_HORIZON_S)] = 3600.0
    warmup_s: NonNegativeFloat = 0.0
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    deterministic: bool = Field(
        default=False,
        description="Replace every distribution by its mean (evenly spaced departures).",
    )
    moved_on_after_s: PositiveFloat = Field(
        default=300.0,
        description="A vehicle blocked this long at a link's end is moved on and counted "
        "(SUMO's time-to-teleport default is 300 s).",
    )

    drain: bool = Field(
        default=False,
        description="Stop demand at the horizon and run on until every vehicle has arrived "
        "(or drain_limit_s passes), so the slowest trips count in the statistics.",
    )
    drain_limit_s: Annotated[float, Field(strict=True, gt=0, le=MAX_HORIZON_S)] = Field(
        default=3600.0,
        description="With drain: the longest the run continues past the horizon.",
    )

    @field_validator("warmup_s")
    @classmethod
    def _warmup_inside_horizon(cls, warmup_s: float, info: ValidationInfo) -> float:
        horizon_s = info.data.get("horizon_s")
        if horizon_s is not None and warmup_s >= horizon_s:
            raise ValueError(f"must be shorter than horizon_s ({horizon_s:g})")
        return warmup_s

    @property
    def latest_end_s(self) -> float:
        """The latest the run can end: the horizon, plus ``drain_limit_s`` with drain."""
        return self.horizon_s + (self.drain_limit_s if self.drain else 0.0)


class ProfileStep(Section):
    """From ``from_s`` on, the base rate is multiplied by ``factor``."""

    from_s: NonNegativeFloat
    factor: NonNegativeFloat


Profile = list[ProfileStep]


RateVph = Annotated[float, Field(strict=True, ge=0, le=MAX_RATE_VPH)]


class RandomDemand(Section):
    """Random origin-destination pairs over the network with a total rate."""

    rate_vph: RateVph
    origins: list[NodeId] | None = None
    destinations: list[NodeId] | None = None
    profile: Profile | None = None


class FlowDemand(Section):
    """A fixed origin-destination flow."""

    origin: NodeId
    destination: NodeId
    rate_vph: RateVph
    vehicle_class: VehicleKind | None = None
    profile: Profile | None = None


class TripEntry(Section):
    """One explicit trip (as in a trip list file)."""

    depart_s: NonNegativeFloat
    origin: NodeId
    destination: NodeId
    vehicle_class: VehicleKind = VehicleKind.CAR
    connected: bool | None = None


class DemandSection(Section):
    """Trips: random OD, fixed flows, explicit trips and/or a trip file; all add up.

    Departures of random and flow demand are Poisson with the piecewise-constant rate
    ``rate_vph x profile factor`` (evenly spaced in deterministic mode).
    """

    random: RandomDemand | None = None
    flows: list[FlowDemand] = Field(default_factory=list)
    trips: list[TripEntry] = Field(default_factory=list)
    trips_file: str | None = None
    profile: Profile = Field(default_factory=lambda: [ProfileStep(from_s=0.0, factor=1.0)])


class VehicleClassParams(Section):
    """Behaviour of one vehicle class.

    ``compliance`` is the share of compliant drivers: each vehicle is drawn compliant
    or not once, at departure, and a compliant one follows every piece of route advice
    it can (with ``control.compliance_model: advice``, the probability of following
    each piece instead). Assumed defaults; a scenario parameter, not a measured fact.
    """

    share: Probability = 0.0
    connected_share: Probability = 0.25
    pce: PositiveFloat = 1.0
    compliance: Probability = 0.8


def _car() -> VehicleClassParams:
    # 5,859 connected vehicles among ~25,000 trips an hour: ~23 % penetration.
    return VehicleClassParams(share=0.9, connected_share=0.23, pce=1.0)


def _truck() -> VehicleClassParams:
    return VehicleClassParams(share=0.07, connected_share=0.2, pce=2.0)


class DeliveryParams(VehicleClassParams):
    """Unmanned delivery/vending vehicles: short trips with stops near the origin."""

    share: Probability = 0.03
    connected_share: Probability = 1.0
    stops: Annotated[int, Field(strict=True, ge=0, le=20)] = 2
    dwell_s: NonNegativeFloat = 60.0
    radius_m: PositiveFloat = 1500.0
    kerbside: bool = Field(
        default=True, description="Dwell at the kerb, closing one lane of the link "
        "stopped on for the dwell (false: off the road, blocking nothing).")


class VendingParams(VehicleClassParams):
    """Unmanned vending vehicles (always in service areas, never from random demand)."""

    share: Annotated[float, Field(strict=True, ge=0, le=0)] = 0.0
    connected_share: Probability = 1.0
    compliance: Probability = 0.0  # it cruises its area


class ShuttleParams(VehicleClassParams):
    """Autonomous shuttle buses (always on lines, never from random demand)."""

    share: Annotated[float, Field(strict=True, ge=0, le=0)] = 0.0
    connected_share: Probability = 1.0
    pce: PositiveFloat = 2.0
    compliance: Probability = 0.0  # a shuttle keeps its line


class Holding(StrEnum):
    """How a shuttle line holds its vehicles at stops (`traffic.shuttle`)."""

    NONE = "none"
    HEADWAY = "headway"
    TIMETABLE = "timetable"


class ShuttleLine(Section):
    """A fixed line served repeatedly: stop nodes in order, dwell at each.

    ``headway_s`` is the line's target headway (vehicle k first departs at
    ``first_departure_s + k * headway_s``); ``holding`` keeps it (`traffic.shuttle`).
    """

    name: str
    stops: Annotated[list[NodeId], Field(min_length=2)]
    vehicles: Annotated[int, Field(strict=True, ge=1)] = 1
    headway_s: PositiveFloat = 600.0
    first_departure_s: NonNegativeFloat = 0.0
    dwell_s: NonNegativeFloat = 30.0
    layover_s: NonNegativeFloat = 60.0
    holding: Holding = Field(
        default=Holding.HEADWAY, description="none; headway: leave a stop no earlier than "
        "the headway after the line's previous departure from it; timetable: no earlier "
        "than the scheduled time (capped by max_hold_s except at the first stop).")
    max_hold_s: NonNegativeFloat = Field(
        default=120.0, description="Longest hold beyond the dwell at a stop other than the "
        "first (the terminal, where rounds start, holds as long as needed).")
    running_time_factor: Annotated[float, Field(strict=True, ge=1, le=5)] = Field(
        default=1.2, description="Timetable running time between stops: free-flow time "
        "plus the mean wait for green of a random arrival at each signal, times this "
        "factor (plus the dwells).")
    bunching_share: Annotated[float, Field(strict=True, gt=0, lt=1)] = Field(
        default=0.5, description="A departure whose headway is below this share of "
        "headway_s is a bunching event.")
    on_time_early_s: NonNegativeFloat = Field(
        default=60.0, description="A departure up to this much before its scheduled time "
        "is on time.")
    on_time_late_s: NonNegativeFloat = Field(
        default=300.0, description="A departure up to this much after its scheduled time "
        "is on time.")


class ClassTable(Section):
    """Per-class parameters."""

    car: VehicleClassParams = Field(default_factory=_car)
    truck: VehicleClassParams = Field(default_factory=_truck)
    delivery: DeliveryParams = Field(default_factory=DeliveryParams)
    shuttle: ShuttleParams = Field(default_factory=ShuttleParams)
    vending: VendingParams = Field(default_factory=VendingParams)

    def params(self, kind: VehicleKind) -> VehicleClassParams:
        """Parameters of one class."""
        return getattr(self, kind.value)  # type: ignore[no-any-return]

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> ClassTable:
        total = self.car.share + self.truck.share + self.delivery.share
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"car.share + truck.share + delivery.share must sum to 1, got {total:g}"
            )
        return self


class TransitPriority(Section):
    """Transit signal priority for connected shuttles (`traffic.transit_priority`).

    A shuttle entering a signalised approach requests priority over PC5; the edge
    grants a green extension or an early green within these limits (needs ``v2x``).
    """

    enabled: bool = False
    max_extension_s: Annotated[float, Field(strict=True, ge=0, le=60)] = 10.0
    max_early_s: Annotated[float, Field(strict=True, ge=0, le=60)] = 10.0
    margin_s: Annotated[float, Field(strict=True, ge=0, le=10)] = Field(
        default=2.0, description="Green granted beyond the shuttle's expected arrival.")


class VendingArea(Section):
    """Unmanned vending vehicles serving one area (`traffic.vending`).

    The area: the non-expressway links with both ends within ``radius_m`` of ``centre``.
    People hail a vehicle as a Poisson process of ``hails_per_km_h`` per km of the
    area's roads and hour, at links drawn in proportion to their length.
    """

    name: str
    centre: NodeId
    radius_m: PositiveFloat = 800.0
    vehicles: Annotated[int, Field(strict=True, ge=1, le=50)] = 1
    speed_kmh: Annotated[float, Field(strict=True, gt=0, le=60)] = 15.0
    hails_per_km_h: Annotated[float, Field(strict=True, ge=0, le=1000)] = 2.0
    sale_s: PositiveFloat = 90.0
    patience_s: PositiveFloat = 600.0
    start_s: NonNegativeFloat = 0.0


class VehiclesSection(Section):
    """Vehicle classes, shuttle lines and their signal priority."""

    classes: ClassTable = Field(default_factory=ClassTable)
    shuttle_lines: list[ShuttleLine] = Field(default_factory=list)
    transit_priority: TransitPriority = Field(default_factory=TransitPriority)
    vending: list[VendingArea] = Field(default_factory=list)


class IncidentEntry(Section):
    """A lane closure and/or speed cap on one link for a time window."""

    link: LinkId
    start_s: NonNegativeFloat
    end_s: PositiveFloat
    lanes_closed: Annotated[int, Field(strict=True, ge=0)] = 1
    position_m: NonNegativeFloat | None = Field(
        default=None, description="Where along the link the hazard (a work zone's upstream "
        "end) is; default: its end, or length_m before it.")
    length_m: NonNegativeFloat = Field(
        default=0.0, description="Length of the work zone: the closed lanes hold no "
        "vehicles over it (0: a point).")
    speed_cap_kmh: PositiveFloat | None = None
    capacity_factor: Annotated[float, Field(strict=True, gt=0, le=1)] = 1.0

    @field_validator("end_s")
    @classmethod
    def _ends_after_start(cls, end_s: float, info: ValidationInfo) -> float:
        start_s = info.data.get("start_s")
        if start_s is not None and end_s <= start_s:
            raise ValueError(f"must be after start_s ({start_s:g})")
        return end_s


MIN_LINK_BIN_S = 1.0
"""Shortest link time bin: finer bins add rows, not information (the traffic model
moves vehicles link by link)."""
MAX_LINK_BINS = 10_000
"""Most time bins per link in ``links.csv`` (30 days at 300 s bins is 8,640)."""


class OutputFormat(StrEnum):
    """File format of a run's tables (``summary.json`` and ``scenario.yaml`` stay text)."""

    CSV = "csv"
    PARQUET = "parquet"


class OutputSection(Section):
    """Where and how results are written.

    ``link_bin_s`` is at least `MIN_LINK_BIN_S` and at least ``v2x.tick_s`` when the V2X
    model runs, and the horizon holds at most `MAX_LINK_BINS` of them (checked by the
    scenario), so the size of ``links.csv`` stays bounded. ``format: parquet`` writes
    every table as ``<name>.parquet`` instead of ``<name>.csv`` (needs pyarrow, checked
    when the scenario is loaded, not after the run).
    """

    dir: str | None = None
    link_bin_s: Annotated[float, Field(strict=True, ge=MIN_LINK_BIN_S)] = 300.0
    congested_speed_ratio: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.5
    format: OutputFormat = OutputFormat.CSV

    @field_validator("format")
    @classmethod
    def _parquet_needs_pyarrow(cls, value: OutputFormat) -> OutputFormat:
        if value == OutputFormat.PARQUET and importlib.util.find_spec("pyarrow") is None:
            raise ValueError("Parquet needs pyarrow: pip install 'v2x-sim[parquet]' (or "
                             "write CSV: output.format = csv)")
        return value
